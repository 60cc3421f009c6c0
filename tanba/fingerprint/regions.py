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

This runs on every crawled image, so each step is a few whole-array
operations: the ring is judged from a histogram of its grey levels, the masks
stay integer (whole grey levels make "differs by more than ``_DIFF``" two
comparisons; neighbourhood counts are sums of shifted masks), and a block too
small to become a box even at its most grown is dropped before any refining.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

_RING = 2  # pixels of the outer ring that define the background
_RING_UNIFORM = 0.6  # share of the ring within _DIFF of the background for it to count
_DIFF = 12.0
# Levels of Cb or Cr a pixel may differ from the background's and still be background. On
# bench/quality.py's banners of the calibration works (64 wallpapers, each 150-300 px tall on
# a 1,280-px banner of a random colour), the page's boxes in grey alone found 49; with chroma
# differences over 5, 8 or 12 levels 63, 62 and 62 (8: clear of JPEG's chroma noise).
_CHROMA_DIFF = 8.0
_DENSE = 0.85
_MIN_SIDE = 0.18  # share of the image's side a box needs
_MIN_AREA = 0.05  # share of the image's area a box needs
_WHOLE = 0.97  # a box this close to the whole image is the image itself
_MAX_BOXES = 3
# Long side (pixels) from which blocks are looked for on every second pixel. A page
# screenshot needs a grid of about 170 cells: at 85, recall on bench/quality.py's page
# canvases fell from 0.94 to 0.42 (measured).
_FINE = 240
_MAX_BLOCKS = 64  # blocks refined at most, in label order (a page of text has hundreds)
_CROSS = ndimage.generate_binary_structure(2, 1)  # blocks join along edges, not corners

Box = tuple[int, int, int, int]  # left, top, right, bottom


def content_boxes(
    grey: np.ndarray,
    min_side: float = _MIN_SIDE,
    min_area: float = _MIN_AREA,
    max_boxes: int = _MAX_BOXES,
    chroma: np.ndarray | None = None,
) -> list[Box]:
    """Up to ``max_boxes`` (left, top, right, bottom) boxes of content on a uniform
    background, largest first, each at least ``min_side`` of the image's sides and
    ``min_area`` of its area.

    ``grey`` is a uint8 greyscale array (rows × columns); ``chroma``, when given, its colour
    (:class:`Blocks`).
    """
    return Blocks(grey, chroma).boxes(min_side, min_area, max_boxes)


def holds_small_content(grey: np.ndarray, min_side: float, min_area: float) -> bool:
    """Whether the image's outer ring is one uniform background (a page, a banner, a frame)
    and it holds a block of content too small for :func:`content_boxes`' defaults that
    reaches ``min_side`` and ``min_area`` (:meth:`Blocks.small`)."""
    return Blocks(grey).small(min_side, min_area)


