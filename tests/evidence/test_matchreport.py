"""The matched region of an image copy, estimated on a real photo."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tanba.evidence.matchreport import estimate_region, image_overlay


def test_a_crop_is_located_in_the_reference(photos: list[Path]) -> None:
    with Image.open(photos[2]) as im:
        reference = im.convert("RGB")
    reference.thumbnail((1200, 1200))
    w, h = reference.size
    crop = reference.crop((w // 2, h // 4, w, h)).resize((300, round(300 * (3 * h / 4) / (w / 2))))
    region = estimate_region(reference, crop)
    assert abs(region.x - w // 2) <= w * 0.03 and abs(region.y - h // 4) <= h * 0.04
    assert abs(region.width - w / 2) <= w * 0.05
    assert 0.3 <= region.share_of_reference <= 0.45

    buffer = io.BytesIO()
    crop.save(buffer, "JPEG")
    ref_buffer = io.BytesIO()
    reference.save(ref_buffer, "PNG")
    again, png = image_overlay(ref_buffer.getvalue(), buffer.getvalue(), mirrored=False)
    assert again == region
    overlay = Image.open(io.BytesIO(png)).convert("RGB")
    # The outline is drawn in red on the reference panel.
    red = (np.asarray(overlay) == (220, 0, 0)).all(axis=2).sum()
    assert red > 500


def test_the_match_report_lists_every_position_of_a_repeated_passage(tmp_path: Path) -> None:
    """Every span of a repeated passage is in report.json, ranked, and marked on the picture."""
    from tanba.core.schemas.matches import MatchDetail, MatchPosition
    from tanba.core.settings import Settings
    from tanba.evidence.matchreport import build_match_report
    from tests.support.alerts import make_alert

    positions = [
        MatchPosition(offset_s=54.0, query_offset_s=0.0, duration_s=8.0, ber=0.015, score=0.97),
        MatchPosition(offset_s=22.0, query_offset_s=0.0, duration_s=8.0, ber=0.047, score=0.91),
    ]
    settings = Settings.from_env({"TANBA_HOME": str(tmp_path)})
    detail = MatchDetail(
        algorithm="chromaprint2-raw", ber=0.015, offset_s=54.0, duration_s=8.0, positions=positions
    )
    repeated = build_match_report(
        settings, make_alert(media="audio", match=detail), None, None, b""
    )
    once = build_match_report(settings, make_alert(media="audio"), None, None, b"")
    spans = repeated.report.audio_positions
    assert [(s.work_offset_s, s.score) for s in spans] == [(54.0, 0.97), (22.0, 0.91)]
    assert repeated.report.audio_span == spans[0].model_copy(update={"score": 0.9})
    assert [s.work_offset_s for s in once.report.audio_positions] == [30.0]

    def orange(png: bytes) -> int:
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
        return int(np.all(pixels == (245, 150, 0), axis=1).sum())

    assert orange(repeated.picture) > 0 and orange(once.picture) == 0
