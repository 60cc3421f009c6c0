"""Hostile media files, built by hand from real photos and music (never by allocating them).

Each :class:`HostileFile` says how it misbehaves and what Tanba must do with it:
``reason`` is a fragment of the quarantine reason it must get, or ``""`` when it
must be fingerprinted within bounds (then ``like``, when given, is a harmless
file whose fingerprint it must equal: the frame actually hashed).

Used by the hostile-media tests and by ``python -m bench.reliability``.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tanba.app.demo import media
from tanba.core import topics
from tanba.core.blobs import BlobStore, FileBlobStore
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import Fingerprint, MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.schemas.quarantine import MediaQuarantined
from tanba.core.settings import Settings
from tanba.core.worker import Worker, WorkerStats
from tanba.fingerprint.compute import fingerprint_file, memory_budget
from tanba.fingerprint.sandbox import Sandbox
from tanba.fingerprint.worker import FingerprintStage

# The worker test runs with this pixel cap (below Pillow's own 178,956,970) and timeout.
PIXEL_CAP = 170_000_000
DECODE_TIMEOUT_S = 1.0
# The decoder child of the worker test, in which an interlaced PNG never finishes decoding.
STALLING_DECODER = "bench.harness.stalling_decoder"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Adam7 passes: (x0, y0, dx, dy).
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


@dataclass(frozen=True)
class HostileFile:
    """One hostile input: its bytes, what a server would call it, and the expected outcome."""

    name: str
    what: str  # how it misbehaves, for the report
    data: bytes
    content_type: str
    reason: str = ""  # fragment of the quarantine reason; "" = must be fingerprinted
    like: bytes = b""  # when fingerprinted: a plain file with the same expected fingerprint
    like_what: str = ""  # what ``like`` is, for the report

    @property
    def outcome(self) -> str:
        return "quarantined" if self.reason else "fingerprinted within bounds"


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_only(width: int, height: int, rows: int = 64) -> bytes:
    """A 1-bit grey PNG declaring ``width`` × ``height`` but holding only ``rows`` rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (width + 7) // 8)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * rows, 9))
        + chunk(b"IEND", b"")
    )