class Blocks:
    """The dense blocks of content on an image's uniform background, found once for the
    questions asked of them: which boxes they make (:meth:`boxes`), whether one is too small
    for the default boxes (:meth:`small`).

    Finding them is most of either answer's cost on a query's working image (a third of a
    millisecond on bench/speed.py's files), and a large copy asks both.
    """

    def __init__(self, grey: np.ndarray, chroma: np.ndarray | None = None) -> None:
        """``chroma``: the image's Cb and Cr planes (rows × columns × 2, uint8), or None. With
        them a pixel also differs from the background by its colour (more than
        :data:`_CHROMA_DIFF` on a plane whose ring is uniform): a picture as dark as the page
        it is on is still a block."""
        if grey.dtype != np.uint8:
            raise TypeError(f"content_boxes takes uint8 grey levels, not {grey.dtype}")
        self.shape: tuple[int, int] = grey.shape  # type: ignore[assignment]
        self.found: list[Box] = []
        self.reach: list[Box] = []  # each block's most grown box, in pixels
        height, width = grey.shape
        background = _background(grey) if min(height, width) >= 16 else None
        if background is None:
            return
        self.grey, self.background = grey, background
        self.planes: list[tuple[np.ndarray, float]] = []
        if chroma is not None:
            for plane in (chroma[:, :, 0], chroma[:, :, 1]):
                level = _background(plane, _CHROMA_DIFF)
                if level is not None:
                    self.planes.append((plane, level))
        # Blocks are found on every pixel of an image under _FINE pixels on its long side,
        # and on every second pixel of a larger one (a quarter of the work). Their edges
        # are then settled on every pixel, so the boxes keep the full resolution: a larger
        # image's differing pixels are found on every pixel only where a box is refined
        # (:meth:`_differs`), its coarse mask from every second pixel alone.
        self.step = 2 if min(height, width) >= 64 and max(height, width) >= _FINE else 1
        step = self.step
        self.coarse = self._differs_on(slice(None, None, step), slice(None, None, step))
        size = max(3, round(0.04 * min(self.coarse.shape)))
        self.grow = max(1, round(0.02 * min(self.coarse.shape)))
        self.found = _blocks(_dense(self.coarse, size))
        # Refining only shrinks a box after growing it: a block still too small at its most
        # grown (both growths) cannot become a box, and most blocks are.
        self.reach = [
            _grown(_scaled(_grown(block, self.grow, self.coarse.shape), step), step, self.shape)
            for block in self.found
        ]

    def boxes(
        self, min_side: float = _MIN_SIDE, min_area: float = _MIN_AREA, max_boxes: int = _MAX_BOXES
    ) -> list[Box]:
        """:func:`content_boxes` of the image."""
        height, width = self.shape
        wanted = [
            (block, reach)
            for block, reach in zip(self.found, self.reach, strict=True)
            if _large_enough(reach, width, height, min_side, min_area)
        ]
        if not wanted:
            return []
        step = self.step
        # Each mask's cells as bytes, row by row and column by column. A block's refining
        # never leaves its most grown box (the coarse pass its block grown once, the fine
        # pass its reach), so each block gets the cells of those boxes alone when they are
        # smaller than the mask together (a page's small pictures), and else the whole
        # masks, made once for all its blocks.
        whole = sum(_area(reach) for _, reach in wanted) >= height * width
        cells = _Cells(self._differs()) if whole else None
        coarse_cells = cells if step == 1 or not whole else _Cells(self.coarse)
        boxes = []
        for block, reach in wanted:
            if cells is None or coarse_cells is None:
                left, top, right, bottom = _grown(block, self.grow, self.coarse.shape)
                around = _Cells(self.coarse[top:bottom, left:right], left, top)
                box = _refine(around, block, self.grow)
                fine = _Cells(self._differs(reach), reach[0], reach[1])
            else:
                box = _refine(coarse_cells, block, self.grow)
                fine = cells
            if box is None:
                continue
            box = _refine(fine, _scaled(box, step), step)
            if box is None or not _large_enough(box, width, height, min_side, min_area):
                continue
            left, top, right, bottom = box
            if right - left >= _WHOLE * width and bottom - top >= _WHOLE * height:
                continue
            boxes.append(box)
        boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
        return boxes[:max_boxes]

    def _differs(self, box: Box | None = None) -> np.ndarray:
        """Where the image's pixels (within ``box``, else all) differ from the background."""
        left, top, right, bottom = box or (0, 0, self.shape[1], self.shape[0])
        if self.step == 1:
            return self.coarse[top:bottom, left:right]
        return self._differs_on(slice(top, bottom), slice(left, right))

    def _differs_on(self, rows: slice, columns: slice) -> np.ndarray:
        """Where the pixels of these rows and columns differ from the background, in grey or
        in colour."""
        mask = _differing(self.grey[rows, columns], self.background)
        for plane, level in self.planes:
            mask |= _differing(plane[rows, columns], level, _CHROMA_DIFF)
        return mask

    def small(self, min_side: float, min_area: float) -> bool:
        """Whether a block is too small for the default boxes (under ``_MIN_SIDE`` of a side
        or ``_MIN_AREA`` of the area, even at its most grown) but reaches ``min_side`` and
        ``min_area``.

        A cheap test on the working image, for whether a finer look is worth it: a page's
        small picture is such a block there; a lone drawing on a plain ground is not (it is
        boxed whole already, or makes no block at all).
        """
        height, width = self.shape
        return any(
            _large_enough(reach, width, height, min_side, min_area)
            and not _large_enough(reach, width, height, _MIN_SIDE, _MIN_AREA)
            for reach in self.reach
        )


