"""Content boxes: a real photo inside bars, a frame or a page is found; a plain photo has none;
the fast implementation finds the boxes of the plain definition."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from tanba.fingerprint.regions import (
    _background,
    _dense,
    _differing,
    _window_counts,
    content_boxes,
    holds_small_content,
)


@cache
def _grey(path: Path, width: int = 200) -> Image.Image:
    with Image.open(path) as im:
        if im.format != "JPEG":
            grey = _lossless_grey(path)
        else:  # decoded at about ``width`` (JPEG's own scaling), which is quick
            im.draft("L", (width, width))
            grey = im.convert("L")
    return grey.resize((width, round(width * grey.height / grey.width)))


@cache
def _lossless_grey(path: Path) -> Image.Image:
    """A PNG original in grey at its full size, decoded once for every width asked of it
    (a 4K PNG takes a sixth of a second, and the tests ask for ten of them)."""
    with Image.open(path) as im:
        return im.convert("L")


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


def test_a_picture_as_dark_as_its_banner_is_found_by_its_colour() -> None:
    """Dark blue on dark red: the same grey, so the grey alone finds no block; the chroma
    planes tell the picture from the banner, and the box is the picture's."""
    banner = Image.new("RGB", (320, 120), (110, 10, 30))
    rng = np.random.default_rng(3)
    blues = rng.integers(0, 16, (60, 100, 3), dtype=np.uint8) + np.array([15, 25, 115], np.uint8)
    banner.paste(Image.fromarray(blues), (40, 30))
    grey = np.asarray(banner.convert("L"))
    chroma = np.asarray(banner.convert("YCbCr"))[:, :, 1:]
    assert np.abs(grey[30:90, 40:140].astype(int) - int(grey[5, 5])).max() <= 12  # alike in grey
    assert content_boxes(grey) == []
    boxes = content_boxes(grey, chroma=chroma)
    assert boxes and _close(boxes[0], (40, 30, 140, 90), 2)
    # A banner of one grey keeps its grey answer: no plane of colour to differ on.
    flat = np.full((120, 320, 2), 128, np.uint8)
    assert content_boxes(grey, chroma=flat) == []


def test_only_content_too_small_for_the_boxes_asks_for_a_finer_look(photos: list[Path]) -> None:
    photo = _grey(photos[3], 150)

    def on_white(width: int) -> np.ndarray:
        page = Image.new("L", (160, 120), 255)
        page.paste(photo.resize((width, round(width * photo.height / photo.width))), (40, 30))
        return np.asarray(page)

    assert content_boxes(on_white(24)) == [] and holds_small_content(on_white(24), 0.05, 0.003)
    # The picture large enough to be boxed whole, a speck under the finer look's own
    # minimum, a photo without a uniform ground: nothing a finer look would add.
    assert content_boxes(on_white(90)) and not holds_small_content(on_white(90), 0.05, 0.003)
    assert not holds_small_content(on_white(4), 0.05, 0.003)
    assert not holds_small_content(np.asarray(_grey(photos[0], 160)), 0.05, 0.003)


def test_a_photo_with_detail_up_to_its_edges_has_no_box(photos: list[Path]) -> None:
    # (A photo of one object on a plain backdrop may have one: the object is content too.)
    for path in photos[:4]:
        assert content_boxes(np.asarray(_grey(path))) == []


# --- The fast implementation against a plain one -------------------------------------
# content_boxes counts in integers, skips hopeless blocks and labels a cropped mask; the
# plain version below is the definition written directly (float grey levels, np.median,
# scipy's uniform_filter, every block refined): both must find the same boxes.


def _plain_refine(
    differs: np.ndarray, box: tuple[int, int, int, int], grow: int
) -> tuple[int, int, int, int] | None:
    height, width = differs.shape
    left, top = max(0, box[0] - grow), max(0, box[1] - grow)
    right, bottom = min(width, box[2] + grow), min(height, box[3] + grow)
    while right - left > 2 and bottom - top > 2:
        if differs[top:bottom, left].mean() < 0.5:
            left += 1
        elif differs[top:bottom, right - 1].mean() < 0.5:
            right -= 1
        elif differs[top, left:right].mean() < 0.5:
            top += 1
        elif differs[bottom - 1, left:right].mean() < 0.5:
            bottom -= 1
        else:
            return left, top, right, bottom
    return None


def _plain_content_boxes(
    grey: np.ndarray, min_side: float = 0.18, min_area: float = 0.05, max_boxes: int = 3
) -> list[tuple[int, int, int, int]]:
    height, width = grey.shape
    if min(height, width) < 16:
        return []
    pixels = grey.astype(np.float32)
    ring = np.concatenate(
        [pixels[:2].ravel(), pixels[-2:].ravel(), pixels[:, :2].ravel(), pixels[:, -2:].ravel()]
    )
    background = float(np.median(ring))
    if np.mean(np.abs(ring - background) <= 12.0) < 0.6:
        return []
    differs = np.abs(pixels - background) > 12.0
    step = 2 if min(height, width) >= 64 and max(height, width) >= 240 else 1
    coarse = differs[::step, ::step]
    size = max(3, round(0.04 * min(coarse.shape)))
    density = ndimage.uniform_filter(coarse.astype(np.float32), size=size, mode="constant")
    labels, _ = ndimage.label(density >= 0.85)
    grow = max(1, round(0.02 * min(coarse.shape)))
    boxes = []
    for rows, cols in [f for f in ndimage.find_objects(labels) if f is not None][:64]:
        box = _plain_refine(coarse, (cols.start, rows.start, cols.stop, rows.stop), grow)
        if box is not None:
            box = _plain_refine(differs, tuple(v * step for v in box), step)  # type: ignore[arg-type]
        if box is None:
            continue
        w, h = box[2] - box[0], box[3] - box[1]
        if w < min_side * width or h < min_side * height or w * h < min_area * width * height:
            continue
        if w >= 0.97 * width and h >= 0.97 * height:
            continue
        boxes.append(box)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return boxes[:max_boxes]


