"""Audio fingerprints: Chromaprint's raw 32-bit items of audio decoded in-process by FFmpeg.

Decoding runs in this process through PyAV (the FFmpeg libraries it bundles):
the file is probed once for its audio stream and declared duration, then an
FFmpeg filter graph reads, decodes and resamples it to 16-bit mono PCM at
11025 Hz (Chromaprint's working rate) and hands it over in chunks of ~6 s,
which are fed to Chromaprint as they come and kept for the landmarks (at
most ``max_seconds`` of 16-bit samples: 238 MB for 3 hours, turned into floats chunk by
chunk as the landmarks need them, so a film stays within the sandbox's memory budget).
The resampler runs with the options ``fpcalc`` gives swresample (its
"compatible mode"), so the items equal ``fpcalc``'s on the same decoder.
Starting an ``ffmpeg`` process per file cost about as much as the decode of a
short clip; this path costs a probe and a graph.

Bounds: at most ``max_seconds`` of audio are decoded, and the decode stops
with :class:`Unfingerprintable` once ``timeout_s`` has passed (checked between
chunks; a single call that hangs inside FFmpeg is the sandbox's to kill, see
:mod:`tanba.fingerprint.sandbox`). Only local files are opened (protocol ``file``)
and only the container formats of :data:`CONTAINERS` are demuxed: playlists
and manifests (HLS, DASH, ffconcat) name other files and URLs for FFmpeg to
open, and are refused here as well as by :mod:`tanba.fingerprint.sniff`.

The raw items (one every ~0.124 s) are kept rather than the compressed string
so the matcher can align an excerpt against a whole track. The same PCM also
gives the print's spectral-peak landmarks (:mod:`tanba.fingerprint.landmarks`), which
find short excerpts under a voice where the items alone cannot.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import av
import av.filter
import chromaprint
import numpy as np

from tanba.core.signals.audio import CHROMAPRINT, ITEM_S, AudioPrint
from tanba.core.signals.audio import RATE as SAMPLE_RATE
from tanba.fingerprint import landmarks
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.mp3 import is_truncated_mp3

ALGORITHM = CHROMAPRINT
_MIN_SECONDS = 2.0
# A file shorter than this share of its declared duration is called truncated.
_TRUNCATED_SHARE = 0.9
# Container formats (FFmpeg demuxer names) that may be opened: audio and the video
# containers that carry it. Not on the list on purpose: playlists and manifests (hls,
# dash, concat), image sequences (image2) and raw formats a random file probes as.
CONTAINERS = (
    "aac", "ac3", "aiff", "amr", "amrnb", "amrwb", "ape", "asf", "au", "avi", "caf", "dsf",
    "dts", "eac3", "flac", "flv", "loas", "matroska", "mov", "mp3", "mpc", "mpc8", "mpeg",
    "mpegts", "ogg", "rm", "shn", "tak", "truehd", "tta", "voc", "w64", "wav", "wv", "xwma",
)  # fmt: skip
# FFmpeg options of every file opened: local files only, listed containers only.
_OPEN_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(CONTAINERS)}
# fpcalc's swresample settings (Chromaprint's FFmpegAudioProcessor::SetCompatibleMode).
_RESAMPLER = "resampler=swr:filter_size=16:phase_shift=8:linear_interp=1:cutoff=0.8"
_CHUNK_SAMPLES = 1 << 16  # ~5.9 s at 11025 Hz between two deadline checks


class PcmSource(Protocol):
    """Where the 16-bit mono 11025 Hz PCM of one audio stream comes from, in chunks."""

    def chunks(self) -> Iterator[bytes]:
        """The PCM in order (s16 native-endian); raises :class:`av.FFmpegError` on bad data."""
        ...


class FilterGraphSource:
    """The fast source: FFmpeg reads, decodes and resamples in one filter graph (``amovie``).

    Python sees one chunk per ~6 s of audio instead of one object per packet and
    frame, which is what makes the in-process decode as fast as ``fpcalc``. The
    catch: ``amovie`` stops at the first packet the decoder rejects, where the
    ``ffmpeg`` command skips it, so a damaged file is decoded again by
    :class:`PacketLoopSource`.
    """

    def __init__(self, path: Path, start_s: float | None = None) -> None:
        self.path = path
        self.start_s = start_s  # samples stamped before it are dropped (see audio_print)

    def chunks(self) -> Iterator[bytes]:
        graph = av.filter.Graph()
        source = graph.add(
            "amovie",
            filename=_url(self.path),
            format_opts=":".join(f"{k}={v}" for k, v in _OPEN_OPTIONS.items()),
            dec_threads="1",
        )
        sink = _resampling_chain(graph, source, self.start_s)
        while True:
            try:
                frame = sink.pull()
            except av.EOFError:
                return
            yield _pcm(frame)


class PacketLoopSource:
    """The plain source: demux and decode packet by packet, skipping packets the decoder rejects.

    This is what the ``ffmpeg`` command does with a damaged file, at the price
    of Python work per packet (about twice ``fpcalc``'s time on MP3).
    """

    def __init__(self, path: Path, timeout_s: float, start_s: float | None = None) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.start_s = start_s
        self.rejected = 0  # packets the decoder refused
        self.last_error = ""

    def chunks(self) -> Iterator[bytes]:
        with _open(self.path, self.timeout_s) as container:
            stream = container.streams.best("audio")
            if not isinstance(stream, av.AudioStream):
                return
            graph = av.filter.Graph()
            sink = _resampling_chain(graph, graph.add_abuffer(template=stream), self.start_s)
            for packet in container.demux(stream):
                try:
                    frames = stream.decode(packet)
                except av.FFmpegError as exc:
                    self.rejected += 1
                    self.last_error = _reason(exc)
                    continue
                for frame in frames:
                    graph.push(frame)
                yield from _drain(sink)
            graph.push(None)
            yield from _drain(sink)


def audio_print(
    path: Path, *, max_seconds: int, timeout_s: float, start_s: float | None = None
) -> AudioPrint:
    """Fingerprint the audio in ``path`` (any container of :data:`CONTAINERS`, video included).

    ``start_s`` (a video's soundtrack: its picture's first presentation time, in the
    container's timestamps) drops the samples stamped before it, so the sound counts
    from the instant the picture does. Why: a container without an edit list (a
    fragmented MP4, as streamed; MPEG-TS) keeps the AAC encoder's priming samples (1,024,
    47 ms at 22,050 Hz) before the first picture, where a plain MP4's edit list trims
    them, so the same soundtrack started 47 ms later in the one than in the other.

    :class:`Unfingerprintable` when the file has no audio stream, does not
    decode, decodes to less than 2 s, is cut short of its declared duration,
    or takes longer than ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    too_slow = Unfingerprintable(
        f"decoding took longer than {timeout_s:.0f} s (TANBA_DECODE_TIMEOUT_S); stopped"
    )
    if _looks_like_mp3(path) and is_truncated_mp3(path.read_bytes()):
        raise Unfingerprintable("audio is truncated: the last MP3 frame is cut off")
    declared = _probe(path, timeout_s, too_slow)
    limit = max_seconds * SAMPLE_RATE
    try:
        items, pcm = _fingerprint(FilterGraphSource(path, start_s), limit, deadline, too_slow)
    except av.FFmpegError:
        # A packet the decoder rejects stops the graph: decode again, skipping such packets.
        plain = PacketLoopSource(path, max(deadline - time.monotonic(), 0.0), start_s)
        try:
            items, pcm = _fingerprint(plain, limit, deadline, too_slow)
        except av.ExitError:  # PyAV's own timeout on reading
            raise too_slow from None
        except av.FFmpegError as exc:
            raise Unfingerprintable(f"not decodable as audio: {_reason(exc)}") from None
        if not pcm and plain.rejected:
            raise Unfingerprintable(f"not decodable as audio: {plain.last_error}") from None
    seconds = sum(len(chunk) for chunk in pcm) / 2 / SAMPLE_RATE
    if seconds < _MIN_SECONDS:
        raise Unfingerprintable(
            f"only {seconds:.1f} s of audio decoded; at least {_MIN_SECONDS:.0f} s are needed"
        )
    if declared and seconds < min(declared, max_seconds) * _TRUNCATED_SHARE:
        raise Unfingerprintable(
            f"audio is truncated: its header declares {declared:.1f} s "
            f"but only {seconds:.1f} s decode"
        )
    if not items:
        raise Unfingerprintable("Chromaprint produced no fingerprint (silence?)")
    marks = landmarks.from_pcm16(pcm)
    return AudioPrint.from_items(
        ALGORITHM, seconds, ITEM_S, np.array(items, dtype=np.int64) & 0xFFFFFFFF
    ).model_copy(update={"landmarks": landmarks.ALGORITHM, "landmarks_b64": marks.pack()})


def _probe(path: Path, timeout_s: float, too_slow: Unfingerprintable) -> float | None:
    """The duration the container declares (None when it declares none); refuses non-audio."""
    try:
        with _open(path, timeout_s) as container:
            if container.streams.best("audio") is None:
                raise Unfingerprintable("the file has no audio stream")
            duration = container.duration  # microseconds (AV_TIME_BASE), or None
    except av.ExitError:  # PyAV's timeout interrupted the probe
        raise too_slow from None
    except av.FFmpegError as exc:
        raise Unfingerprintable(f"not decodable as audio: {_reason(exc)}") from None
    return duration / 1_000_000 if duration and duration > 0 else None


def _fingerprint(
    source: PcmSource, limit: int, deadline: float, too_slow: Unfingerprintable
) -> tuple[list[int], list[bytes]]:
    """Chromaprint's items of the first ``limit`` samples of ``source``, and those samples.

    The PCM is kept (at most ``limit`` samples, 2 bytes each) for the landmarks.
    """
    fingerprinter = chromaprint.Fingerprinter()
    fingerprinter.start(SAMPLE_RATE, 1)
    samples = 0
    kept = []
    for chunk in source.chunks():
        if time.monotonic() > deadline:
            raise too_slow
        chunk = chunk[: 2 * (limit - samples)]
        fingerprinter.feed(chunk)
        kept.append(chunk)
        samples += len(chunk) // 2
        if samples >= limit:
            break
    items, _algorithm = chromaprint.decode_fingerprint(fingerprinter.finish())
    return items, kept


def _resampling_chain(
    graph: av.filter.Graph, source: av.filter.FilterContext, start_s: float | None = None
) -> av.filter.FilterContext:
    """Link ``source`` through fpcalc's resampler to a sink of s16 mono 11025 Hz chunks;
    with ``start_s``, the samples stamped before it are dropped first (``atrim`` reads the
    decoded frames' timestamps, which both sources keep in the stream's own times)."""
    sink = graph.add("abuffersink")
    trim = [] if start_s is None else [graph.add("atrim", f"start={start_s:.6f}")]
    graph.link_nodes(
        source,
        *trim,
        graph.add("aresample", f"{SAMPLE_RATE}:{_RESAMPLER}"),
        graph.add("aformat", f"sample_fmts=s16:channel_layouts=mono:sample_rates={SAMPLE_RATE}"),
        graph.add("asetnsamples", f"n={_CHUNK_SAMPLES}:p=0"),  # p=0: the last chunk is short
        sink,
    ).configure()
    return sink


def _drain(sink: av.filter.FilterContext) -> Iterator[bytes]:
    while True:
        try:
            frame = sink.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        yield _pcm(frame)


def _pcm(frame: av.frame.Frame) -> bytes:
    assert isinstance(frame, av.AudioFrame)  # an audio sink gives audio frames
    # The plane's buffer may be padded past the samples (FFmpeg aligns allocations).
    return bytes(frame.planes[0])[: 2 * frame.samples]


def _open(path: Path, timeout_s: float) -> av.container.InputContainer:
    return av.open(_url(path), container_options=_OPEN_OPTIONS, timeout=timeout_s)


def _url(path: Path) -> str:
    # "file:" so that a name with a colon in it is never read as another protocol.
    return f"file:{path.resolve()}"


def _reason(exc: av.FFmpegError) -> str:
    if exc.errno == errno.EINVAL:
        # What avformat_open_input answers for a demuxer that is not on the list.
        return f"not a container format Tanba opens, or a broken one ({exc.strerror})"
    return exc.strerror or type(exc).__name__


def _looks_like_mp3(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(3)
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2)
