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
