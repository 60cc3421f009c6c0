"""Sampled stream segments joined into one playable file, in a child process with limits.

Contract: :func:`join` takes the sampled windows of a stream, in stream order,
each with the bytes of its segment in every track (the main track first: video,
or video and audio muxed; then a separate audio track), the track's init segment
with it for fragmented MP4, and writes one Matroska file in which the windows
follow each other with continuous timestamps, the codecs copied (nothing is
re-encoded). It returns the file's bytes and, per window, where it starts in the
file and how long it lasts (:class:`Joined`); :class:`JoinFailed` says why not.
The file is opened again once written and its first video (else audio) frame
decoded, so a file that does not play is never published.

The work runs in a child process (``python -m tanba.crawlers.join SPEC MEMORY CPU``) under
``RLIMIT_AS`` (``memory_bytes``) and ``RLIMIT_CPU`` and a wall-clock timeout: the
segments are the site's bytes, and FFmpeg's demuxers are what parses them, so a
segment that crashes or hangs a demuxer takes down the child, not the crawler.
Each part is opened with its format named (``mpegts``, ``mp4`` or ``aac``, from
its first bytes), never probed, so a "segment" that is a playlist is not read as one.

Why remux and not plain concatenation (TS after TS, fMP4 init then fragments):
both play, but they keep the stream's own timestamps, so a file of twelve 4-second
pieces of a 2-hour film declares 2 hours, and a decoder or fingerprinter sees a
2-hour file with gaps (the audio fingerprint calls it truncated). Remuxed, the
file is 48 seconds long, and :class:`~tanba.core.schemas.stream.StreamPiece` maps
each of its seconds back to the stream. Why Matroska: it takes every codec a
stream carries (H.264, HEVC, VP9, AV1, AAC, Opus, AC-3) from TS and MP4 alike.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

CONTAINER = "matroska"
_TS_PACKET = 188


class JoinFailed(Exception):
    """The segments could not be joined into a file that decodes; the message says why."""


@dataclass(frozen=True)
class Part:
    """One track's segment of a window: the segment and the track's init segment (fMP4)."""

    body: bytes
    init: bytes = b""
    # Packets stored past this many bytes of the part are dropped (0: none): a file's
    # first bytes with its index moved after them (tanba.crawlers.progressive).
    limit: int = 0


@dataclass(frozen=True)
class Placed:
    """Where one window landed in the joined file."""

    file_start_s: float
    duration_s: float


@dataclass(frozen=True)
class Joined:
    """The joined file, where each window is in it, and what it holds."""

    data: bytes
    placed: list[Placed]
    video: bool
    audio: bool
    declared_s: float = 0.0  # the duration the first window's main part declares (0: none)


def join(
    windows: list[list[Part]], *, timeout_s: float, memory_bytes: int, cpu_s: int = 60
) -> Joined:
    """The windows' segments as one Matroska file (see the module doc)."""
    if not windows:
        raise JoinFailed("no segment to join")
    with tempfile.TemporaryDirectory(prefix="tanba-join-") as tmp:
        work = Path(tmp)
        spec: list[list[dict[str, object]]] = []
        for w, parts in enumerate(windows):
            entry = []
            for t, part in enumerate(parts):
                body = work / f"w{w}-t{t}.bin"
                body.write_bytes(part.init + part.body)
                entry.append({"path": str(body), "format": input_format(part), "limit": part.limit})
            spec.append(entry)
        out = work / "joined.mkv"
        (work / "spec.json").write_text(json.dumps({"windows": spec, "out": str(out)}))
        command = [
            sys.executable, "-m", "tanba.crawlers.join", str(work / "spec.json"),
            str(memory_bytes), str(cpu_s),
        ]  # fmt: skip
        try:
            # The child sets its own limits before it loads FFmpeg (no preexec_fn: the
            # crawler has threads, and forking them into a callback may deadlock).
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise JoinFailed(f"joining the segments took longer than {timeout_s:.0f} s") from None
        if done.returncode != 0:
            last = (done.stderr.decode(errors="replace").strip().splitlines() or ["killed"])[-1]
            raise JoinFailed(f"the segments do not join into a playable file: {last[:300]}")
        result = json.loads(done.stdout)
        return Joined(
            data=out.read_bytes(),
            placed=[Placed(p[0], p[1]) for p in result["placed"]],
            video=bool(result["video"]),
            audio=bool(result["audio"]),
            declared_s=float(result.get("declared", 0.0)),
        )


