"""A video alert's matched span shown as frame pairs: the copy's frame beside the work's.

Contract: :func:`~tanba.core.video_span.span_moments` picks :data:`MOMENTS` instants
spread over the matched span, each with its time in the copy and in the work (the
evidence package shows the same ones). :func:`frame_pairs`
draws them as one JPEG, a row per instant, the copy left and the work right, from
frames decoded in the decoder sandbox (:func:`tanba.fingerprint.compute.video_frames`):
crawled videos are hostile input, and the console decodes them no more freely than the
fingerprint workers do. A side without a frame there (a file not stored, a reference
withheld, a time past its end) is left grey. The picture is made once per alert and
span and kept under the home
(within the console's cache size, :mod:`tanba.console.disk_cache`).

Why: a person checking a video match by eye wants to see that the picture agrees where
the matcher says it does, without scrubbing through two players.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from tanba.console.disk_cache import used
from tanba.core.alerts import Alert
from tanba.core.blobs import BlobStore
from tanba.core.settings import Settings
from tanba.core.video_span import MOMENTS, Moment, file_time, span_moments
from tanba.fingerprint.compute import FRAME_SIDE, video_frames
from tanba.fingerprint.exceptions import Unfingerprintable

__all__ = ["BOX", "MOMENTS", "Moment", "file_time", "frame_pairs", "span_moments"]

# The size of one frame's box on the picture (16:9).
BOX = (FRAME_SIDE, FRAME_SIDE * 9 // 16)
_GAP = 4
_GREY = (96, 96, 96)


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
    with contextlib.suppress(FileNotFoundError):  # not made yet, or pruned
        kept = target.read_bytes()
        used(target)
        return kept
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