def png_all_zero(width: int, height: int, *, interlaced: bool = False) -> bytes:
    """A complete 1-bit grey PNG of zeros: tiny on disk, ``width × height`` to decode."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 1 if interlaced else 0)
    size = 0
    for x0, y0, dx, dy in _ADAM7 if interlaced else ((0, 0, 1, 1),):
        pw, ph = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if pw and ph:
            size += (1 + (pw + 7) // 8) * ph
    idat = zlib.compress(b"\0" * size, 9)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header (SOF0/SOF2) rewritten to claim ``width`` × ``height``."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at >= 0:
            head = jpeg[: at + 5]
            return head + struct.pack(">HH", height, width) + jpeg[at + 9 :]
    raise ValueError("no SOF0/SOF2 marker in the JPEG")


def png_lying_ihdr(photo: Path) -> bytes:
    """A real 64×48 photo's pixel rows under an IHDR that claims 4000×3000."""
    with Image.open(photo) as im:
        small = im.convert("RGB").resize((64, 48))
    raw = b"".join(b"\0" + small.tobytes()[y * 64 * 3 : (y + 1) * 64 * 3] for y in range(48))
    ihdr = struct.pack(">IIBBBBB", 4000, 3000, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def gif_many_frames(photo: Path, frames: int) -> tuple[bytes, bytes]:
    """An animated GIF of ``frames`` crops of a real photo, and its first frame alone as PNG."""
    with Image.open(photo) as im:
        base = im.convert("RGB").resize((160, 120)).quantize(64)
    shots = [
        base.crop((i % 64, (i // 64) % 48, i % 64 + 96, (i // 64) % 48 + 72)) for i in range(frames)
    ]
    out = io.BytesIO()
    shots[0].save(out, "GIF", save_all=True, append_images=shots[1:], duration=20, loop=0)
    still = io.BytesIO()
    shots[0].convert("RGB").save(still, "PNG")
    return out.getvalue(), still.getvalue()


def apng_claiming_frames(photo: Path, frames: int) -> tuple[bytes, bytes]:
    """A real photo as PNG whose animation control chunk claims ``frames`` frames (it has one)."""
    with Image.open(photo) as im:
        small = im.convert("RGB").resize((128, 96))
    still = io.BytesIO()
    small.save(still, "PNG")
    data = still.getvalue()
    ihdr_end = 8 + 8 + 13 + 4
    actl = chunk(b"acTL", struct.pack(">II", frames, 0))
    fctl = chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 128, 96, 0, 0, 1, 10, 0, 0))
    return data[:ihdr_end] + actl + fctl + data[ihdr_end:], data


def _pcm(track: Path, seconds: float) -> bytes:
    """``seconds`` of a real track as 8 kHz mono 16-bit PCM (ffmpeg)."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(track), "-t", str(seconds),
         "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


def wav(pcm: bytes, claimed: int | None = None) -> bytes:
    """8 kHz mono PCM as WAV; ``claimed`` overrides the data size the header states."""
    size = len(pcm) if claimed is None else claimed
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return (
        b"RIFF" + struct.pack("<I", size + 36) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", size) + pcm
    )  # fmt: skip


def wav_claiming_hours(track: Path, seconds: float = 5.0) -> tuple[bytes, bytes]:
    """A WAV of ``seconds`` of a real track whose header claims ~37 hours, and the honest one."""
    pcm = _pcm(track, seconds)
    return wav(pcm, claimed=0x7FFF_0000), wav(pcm)


def mp3_claiming_hours(track: Path, work_dir: Path, seconds: float = 5.0) -> bytes:
    """A real MP3 excerpt whose Xing/Info header claims 16.7 million frames (~120 hours)."""
    out = work_dir / "excerpt.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(track), "-t", str(seconds),
         "-b:a", "64k", str(out)],
        check=True,
    )  # fmt: skip
    data = out.read_bytes()
    at = max(data.find(b"Xing"), data.find(b"Info"))
    flags = struct.unpack(">I", data[at + 4 : at + 8])[0]
    if at < 0 or not flags & 1:
        raise ValueError("ffmpeg wrote no Xing/Info frame count to patch")
    return data[: at + 8] + struct.pack(">I", 0x00FF_FFFF) + data[at + 12 :]


def build(work_dir: Path) -> list[HostileFile]:
    """Every hostile file, from the photos and music Debian installs (see tanba.app.demo.media)."""
    photos, tracks = media.photos(), media.music()
    web = media.web_jpeg(photos[0], width=1280)
    gif, gif_first = gif_many_frames(photos[1], 3000)
    apng, apng_still = apng_claiming_frames(photos[2], 2**31 - 1)
    lying_wav, honest_wav = wav_claiming_hours(tracks[1])
    work_dir.mkdir(parents=True, exist_ok=True)
    referenced = work_dir / "local.mp3"
    referenced.write_bytes(media.audio_excerpt(tracks[0], start_s=10, seconds=20))
    return [
        HostileFile(
            "png-bomb-50000",
            "PNG of a few hundred bytes declaring 50,000 × 50,000 pixels",
            png_header_only(50_000, 50_000),
            "image/png",
            reason="decompression bomb",
        ),
        HostileFile(
            "jpeg-claims-60000",
            "real JPEG whose frame header claims 60,000 × 60,000 pixels",
            jpeg_with_size(web, 60_000, 60_000),
            "image/jpeg",
            reason="decompression bomb",
        ),
        HostileFile(
            "jpeg-over-the-cap",
            "real JPEG claiming 13,300 × 13,300 (over the pixel cap, under Pillow's limit)",
            jpeg_with_size(web, 13_300, 13_300),
            "image/jpeg",
            reason=f"exceeds the cap of {PIXEL_CAP}",
        ),
        HostileFile(
            "jpeg-lying-under-the-cap",
            "real JPEG of 1280 px claiming 10,000 × 10,000 (under the cap): decoded at 1/8 scale",
            jpeg_with_size(web, 10_000, 10_000),
            "image/jpeg",
        ),
        HostileFile(
            "png-lying-ihdr",
            "64 × 48 photo rows under an IHDR claiming 4000 × 3000",
            png_lying_ihdr(photos[3]),
            "image/png",
            reason="corrupt or truncated",
        ),
        HostileFile(
            "png-slow-decode",
            "20 KB interlaced PNG of 13,000 × 13,000 zeros: seconds of decoding",
            png_all_zero(13_000, 13_000, interlaced=True),
            "image/png",
            reason="took longer than",
        ),
        HostileFile(
            "gif-3000-frames",
            "animated GIF of 3000 frames (crops of a real photo)",
            gif,
            "image/gif",
            like=gif_first,
            like_what="its first frame alone",
        ),
        HostileFile(
            "apng-claims-2g-frames",
            "PNG whose acTL chunk claims 2,147,483,647 animation frames",
            apng,
            "image/png",
            like=apng_still,
            like_what="the still image",
        ),
        HostileFile(
            "wav-claims-37-hours",
            "5 s of a real track in a WAV whose header claims 37 hours (the claim is ignored)",
            lying_wav,
            "audio/wav",
            like=honest_wav,
            like_what="the same audio with an honest header",
        ),
        HostileFile(
            "mp3-claims-120-hours",
            "5 s real MP3 whose Xing/Info header claims 16.7 million frames",
            mp3_claiming_hours(tracks[1], work_dir),
            "audio/mpeg",
            reason="header declares",
        ),
        HostileFile(
            "hls-playlist",
            "HLS playlist served as audio/mpeg, naming a local file for ffmpeg to open",
            f"#EXTM3U\n#EXT-X-TARGETDURATION:20\n#EXTINF:20,\n{referenced}\n#EXT-X-ENDLIST\n".encode(),
            "audio/mpeg",
            reason="playlist",
        ),
        HostileFile(
            "text-as-audio",
            "plain text served as audio/mpeg",
            b"This stream is temporarily unavailable.\n" * 40,
            "audio/mpeg",
            reason="a text file served as audio/mpeg",
        ),
        HostileFile(
            "binary-noise-as-audio",
            "bytes that are neither image nor audio, served as audio/mpeg",
            bytes(range(256)) * 64,
            "audio/mpeg",
            reason="neither an image, audio nor video",
        ),
    ]


@dataclass
class WorkerRun:
    """What the real fingerprint stage did with the hostile files and the photos between them."""

    stats: WorkerStats
    dead_letters: int
    reasons: dict[str, str]  # file name -> quarantine reason
    prints: dict[str, Fingerprint]  # file name -> fingerprint
    photos: list[str]  # names of the good files published between the hostile ones
    settings: Settings

    def outcome(self, h: HostileFile) -> tuple[bool, str]:
        """(as expected, what happened) for one hostile file."""
        if h.reason:
            reason = self.reasons.get(h.name, "")
            return (h.reason in reason, f"quarantined: {reason}" if reason else "not quarantined")
        if h.name not in self.prints:
            return False, f"quarantined: {self.reasons.get(h.name, '?')}"
        if h.like:
            like = self.settings.home / f"{h.name}.like"
            like.write_bytes(h.like)
            expected = fingerprint_file(like, "0" * 64, self.settings)
            got = self.prints[h.name]
            same = (got.image, got.audio) == (expected.image, expected.audio)
            return same, f"fingerprinted, same fingerprint as {h.like_what}"
        return True, "fingerprinted within bounds"


def _discovered(blobs: BlobStore, name: str, data: bytes, content_type: str) -> Record:
    sha256 = blobs.put(data)
    occurrence = MediaOccurrence(
        target="hostile",
        site="hostile.example.kz",
        page_url="http://hostile.example.kz/",
        media_url=f"http://hostile.example.kz/{name}",
        sha256=sha256,
        size=len(data),
        content_type=content_type,
        fetched_at="2026-03-01T12:00:00Z",
    )
    return Record("hostile.example.kz", encode(MediaDiscovered(occurrence=occurrence)))


def run_through_worker(
    files: list[HostileFile],
    home: Path,
    *,
    decoder: str = "tanba.fingerprint.sandbox_child",
    decode_timeout_s: float = DECODE_TIMEOUT_S,
) -> WorkerRun:
    """Publish ``files`` with real photos between them; run the real stage until drained.

    The settings are the defaults but for :data:`PIXEL_CAP` and ``decode_timeout_s``.
    ``decoder`` is the sandbox child's module: the real one, or :data:`STALLING_DECODER`.
    """
    settings = Settings.from_env({}, home=home).with_(
        image_max_pixels=PIXEL_CAP, decode_timeout_s=decode_timeout_s
    )
    bus = EmbeddedBus(settings.path("bus.sqlite3"))
    blobs = FileBlobStore(settings.home / "blobs")
    photos = {
        f"photo-{i}.jpg": media.web_jpeg(p, width=640) for i, p in enumerate(media.photos()[:4])
    }
    records: list[Record] = []
    names = iter(photos)
    published: list[str] = []
    for i, h in enumerate(files):
        records.append(_discovered(blobs, h.name, h.data, h.content_type))
        if i % 3 == 2:  # good files between the hostile ones: the queue must keep moving
            name = next(names, None)
            if name is not None:
                records.append(_discovered(blobs, name, photos[name], "image/jpeg"))
                published.append(name)
    bus.publish(topics.MEDIA, records)
    sandbox = Sandbox(memory_budget(settings), module=decoder)
    stage = FingerprintStage(
        settings, bus, blobs, FixedClock("2026-03-01T12:00:00Z"), sandbox=sandbox
    )
    try:
        stats = Worker(stage, bus, settings).run(drained=lambda: True)
        reasons = {
            q.occurrence.media_url.rsplit("/", 1)[1]: q.reason
            for q in (decode(m.value, MediaQuarantined) for m in bus.replay(topics.QUARANTINE))
        }
        prints = {
            f.occurrence.media_url.rsplit("/", 1)[1]: f.fingerprint
            for f in (decode(m.value, FingerprintComputed) for m in bus.replay(topics.FINGERPRINTS))
        }
        dead = sum(1 for _ in bus.replay(topics.DEAD_LETTER))
    finally:
        sandbox.close()
        bus.close()
    return WorkerRun(stats, dead, reasons, prints, published, settings)
