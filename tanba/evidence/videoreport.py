"""A video match in the evidence package: the matched span and frame pairs, the copy's beside the work's.

Contract: :func:`video_evidence` takes a video alert, the found file's bytes and the
reference's (None when withheld or lost) and returns the :class:`VideoSpan` (where
the span starts in the work and in the copy, how long, at what speed, what agreed),
the :class:`FramePair` of each instant :func:`~tanba.core.video_span.span_moments`
picks over the span (the same instants the console shows), and ``frames.png``: a row
per instant, the copy's frame left and the work's right, each captioned with its
time, in the report's language. Frames are decoded in the decoder sandbox
(:func:`tanba.fingerprint.compute.video_frames`), as the console's and the
fingerprint workers' are: the found file is hostile input. A side without a frame (a
reference withheld, a file not stored or not decodable, a time past its end) is a grey
box, and its pair has no distance. Each pair's ``distance`` is the PDQ distance of the
two frames (bits of 256; the copy flipped back first when the matcher matched it
mirrored): a reader sees how alike the pictures are where the matcher put them.

A stream's copy is the file the crawler joined from sampled segments; the alert's
copy times are the stream's own (:func:`tanba.core.alerts.in_stream_time`), found in
the joined file with :func:`~tanba.core.video_span.file_time`.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from tanba.core.alerts import Alert
from tanba.core.schemas.base import Model
from tanba.core.settings import Settings
from tanba.core.signals.video import MIRRORED
from tanba.core.video_span import file_time, span_moments
from tanba.evidence.strings import text
from tanba.fingerprint.compute import FRAME_SIDE, video_frames
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.video import pdq_bits

FRAMES_PICTURE = "frames.png"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_BOX = (FRAME_SIDE, FRAME_SIDE * 9 // 16)  # one frame's box (16:9), as the console's
_PAD, _CAPTION = 12, 22
_GREY = (96, 96, 96)


class VideoSpan(Model):
    """The matched span: where it starts in the work and in the copy, how long, how it matched."""

    work_offset_s: float
    copy_offset_s: float  # in the stream's own time when the copy was a stream
    duration_s: float  # in the copy's time
    scale: float  # the work's seconds per copy second (25/24: a PAL speed-up)
    evidence: str  # "picture", "sound" or "both"
    variant: str = ""  # "mirrored" when the copy is the work flipped left to right
    work_duration_s: float = 0.0
    copy_duration_s: float = 0.0


class FramePair(Model):
    """One instant of the span: the copy's time, the work's, and how alike the two frames are."""

    copy_s: float  # in the copy (the stream's own time for a stream)
    work_s: float
    copy_file_s: float  # where the frame was taken in the copy's file (a stream's joined file)
    copy_frame: bool  # a frame was decoded there
    work_frame: bool
    distance: int | None = None  # PDQ bits of 256 between the two frames; None: a side missing


def video_evidence(
    settings: Settings,
    alert: Alert,
    found: bytes,
    reference: bytes | None,
    *,
    work_duration_s: float,
    copy_duration_s: float,
    title: str,
    lang: str,
) -> tuple[VideoSpan, list[FramePair], bytes] | None:
    """The span, its frame pairs and ``frames.png``; None for an alert without a span."""
    moments = span_moments(alert)
    m = alert.match
    if not moments or m.offset_s is None or m.query_offset_s is None:
        return None
    span = VideoSpan(
        work_offset_s=m.offset_s,
        copy_offset_s=m.query_offset_s,
        duration_s=m.duration_s or 0.0,
        scale=m.scale or 1.0,
        evidence=m.evidence or "picture",
        variant=m.variant,
        work_duration_s=work_duration_s,
        copy_duration_s=copy_duration_s,
    )
    copy_times = [round(file_time(alert.stream, t.copy_s), 2) for t in moments]
    copies = _frames(settings, found, copy_times)
    works = _frames(settings, reference, [t.work_s for t in moments])
    mirrored = m.variant == MIRRORED
    pairs = []
    for moment, file_s, copy, work in zip(moments, copy_times, copies, works, strict=True):
        pairs.append(
            FramePair(
                copy_s=moment.copy_s,
                work_s=moment.work_s,
                copy_file_s=file_s,
                copy_frame=copy is not None,
                work_frame=work is not None,
                distance=_distance(copy, work, mirrored),
            )
        )
    return span, pairs, frames_picture(span, pairs, copies, works, title, lang)


def frames_picture(
    span: VideoSpan,
    pairs: list[FramePair],
    copies: list[bytes | None],
    works: list[bytes | None],
    title: str,
    lang: str,
) -> bytes:
    """A PNG: a heading, then per pair the copy's frame (left) beside the work's (right),
    each over its caption."""
    width, height = _BOX
    row = _CAPTION + height + _PAD
    canvas = Image.new(
        "RGB", (2 * width + 3 * _PAD, 2 * _PAD + _CAPTION + len(pairs) * row), "white"
    )
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    heading = text(
        lang,
        "frames.title",
        title=title,
        start=text(lang, "seconds", value=f"{span.work_offset_s:.1f}"),
        duration=text(lang, "seconds", value=f"{span.duration_s:.1f}"),
    )
    draw.text((_PAD, _PAD), heading, fill="black", font=font)
    for i, (pair, copy, work) in enumerate(zip(pairs, copies, works, strict=True)):
        top = _PAD + _CAPTION + i * row
        copy_key = "frames.copy_mirrored" if span.variant == MIRRORED else "frames.copy"
        captions = (
            text(lang, copy_key, time=text(lang, "seconds", value=f"{pair.copy_s:.1f}")),
            text(lang, "frames.work", time=text(lang, "seconds", value=f"{pair.work_s:.1f}")),
        )
        for column, (caption, jpeg) in enumerate(zip(captions, (copy, work), strict=True)):
            left = _PAD + column * (width + _PAD)
            draw.text((left, top), caption, fill="black", font=font)
            canvas.paste(_boxed(jpeg), (left, top + _CAPTION - 4))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _frames(settings: Settings, data: bytes | None, times: list[float]) -> list[bytes | None]:
    """The file's frames at ``times`` (decoded in the sandbox); all None without a video."""
    if not data:
        return [None] * len(times)
    with tempfile.TemporaryDirectory(prefix="tanba-frames-") as tmp:
        path = Path(tmp) / "video"
        path.write_bytes(data)
        try:
            return video_frames(path, times, settings)
        except Unfingerprintable:
            return [None] * len(times)


def _grey(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im.convert("L").resize(_BOX))


def _distance(copy: bytes | None, work: bytes | None, mirrored: bool) -> int | None:
    if copy is None or work is None:
        return None
    a = _grey(copy)
    if mirrored:
        a = np.ascontiguousarray(a[:, ::-1])
    b = _grey(work)
    return int(np.unpackbits(np.bitwise_xor(pdq_bits(a)[0], pdq_bits(b)[0])).sum())


def _boxed(jpeg: bytes | None) -> Image.Image:
    """A frame fitted into one box, centred on grey (a grey box for no frame)."""
    box = Image.new("RGB", _BOX, _GREY)
    if jpeg is None:
        return box
    with Image.open(io.BytesIO(jpeg)) as im:
        frame = ImageOps.exif_transpose(im).convert("RGB")
    frame.thumbnail(_BOX)
    box.paste(frame, ((_BOX[0] - frame.width) // 2, (_BOX[1] - frame.height) // 2))
    return box


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(FONT), size)
    except OSError:
        return ImageFont.load_default()
