"""Find the rectangles of content inside an image: the photo within a border, letterbox or page.

Copies are often the work plus something around it: bars that letterbox it to
another aspect ratio, padding, a passe-partout frame, or a whole web page seen
in a screenshot. Each leaves the work as a dense block of "not background"
pixels on a background that fills the image's border. The boxes returned are
those blocks, so the work can be hashed without its surroundings.

The background is the colour most of the outer ring has; a pixel differs from
it by more than ``_DIFF`` grey levels; a block is where at least ``_DENSE`` of
a neighbourhood differs (text is sparse, a photo is dense). Boxes are refined
by dropping edge rows and columns that are mostly background, and kept when
they are large enough to hash and not the whole image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_RING = 2  # pixels of the outer ring that define the background
_RING_UNIFORM = 0.6  # share of the ring within _DIFF of the background for it to count
_DIFF = 12.0
_DENSE = 0.85
_MIN_SIDE = 0.18  # share of the image's side a box needs
_MIN_AREA = 0.05  # share of the image's area a box needs
_WHOLE = 0.97  # a box this close to the whole image is the image itself
_MAX_BOXES = 3


def content_boxes(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Up to three (left, top, right, bottom) boxes of content on a uniform background, largest first."""
    height, width = grey.shape
    if min(height, width) < 16:
        return []
    pixels = grey.astype(np.float32)
    ring = np.concatenate(
        [
            pixels[:_RING].ravel(),
            pixels[-_RING:].ravel(),
            pixels[:, :_RING].ravel(),
            pixels[:, -_RING:].ravel(),
        ]
    )
    background = float(np.median(ring))
    if np.mean(np.abs(ring - background) <= _DIFF) < _RING_UNIFORM:
        return []
    differs = np.abs(pixels - background) > _DIFF
    # Blocks are found on every second pixel (a quarter of the work); their edges are
    # then settled on every pixel, so the boxes keep the full resolution.
    step = 2 if min(height, width) >= 64 else 1
    coarse = np.ascontiguousarray(differs[::step, ::step])
    size = max(3, round(0.04 * min(coarse.shape)))
    density = ndimage.uniform_filter(coarse.astype(np.float32), size=size, mode="constant")
    labels, _ = ndimage.label(density >= _DENSE)
    boxes = []
    coarse_counts, fine_counts = _EdgeCounts(coarse), _EdgeSlices(differs)
    for found in ndimage.find_objects(labels)[:64]:
        if found is None:
            continue
        rows, cols = found
        box = _refine(coarse_counts, cols.start, rows.start, cols.stop, rows.stop, grow=None)
        if box is None:
            continue
        left, top, right, bottom = (v * step for v in box)
        box = _refine(fine_counts, left, top, right, bottom, grow=step)
        if box is None:
            continue
        left, top, right, bottom = box
        w, h = right - left, bottom - top
        if w < _MIN_SIDE * width or h < _MIN_SIDE * height or w * h < _MIN_AREA * width * height:
            continue
        if w >= _WHOLE * width and h >= _WHOLE * height:
            continue
        boxes.append(box)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return boxes[:_MAX_BOXES]


class _EdgeCounts:
    """Cumulative counts of differing pixels down each column and along each row.

    Computed once per image, so the count on any stretch of a row or column is
    one subtraction, whatever the number of boxes refined.
    """

    def __init__(self, differs: np.ndarray) -> None:
        height, width = differs.shape
        self.height, self.width = height, width
        self.down = np.zeros((height + 1, width), np.int32)
        np.cumsum(differs, axis=0, out=self.down[1:])
        self.along = np.zeros((height, width + 1), np.int32)
        np.cumsum(differs, axis=1, out=self.along[:, 1:])

    def column(self, x: int, top: int, bottom: int) -> float:
        return float(self.down[bottom, x] - self.down[top, x]) / (bottom - top)

    def row(self, y: int, left: int, right: int) -> float:
        return float(self.along[y, right] - self.along[y, left]) / (right - left)


class _EdgeSlices:
    """The same answers as :class:`_EdgeCounts` read straight off the mask: for a few reads."""

    def __init__(self, differs: np.ndarray) -> None:
        self.differs = differs
        self.height, self.width = differs.shape

    def column(self, x: int, top: int, bottom: int) -> float:
        return float(np.count_nonzero(self.differs[top:bottom, x])) / (bottom - top)

    def row(self, y: int, left: int, right: int) -> float:
        return float(np.count_nonzero(self.differs[y, left:right])) / (right - left)


def _refine(
    counts: _EdgeCounts | _EdgeSlices,
    left: int,
    top: int,
    right: int,
    bottom: int,
    *,
    grow: int | None,
) -> tuple[int, int, int, int] | None:
    """Grow the box, then shrink it while an edge row or column is mostly background.

    A mostly-background edge is a text line's fringe or the blur of the density
    filter. ``grow`` is in pixels; None grows by 2% of the side, about the blur.
    """
    if grow is None:
        grow = max(1, round(0.02 * min(counts.height, counts.width)))
    left, top = max(0, left - grow), max(0, top - grow)
    right, bottom = min(counts.width, right + grow), min(counts.height, bottom + grow)
    while right - left > 2 and bottom - top > 2:
        if counts.column(left, top, bottom) < 0.5:
            left += 1
        elif counts.column(right - 1, top, bottom) < 0.5:
            right -= 1
        elif counts.row(top, left, right) < 0.5:
            top += 1
        elif counts.row(bottom - 1, left, right) < 0.5:
            bottom -= 1
        else:
            return left, top, right, bottom
    return None