def _page(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random page: a plain background, noisy photo-like blocks, sparse text-like speckle."""
    page = np.full((height, width), int(rng.integers(0, 256)), np.int32)
    page += rng.integers(-8, 9, page.shape)  # compression noise, within the background's reach
    for _ in range(int(rng.integers(0, 4))):
        h, w = int(rng.integers(4, height)), int(rng.integers(4, width))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        page[y : y + h, x : x + w] = rng.integers(0, 256, (h, w))
    for _ in range(int(rng.integers(0, 3))):
        h, w = int(rng.integers(4, height)), int(rng.integers(4, width))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        speckle = rng.random((h, w)) < rng.random()
        page[y : y + h, x : x + w][speckle] = int(rng.integers(0, 256))
    return np.clip(page, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(12))
def test_boxes_are_those_of_the_plain_definition_on_random_pages(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Sizes from tiny to a near-square 480 px page, whose density window holds 100
    # cells (a share of exactly 0.85 is possible there).
    height, width = ((20, 30), (90, 160), (200, 320), (480, 500))[seed % 4]
    found = 0
    for _ in range(6):
        grey = _page(rng, height, width)
        boxes = content_boxes(grey)
        assert boxes == _plain_content_boxes(grey)
        found += bool(boxes)
    assert seed % 4 == 0 or found  # the pages do exercise box finding, not only refusals


@pytest.mark.parametrize("seed", range(8))
def test_a_pages_small_boxes_are_those_of_the_plain_definition(seed: int) -> None:
    # The page pass's settings (tanba.fingerprint.image): boxes down to 5% of the sides, a
    # dozen of them. Many small blocks refine within their own cells, a few large ones
    # within the whole mask's: both ways must find the plain definition's boxes.
    rng = np.random.default_rng(100 + seed)
    height, width = ((200, 320), (420, 640))[seed % 2]
    found = 0
    for _ in range(4):
        grey = _page(rng, height, width)
        for _ in range(int(rng.integers(3, 12))):  # small pictures on the page
            h, w = int(rng.integers(12, height // 4)), int(rng.integers(12, width // 4))
            y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
            grey[y : y + h, x : x + w] = rng.integers(0, 256, (h, w))
        boxes = content_boxes(grey, 0.05, 0.003, 12)
        assert boxes == _plain_content_boxes(grey, 0.05, 0.003, 12)
        found += len(boxes)
    assert found >= 4


def test_boxes_are_those_of_the_plain_definition_on_real_layouts(photos: list[Path]) -> None:
    photo = np.asarray(_grey(photos[1], 240))
    for background in (0, 128, 255):
        canvas = np.full((photo.shape[0] + 90, photo.shape[1] + 60), background, np.uint8)
        canvas[40 : 40 + photo.shape[0], 20 : 20 + photo.shape[1]] = photo
        assert content_boxes(canvas) == _plain_content_boxes(canvas) != []
    for path in photos[:6]:
        grey = np.asarray(_grey(path, 320))
        assert content_boxes(grey) == _plain_content_boxes(grey)


def test_window_counts_are_uniform_filter_sums() -> None:
    rng = np.random.default_rng(7)
    for size in (3, 4, 5, 8, 10):
        mask = rng.random((37, 52)) < 0.6
        mean = ndimage.uniform_filter(mask.astype(np.float64), size=size, mode="constant")
        assert np.array_equal(_window_counts(mask, size), np.rint(mean * size * size))


def test_the_background_is_the_ring_median_with_its_share() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        grey = rng.integers(0, 256, (24, 30)).astype(np.uint8)
        grey[rng.random(grey.shape) < rng.random()] = rng.integers(0, 256)
        ring = np.concatenate(
            [grey[:2].ravel(), grey[-2:].ravel(), grey[:, :2].ravel(), grey[:, -2:].ravel()]
        )
        median = float(np.median(ring.astype(np.float32)))
        share = np.mean(np.abs(ring.astype(np.float32) - median) <= 12.0)
        assert _background(grey) == (median if share >= 0.6 else None)


def test_a_float_image_is_refused_rather_than_misread() -> None:
    with pytest.raises(TypeError, match="uint8"):
        content_boxes(np.zeros((40, 40), np.float32))


def test_differing_levels_are_those_more_than_12_from_the_background() -> None:
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for background in (0.0, 5.5, 11.5, 12.0, 100.0, 100.5, 243.5, 250.0, 255.0):
        plain = np.abs(levels.astype(np.float32) - background) > 12.0
        assert np.array_equal(_differing(levels, background), plain), background


def test_density_at_exactly_the_threshold_is_decided_as_the_float_filter_does() -> None:
    # A 10 × 10 window can hold exactly 85 set cells: the float mean then lands either
    # side of 0.85, and the boxes found (hence indexed prints) depend on which side.
    rng = np.random.default_rng(11)
    mask = rng.random((120, 130)) < 0.85
    plain = ndimage.uniform_filter(mask.astype(np.float32), size=10, mode="constant") >= 0.85
    assert (_window_counts(mask, 10) == 85).any()
    assert np.array_equal(_dense(mask, 10), plain)
    for size in (3, 4, 7):
        plain = ndimage.uniform_filter(mask.astype(np.float32), size=size, mode="constant") >= 0.85
        assert np.array_equal(_dense(mask, size), plain)
