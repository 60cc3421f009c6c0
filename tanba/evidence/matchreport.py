"""The match report of a case: fingerprints and scores, and a picture of what matched.

Contract: :func:`build_match_report` recomputes the found file's fingerprint
(the same code the pipeline uses), puts it beside the work's reference
fingerprint and the alert's match figures, and draws:

- for images, ``overlay.png``: the reference with the region the copy covers
  outlined, side by side with the copy (mirrored back when the mirror variant
  matched). The region is estimated by sliding the copy, scaled from 50 % to
  100 % of the reference's width, over a 96-pixel-wide greyscale reference and
  keeping the placement with the least mean absolute difference; it shows
  crops and reframings, which a whole-image perceptual hash cannot tell;
- for audio, ``alignment.png``: the work's and the copy's timelines with the
  aligned span marked at its offsets in each; where the work repeats the passage,
  every other position of it is marked on the work's timeline too, numbered in
  rank order (``audio_positions`` in the report lists them all, best first);
- for video, ``frames.png``: the matched span as frame pairs, the copy's frame beside
  the work's at a few instants (``video_span`` and ``frame_pairs`` in the report;
  :mod:`tanba.evidence.videoreport`). A withheld reference's side stays grey.

Captions on the pictures are in the report's language (:func:`captions`,
:mod:`tanba.evidence.strings`), like every other text of a package a person reads.

Everything is derived from the inputs alone, so the same case gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps
from pydantic import Field

from tanba.core.alerts import Alert, MatchDetail
from tanba.core.schemas.base import Model
from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.evidence.strings import DEFAULT_LANGUAGE, text
from tanba.evidence.videoreport import FRAMES_PICTURE, FramePair, VideoSpan, video_evidence
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import Unfingerprintable

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_SEARCH_WIDTH = 96
_SCALES = tuple(round(0.5 + 0.05 * i, 2) for i in range(11))  # 0.50 .. 1.00
_PANEL_HEIGHT = 420


class ImageRegion(Model):
    """Where in the reference the copy sits, in reference pixels, and how alike they are there."""

    x: int
    y: int
    width: int
    height: int
    share_of_reference: float  # area of the region / area of the reference
    mean_abs_diff: float  # 0..255 on the greyscale thumbnails; lower is more alike


class AudioSpan(Model):
    """The aligned stretch of audio: where it starts in the work and in the copy, and how long."""

    work_offset_s: float
    copy_offset_s: float
    duration_s: float
    bit_error_rate: float
    work_duration_s: float
    copy_duration_s: float
    score: float | None = None  # on the match score's scale; None where not recorded


class MatchReport(Model):
    """Everything about how the copy matched the work, for people and machines."""

    alert_id: str
    work_id: str
    media: str
    score: float
    match: MatchDetail
    reference_sha256: str
    found_sha256: str
    reference_fingerprint: Fingerprint | None  # None when the work was withdrawn since
    found_fingerprint: Fingerprint | None
    found_fingerprint_error: str = ""
    image_region: ImageRegion | None = None
    audio_span: AudioSpan | None = None
    # Every position of the work where the copy's passage occurs, best first (the first is
    # ``audio_span``); more than one where the work repeats the passage.
    audio_positions: list[AudioSpan] = Field(default_factory=list)
    # A video's matched span and its frame pairs (the copy's frame beside the work's).
    video_span: VideoSpan | None = None
    frame_pairs: list[FramePair] = Field(default_factory=list)
    picture: str = ""  # file name of the overlay, alignment or frames picture in the package


@dataclass(frozen=True)
class MatchEvidence:
    """The report and its picture (PNG bytes, empty when none could be drawn)."""

    report: MatchReport
    picture: bytes


def build_match_report(
    settings: Settings,
    alert: Alert,
    work: Work | None,
    reference: bytes | None,
    found: bytes,
    lang: str = DEFAULT_LANGUAGE,
    *,
    withhold_reference: bool = False,
) -> MatchEvidence:
    """The match report of ``alert`` (see the module doc); None for what is unavailable.

    ``withhold_reference``: no picture of the reference's own (a video's frame pairs show
    the copy's side only); an image's overlay is drawn as before, as its thumbnail is kept.
    """
    found_print, error = (
        _fingerprint(settings, found, alert.media_sha256) if found else (None, "file not stored")
    )
    report = MatchReport(
        alert_id=alert.id,
        work_id=alert.work_id,
        media=alert.media,
        score=alert.score,
        match=alert.match,
        reference_sha256=work.sha256 if work else "",
        found_sha256=alert.media_sha256,
        reference_fingerprint=work.fingerprint if work else None,
        found_fingerprint=found_print,
        found_fingerprint_error=error,
    )
    picture = b""
    if alert.media == "image" and reference is not None and found:
        try:
            mirror = alert.match.variant == "mirror"
            region, picture = image_overlay(reference, found, mirrored=mirror, lang=lang)
            report = report.model_copy(update={"image_region": region, "picture": "overlay.png"})
        except OSError as exc:
            report = report.model_copy(update={"found_fingerprint_error": error or str(exc)})
    elif alert.media == "audio" and alert.match.offset_s is not None:
        work_s = work.fingerprint.audio.duration_s if work and work.fingerprint.audio else 0.0
        copy_s = found_print.audio.duration_s if found_print and found_print.audio else 0.0
        span = AudioSpan(
            work_offset_s=alert.match.offset_s or 0.0,
            copy_offset_s=alert.match.query_offset_s or 0.0,
            duration_s=alert.match.duration_s or 0.0,
            bit_error_rate=alert.match.ber if alert.match.ber is not None else 0.0,
            work_duration_s=work_s,
            copy_duration_s=copy_s,
            score=alert.score,
        )
        positions = [
            AudioSpan(
                work_offset_s=p.offset_s,
                copy_offset_s=p.query_offset_s,
                duration_s=p.duration_s,
                bit_error_rate=p.ber if p.ber is not None else 0.0,  # a sound's has one
                work_duration_s=work_s,
                copy_duration_s=copy_s,
                score=p.score,
            )
            for p in alert.match.positions
        ] or [span]
        picture = audio_alignment(span, alert.work_title, lang, positions[1:])
        report = report.model_copy(
            update={"audio_span": span, "audio_positions": positions, "picture": "alignment.png"}
        )
    elif alert.media == "video" and found:
        film = work.fingerprint.video if work else None
        copy = found_print.video if found_print else None
        video = video_evidence(
            settings,
            alert,
            found,
            None if withhold_reference else reference,
            work_duration_s=film.duration_s if film else 0.0,
            copy_duration_s=copy.duration_s if copy else 0.0,
            title=alert.work_title,
            lang=lang,
        )
        if video is not None:
            matched, pairs, picture = video
            report = report.model_copy(
                update={"video_span": matched, "frame_pairs": pairs, "picture": FRAMES_PICTURE}
            )
    return MatchEvidence(report, picture)


def _fingerprint(settings: Settings, data: bytes, sha256: str) -> tuple[Fingerprint | None, str]:
    with tempfile.TemporaryDirectory(prefix="tanba-match-") as tmp:
        path = Path(tmp) / "found"
        path.write_bytes(data)
        try:
            return fingerprint_file(path, sha256, settings), ""
        except Unfingerprintable as exc:
            return None, str(exc)


def estimate_region(reference: Image.Image, copy: Image.Image) -> ImageRegion:
    """Where ``copy`` best fits inside ``reference`` (see the module doc)."""
    ref_w, ref_h = reference.size
    small_h = max(1, round(_SEARCH_WIDTH * ref_h / ref_w))
    ref = np.asarray(reference.convert("L").resize((_SEARCH_WIDTH, small_h)), dtype=np.float32)
    best: tuple[float, int, int, int, int] | None = None
    for scale in _SCALES:
        w = max(4, round(_SEARCH_WIDTH * scale))
        h = max(4, round(w * copy.height / copy.width))
        if h > small_h:
            continue
        patch = np.asarray(copy.convert("L").resize((w, h)), dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(ref, (h, w))
        diff = np.abs(windows - patch).mean(axis=(2, 3))
        y, x = (int(v) for v in np.unravel_index(int(np.argmin(diff)), diff.shape))
        score = float(diff[y, x])
        if best is None or score < best[0]:
            best = (score, int(x), int(y), w, h)
    if best is None:  # the copy is taller, relative to its width, than the reference allows
        return ImageRegion(
            x=0, y=0, width=ref_w, height=ref_h, share_of_reference=1.0, mean_abs_diff=255.0
        )
    score, x, y, w, h = best
    factor = ref_w / _SEARCH_WIDTH
    region = (round(x * factor), round(y * factor), round(w * factor), round(h * factor))
    width, height = min(region[2], ref_w - region[0]), min(region[3], ref_h - region[1])
    return ImageRegion(
        x=region[0],
        y=region[1],
        width=width,
        height=height,
        share_of_reference=round(width * height / (ref_w * ref_h), 4),
        mean_abs_diff=round(score, 2),
    )


def image_overlay(
    reference: bytes, found: bytes, *, mirrored: bool, lang: str = DEFAULT_LANGUAGE
) -> tuple[ImageRegion, bytes]:
    """The estimated region and a PNG: reference (region outlined) | copy, with captions."""
    with Image.open(io.BytesIO(reference)) as r:
        ref = ImageOps.exif_transpose(r).convert("RGB")
    with Image.open(io.BytesIO(found)) as f:
        copy = ImageOps.exif_transpose(f).convert("RGB")
    if mirrored:
        copy = ImageOps.mirror(copy)
    region = estimate_region(ref, copy)
    left = _fit(ref, _PANEL_HEIGHT)
    right = _fit(copy, _PANEL_HEIGHT)
    k = left.width / ref.width
    pad, caption = 16, 28
    canvas = Image.new(
        "RGB", (left.width + right.width + 3 * pad, _PANEL_HEIGHT + 2 * pad + caption), "white"
    )
    canvas.paste(left, (pad, pad + caption))
    canvas.paste(right, (2 * pad + left.width, pad + caption))
    draw = ImageDraw.Draw(canvas)
    box = (
        pad + round(region.x * k),
        pad + caption + round(region.y * k),
        pad + round((region.x + region.width) * k) - 1,
        pad + caption + round((region.y + region.height) * k) - 1,
    )
    for inset in range(3):
        draw.rectangle(
            (box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset), outline=(220, 0, 0)
        )
    font = _font(15)
    work_caption, copy_caption = overlay_captions(ref.size, copy.size, region, mirrored, lang)
    draw.text((pad, pad), work_caption, fill="black", font=font)
    draw.text((2 * pad + left.width, pad), copy_caption, fill="black", font=font)
    return region, _png(canvas)


def overlay_captions(
    reference: tuple[int, int],
    copy: tuple[int, int],
    region: ImageRegion,
    mirrored: bool,
    lang: str,
) -> tuple[str, str]:
    """The two captions of the overlay picture: over the work and over the copy."""
    share = f"{region.share_of_reference:.0%}"
    work = text(lang, "overlay.work", width=reference[0], height=reference[1], share=share)
    key = "overlay.copy_mirrored" if mirrored else "overlay.copy"
    return work, text(lang, key, width=copy[0], height=copy[1])


def alignment_captions(span: AudioSpan, title: str, lang: str) -> tuple[str, str, str]:
    """The captions of the alignment picture: its title, the work's row, the copy's row."""
    duration = text(lang, "seconds", value=f"{span.duration_s:.2f}")
    heading = text(
        lang, "alignment.title", title=title, duration=duration, ber=f"{span.bit_error_rate:.3f}"
    )
    return heading, text(lang, "alignment.work"), text(lang, "alignment.copy")


def audio_alignment(
    span: AudioSpan, title: str, lang: str = DEFAULT_LANGUAGE, others: list[AudioSpan] | None = None
) -> bytes:
    """A PNG with the work's and the copy's timelines and the aligned span marked on both.

    ``others``: the passage's other positions in the work (a repeat), marked in orange on
    the work's timeline and numbered from 2 in the order given.
    """
    width, height, left, bar = 900, 220, 140, 28
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(14)
    ends = [s.work_offset_s + s.duration_s for s in (span, *(others or []))]
    longest = max(span.work_duration_s, span.copy_duration_s, span.duration_s, *ends, 1.0)
    scale = (width - left - 20) / longest
    heading, work_label, copy_label = alignment_captions(span, title, lang)
    rows = (
        (work_label, 50, span.work_duration_s, span.work_offset_s),
        (copy_label, 130, span.copy_duration_s, span.copy_offset_s),
    )
    for label, y, total, offset in rows:
        draw.text((10, y + 6), label, fill="black", font=font)
        draw.rectangle((left, y, left + round(total * scale), y + bar), fill=(225, 225, 225))
        start = left + round(offset * scale)
        draw.rectangle(
            (start, y, start + max(2, round(span.duration_s * scale)), y + bar), fill=(220, 0, 0)
        )
        start_s = text(lang, "seconds", value=f"{offset:.2f}")
        end_s = text(lang, "seconds", value=f"{offset + span.duration_s:.2f}")
        draw.text((start, y + bar + 4), f"{start_s} – {end_s}", fill="black", font=font)
    for rank, other in enumerate(others or [], start=2):
        start = left + round(other.work_offset_s * scale)
        end = start + max(2, round(other.duration_s * scale))
        draw.rectangle((start, 50, end, 50 + bar), fill=(245, 150, 0))
        draw.text((start + 2, 50 - 17), str(rank), fill="black", font=font)
    draw.text((10, 10), heading, fill="black", font=font)
    return _png(canvas)


def thumbnail(data: bytes, side: int = 256) -> bytes:
    """A PNG no larger than ``side`` pixels on its longer side (for withheld references)."""
    with Image.open(io.BytesIO(data)) as im:
        image = ImageOps.exif_transpose(im).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return _png(image)


def _fit(image: Image.Image, height: int) -> Image.Image:
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(FONT), size)
    except OSError:
        return ImageFont.load_default()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