def input_format(part: Part) -> str:
    """The demuxer for a segment, from its first bytes: mpegts, mp4, matroska or aac."""
    head = part.init[:16] if part.init else part.body[: _TS_PACKET + 1]
    body = part.body
    if (
        not part.init
        and body[:1] == b"\x47"
        and body[_TS_PACKET : _TS_PACKET + 1] in (b"\x47", b"")
    ):
        return "mpegts"
    if head[4:8] in (b"ftyp", b"styp", b"moof", b"moov", b"sidx") or body[4:8] in (
        b"styp",
        b"moof",
    ):
        return "mp4"
    if body[:4] == b"\x1aE\xdf\xa3":
        return "matroska"
    if body[:2] in (b"\xff\xf1", b"\xff\xf9") or body[:3] == b"ID3":
        return "aac"
    raise JoinFailed(f"a segment is neither MPEG-TS, fragmented MP4 nor AAC (starts {body[:8]!r})")


def _limits(memory_bytes: int, cpu_s: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))


# ---- the child ---------------------------------------------------------------------------


def _remux(spec: dict[str, Any]) -> dict[str, Any]:
    """Copy each window's packets into one Matroska file with continuous timestamps."""
    import av  # only the child loads FFmpeg

    out = av.open(spec["out"], "w", format=CONTAINER)
    outputs: dict[str, Any] = {}  # "video" / "audio" -> output stream
    last_dts: dict[str, Fraction] = {}
    cursor = Fraction(0)
    placed: list[tuple[float, float]] = []
    durations: list[float] = []  # what each window's main part declares (a whole file's length)
    for parts in spec["windows"]:
        packets: list[tuple[str, Any]] = []  # (kind, packet), main track first
        for t, part in enumerate(parts):
            container = av.open(part["path"], format=part["format"])
            limit = int(part.get("limit") or 0)
            have = {k for k, _ in packets}
            # The main track gives its video and audio; a separate track only audio it lacks.
            kinds = ("video", "audio") if t == 0 else ("audio",)
            chosen: dict[str, Any] = {}
            for stream in container.streams:
                if stream.type in kinds and stream.type not in have:
                    chosen.setdefault(stream.type, stream)
            for kind, stream in chosen.items():
                if kind not in outputs:
                    outputs[kind] = out.add_stream_from_template(stream)
            if t == 0:
                durations.append((container.duration or 0) / 1_000_000)
            if chosen:
                try:
                    for packet in container.demux(list(chosen.values())):
                        if packet.pts is None or packet.dts is None or packet.size == 0:
                            continue
                        if limit and (packet.pos < 0 or packet.pos + packet.size >= limit):
                            continue  # stored past (or cut at) the end of the bytes fetched
                        packets.append((packet.stream.type, packet))
                except av.FFmpegError:
                    pass  # cut short (a file's first bytes, a damaged segment): what came before
        if not packets:
            continue
        lead = "video" if any(k == "video" for k, _ in packets) else "audio"
        starts = [_s(p.pts, p) for k, p in packets if k == lead]
        ends = [_s(p.pts, p) + _s(p.duration or 0, p) for k, p in packets if k == lead]
        start, end = min(starts), max(ends)
        # Audio of a separate track beyond the window's picture is cut off (it is in the next).
        packets = [(k, p) for k, p in packets if k == lead or start <= _s(p.pts, p) < end]
        first_dts = min(_s(p.dts, p) for _, p in packets)
        begin = max(cursor, max(last_dts.values(), default=Fraction(-1)) + Fraction(1, 1000))
        shift = begin + (start - first_dts) - start
        for kind, packet in packets:
            stream = outputs.get(kind)
            if stream is None:
                continue
            tb = packet.time_base
            packet.pts = round((_s(packet.pts, packet) + shift) / tb)
            packet.dts = round((_s(packet.dts, packet) + shift) / tb)
            dts = _s(packet.dts, packet)
            if kind in last_dts and dts <= last_dts[kind]:
                continue  # a packet the window repeats (segments overlap by a frame)
            last_dts[kind] = dts
            packet.stream = stream
            out.mux(packet)
        file_start = start + shift
        placed.append((float(file_start), float(end - start)))
        cursor = file_start + (end - start)
    out.close()
    if not placed:
        raise SystemExit("no segment held a video or audio packet")
    check = av.open(spec["out"])
    stream = check.streams.video[0] if check.streams.video else check.streams.audio[0]
    for _frame in check.decode(stream):
        break
    else:
        raise SystemExit("the joined file does not decode")
    return {
        "placed": placed,
        "video": "video" in outputs,
        "audio": "audio" in outputs,
        "declared": durations[0] if durations else 0.0,
    }


def _s(value: int, packet: Any) -> Fraction:
    return Fraction(value) * Fraction(packet.time_base)


if __name__ == "__main__":
    _limits(int(sys.argv[2]), int(sys.argv[3]))
    result = _remux(json.loads(Path(sys.argv[1]).read_text()))
    sys.stdout.write(json.dumps(result))
    os._exit(0)
