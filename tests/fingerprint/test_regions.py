"""Content boxes: a real photo inside bars, a frame or a page is found; a plain photo has none."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fingerprint.regions import content_boxes


@cache
def _grey(path: Path, width: int = 200) -> Image.Image:
    with Image.open(path) as im:
        im.draft("L", (width, width))
        grey = im.convert("L")
    return grey.resize((width, round(width * grey.height / grey.width)))


def _close(found: tuple[int, int, int, int], truth: tuple[int, int, int, int], tol: int) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(found, truth, strict=True))


@pytest.mark.parametrize("background", [0, 255, 40])
def test_a_letterboxed_photo_is_found_inside_its_bars(photos: list[Path], background: int) -> None:
    photo = _grey(photos[0])
    canvas = Image.new("L", (photo.width, photo.height + 60), background)
    canvas.paste(photo, (0, 30))
    boxes = content_boxes(np.asarray(canvas))
    assert boxes and _close(boxes[0], (0, 30, photo.width, 30 + photo.height), 3)


def test_a_framed_photo_is_found_inside_the_frame(photos: list[Path]) -> None:
    photo = _grey(photos[2], 180)
    canvas = Image.new("L", (photo.width + 40, photo.height + 40), 120)
    canvas.paste(photo, (20, 20))
    ImageDraw.Draw(canvas).rectangle((18, 18, 21 + photo.width, 21 + photo.height), outline=10)
    boxes = content_boxes(np.asarray(canvas))
    assert boxes and _close(boxes[0], (20, 20, 20 + photo.width, 20 + photo.height), 4)


def test_a_photo_on_a_page_with_text_is_found(photos: list[Path]) -> None:
    photo = _grey(photos[3], 150)
    page = Image.new("L", (320, 260), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 320, 18), fill=90)  # a header bar
    for y in range(24, 250, 16):  # a column of text beside the photo, then under it
        x = 10 if y > 46 + photo.height else 20 + photo.width
        draw.text((x, y), "lorem ipsum dolor sit amet consectetur", fill=30)
    page.paste(photo, (10, 40))
    boxes = content_boxes(np.asarray(page))
    assert any(_close(b, (10, 40, 10 + photo.width, 40 + photo.height), 4) for b in boxes)


def test_a_photo_with_detail_up_to_its_edges_has_no_box(photos: list[Path]) -> None:
    # (A photo of one object on a plain backdrop may have one: the object is content too.)
    for path in photos[:4]:
        assert content_boxes(np.asarray(_grey(path))) == []
