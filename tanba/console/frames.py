"""A video alert's matched span shown as frame pairs: the copy's frame beside the work's.

Contract: :func:`span_moments` picks :data:`MOMENTS` instants spread over the matched
span, each with its time in the copy (the stream's own time for a sampled stream, as
the alert gives it) and in the work (``offset_s + scale * (t - query_offset_s)``: the
matcher's alignment, with the PAL speed-up when it found one). :func:`frame_pairs`
draws them as one JPEG, a row per instant, the copy left and the work right, from
frames decoded in the decoder sandbox (:func:`tanba.fingerprint.compute.video_frames`):
crawled videos are hostile input, and the console decodes them no more freely than the
fingerprint workers do. A side without a frame there (a file not stored, a reference
withheld, a time past its end) is left grey. The picture is made once per alert and
span and kept under the home.

Why: a person checking a video match by eye wants to see that the picture agrees where
the matcher says it does, without scrubbing through two players.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tanba.core.alerts import Alert
from tanba.core.blobs import BlobStore
from tanba.core.schemas.stream import StreamSample
from tanba.core.settings import Settings
from tanba.fingerprint.compute import FRAME_SIDE, video_frames
from tanba.fingerprint.exceptions import Unfingerprintable

# Instants shown over a span, and the size of one frame's box on the picture (16:9).
MOMENTS = 4
BOX = (FRAME_SIDE, FRAME_SIDE * 9 // 16)
_GAP = 4
_GREY = (96, 96, 96)


@dataclass(frozen=True)
class Moment:
    """One instant of the matched span: where it is in the copy and in the work (seconds)."""

    copy_s: float
    work_s: float


def span_moments(alert: Alert, count: int = MOMENTS) -> list[Moment]:
    """``count`` instants spread over the alert's matched span; none without a span."""
    match = alert.match
    if alert.media != "video" or match.offset_s is None or match.query_offset_s is None:
        return []
    if not match.duration_s:
        return []
    scale = match.scale or 1.0
    moments = []
    for k in range(count):
        copy_s = match.query_offset_s + match.duration_s * (k + 0.5) / count
        work_s = match.offset_s + scale * (copy_s - match.query_offset_s)
        moments.append(Moment(round(copy_s, 2), round(work_s, 2)))
    return moments


def file_time(stream: StreamSample | None, stream_s: float) -> float:
    """Where a time of a sampled stream is in the file the crawler joined (the inverse of
    :func:`tanba.core.alerts.in_stream_time`); a time in no piece is already file time."""
    if stream is None:
        return stream_s
    for piece in stream.pieces:
        if piece.stream_start_s <= stream_s < piece.stream_start_s + piece.duration_s:
            return piece.file_start_s + (stream_s - piece.stream_start_s)
    return stream_s


def frame_pairs(
    alert: Alert,
    work_sha256: str | None,
    blobs: BlobStore,
    settings: Settings,
    cache_dir: Path,
) -> bytes:
    """The frame pairs of the alert's span as one JPEG (see the module doc).

    ``work_sha256``: the registered video's file, or None when the caller may not see
    it (that side stays grey). Made once per alert, span and files; kept in ``cache_dir``.
    """
    moments = span_moments(alert)
    copy_times = [file_time(alert.stream, m.copy_s) for m in moments]
    key = json.dumps([alert.id, alert.media_sha256, work_sha256, copy_times, moments], default=str)
    target = cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.jpg"
    if target.exists():
        return target.read_bytes()
    copies = _frames(blobs, alert.media_sha256, copy_times, settings, cache_dir)
    works = (
        _frames(blobs, work_sha256, [m.work_s for m in moments], settings, cache_dir)
        if work_sha256
        else [None] * len(moments)
    )
    width, height = BOX
    sheet = Image.new(
        "RGB", (2 * width + _GAP, len(moments) * (height + _GAP) - _GAP), (255, 255, 255)
    )
    for row, pair in enumerate(zip(copies, works, strict=True)):
        for column, jpeg in enumerate(pair):
            sheet.paste(_boxed(jpeg), (column * (width + _GAP), row * (height + _GAP)))
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=85)
    data = buffer.getvalue()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return data


def _frames(
    blobs: BlobStore, sha256: str, times: Sequence[float], settings: Settings, cache_dir: Path
) -> list[bytes | None]:
    """The file's frames at ``times``; all None when it is not stored or not a video."""
    if not blobs.exists(sha256):
        return [None] * len(times)
    try:
        with blobs.local_path(sha256, cache_dir / "tmp") as path:
            return video_frames(path, times, settings)
    except Unfingerprintable:
        return [None] * len(times)


def _boxed(jpeg: bytes | None) -> Image.Image:
    """A frame fitted into one box, centred on grey (a grey box for no frame)."""
    box = Image.new("RGB", BOX, _GREY)
    if jpeg is None:
        return box
    frame = Image.open(io.BytesIO(jpeg)).convert("RGB")
    frame.thumbnail(BOX)
    box.paste(frame, ((BOX[0] - frame.width) // 2, (BOX[1] - frame.height) // 2))
    return box