def _blocks(dense: np.ndarray) -> list[Box]:
    """The bounding boxes of the first ``_MAX_BLOCKS`` connected blocks of the mask, in label
    order (the order in which a raster scan meets each block).

    Labelled within the rows and columns that hold a dense cell: a quarter less
    to scan on a typical page, and cutting away empty margins changes neither
    the blocks nor their order.
    """
    rows, columns = np.flatnonzero(dense.any(axis=1)), np.flatnonzero(dense.any(axis=0))
    if not len(rows):
        return []
    top, left = int(rows[0]), int(columns[0])
    inner = dense[top : rows[-1] + 1, left : columns[-1] + 1]
    labels, _ = ndimage.label(inner, structure=_CROSS)
    return [
        (found[1].start + left, found[0].start + top, found[1].stop + left, found[0].stop + top)
        for found in ndimage.find_objects(labels, max_label=_MAX_BLOCKS)
        if found is not None
    ]


def _background(grey: np.ndarray, diff: float = _DIFF) -> float | None:
    """The median grey level of the outer ring, or None when too little of the ring is near it.

    The ring is a few thousand pixels of 256 levels: their histogram gives the median
    (``np.median``'s, the mean of the two middle values) and the share near it at once.
    """
    ring = np.concatenate(
        [
            grey[:_RING].ravel(),
            grey[-_RING:].ravel(),
            grey[:, :_RING].ravel(),
            grey[:, -_RING:].ravel(),
        ]
    )
    below = np.bincount(ring, minlength=256).cumsum()  # below[v]: ring pixels at v or darker
    count = len(ring)
    middle = np.searchsorted(below, [(count - 1) // 2, count // 2], side="right")
    background = float(middle.sum()) / 2
    low, high = _near(background, diff)
    near = int(below[high]) - (int(below[low - 1]) if low > 0 else 0)
    return background if near / count >= _RING_UNIFORM else None


def _near(background: float, diff: float = _DIFF) -> tuple[int, int]:
    """The whole levels within ``diff`` of the background, as an inclusive range in 0..255."""
    return max(0, math.ceil(background - diff)), min(255, math.floor(background + diff))


def _differing(grey: np.ndarray, background: float, diff: float = _DIFF) -> np.ndarray:
    """Where a pixel is more than ``diff`` levels from the background."""
    low, high = _near(background, diff)
    return (grey < low) | (grey > high)


def _dense(mask: np.ndarray, size: int) -> np.ndarray:
    """Where at least ``_DENSE`` of the size × size window around a cell is set.

    The share is ``scipy.ndimage.uniform_filter``'s float mean (zeros outside).
    Whole counts give the same answer several times faster, except for a window
    holding exactly ``_DENSE`` (sizes that are multiples of 10): the float mean
    lands on either side of the threshold then, so those sizes keep the filter,
    and the boxes stay those of the plain definition the tests hold them to.
    """
    needed = _DENSE * size * size
    if abs(needed - round(needed)) < 1e-6:
        return ndimage.uniform_filter(mask.astype(np.float32), size=size, mode="constant") >= _DENSE
    return _window_counts(mask, size) >= math.ceil(needed)


def _window_counts(mask: np.ndarray, size: int) -> np.ndarray:
    """How many set cells each size × size window holds, zeros outside the mask.

    The window of cell (y, x) starts ``size // 2`` cells before it on each axis, as
    ``scipy.ndimage.uniform_filter`` places it.
    """
    height, width = mask.shape
    before = size // 2
    padded = np.zeros((height + size - 1, width + size - 1), np.uint16 if size < 256 else np.uint32)
    padded[before : before + height, before : before + width] = mask
    # One axis after the other, each a few whole-array additions (size is small).
    columns = padded[:height].copy()
    for shift in range(1, size):
        columns += padded[shift : shift + height]
    counts = columns[:, :width].copy()
    for shift in range(1, size):
        counts += columns[:, shift : shift + width]
    return counts


def _grown(box: Box, grow: int, shape: tuple[int, ...]) -> Box:
    """The box widened by ``grow`` on each side, within an array of this shape."""
    left, top, right, bottom = box
    height, width = shape
    return (
        max(0, left - grow),
        max(0, top - grow),
        min(width, right + grow),
        min(height, bottom + grow),
    )


def _scaled(box: Box, step: int) -> Box:
    return box[0] * step, box[1] * step, box[2] * step, box[3] * step


def _large_enough(box: Box, width: int, height: int, min_side: float, min_area: float) -> bool:
    w, h = box[2] - box[0], box[3] - box[1]
    return w >= min_side * width and h >= min_side * height and w * h >= min_area * width * height


class _Cells:
    """A mask's cells (of the whole image, or of a box of it at ``left``, ``top``) as bytes
    (0 or 1), row after row and column after column: a run of cells in a row or a column is
    counted by ``bytes.count``, without a numpy call each."""

    def __init__(self, mask: np.ndarray, left: int = 0, top: int = 0) -> None:
        self.left, self.top = left, top  # where the mask's first cell is in the image
        self.shape = mask.shape
        self.rows = mask.tobytes()
        self.columns = mask.T.tobytes()


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _refine(cells: _Cells, box: Box, grow: int) -> Box | None:
    """Grow the box, then shrink it while an edge row or column is mostly background.

    A mostly-background edge is a text line's fringe or the blur of the density
    filter. Edges are tried in a fixed order (left, right, top, bottom), one
    step at a time, as each step changes the others' shares. A refined box takes
    a few dozen steps, most of them runs of one or two lines (so measuring runs
    with array operations does not pay), and each step costs microseconds: so
    the four edges' counts of differing cells are kept and updated, not
    recounted. Removing a column takes one cell from the top and bottom rows'
    counts, and only the new edge line is counted in full.
    """
    # In the region's own coordinates: its edges clip the grown box as the mask's would, as
    # the region holds the box grown and clipped to the mask.
    dx, dy = cells.left, cells.top
    left, top, right, bottom = _grown(
        (box[0] - dx, box[1] - dy, box[2] - dx, box[3] - dy), grow, cells.shape
    )
    height, width = cells.shape
    by_row, by_column = cells.rows, cells.columns

    def in_row(y: int) -> int:
        return by_row.count(1, y * width + left, y * width + right)

    def in_column(x: int) -> int:
        return by_column.count(1, x * height + top, x * height + bottom)

    on_left, on_right = in_column(left), in_column(right - 1)
    on_top, on_bottom = in_row(top), in_row(bottom - 1)
    while right - left > 2 and bottom - top > 2:
        rows, columns = bottom - top, right - left
        if 2 * on_left < rows:
            on_top -= by_row[top * width + left]
            on_bottom -= by_row[(bottom - 1) * width + left]
            left += 1
            on_left = in_column(left)
        elif 2 * on_right < rows:
            right -= 1
            on_top -= by_row[top * width + right]
            on_bottom -= by_row[(bottom - 1) * width + right]
            on_right = in_column(right - 1)
        elif 2 * on_top < columns:
            on_left -= by_row[top * width + left]
            on_right -= by_row[top * width + right - 1]
            top += 1
            on_top = in_row(top)
        elif 2 * on_bottom < columns:
            bottom -= 1
            on_left -= by_row[bottom * width + left]
            on_right -= by_row[bottom * width + right - 1]
            on_bottom = in_row(bottom - 1)
        else:
            return left + dx, top + dy, right + dx, bottom + dy
    return None
