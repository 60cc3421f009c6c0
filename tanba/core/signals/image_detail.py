"""The detail check of an image candidate: finer coefficients of the copy's window against the
same window cut from the registered work's thumbnail.

Contract: a crawled copy's print carries, per window, :data:`DETAIL_LENGTH` int8
*detail* values: the DCT coefficients of the 32×32 window between the 8×8 block
the descriptor keeps and the 16×16 block (twice the resolution), whitened by
frequency and scaled to unit length (:func:`detail_rows`). A registered work's
print carries a :data:`THUMBNAIL_SIDE`² grey thumbnail of the whole picture instead
(a window's details are cut from it when a candidate needs them: a thumbnail is
4 KiB a work, details for all of a work's hundred windows would be 19 KiB).
:func:`detail_similarity` cuts the reference window (by its variant name,
:func:`window_geometry`) from the thumbnail at a few small shifts and scales, and
returns the best cosine with the copy's details.

Why: the descriptor sees an 8×8 sketch of a window. Real catalogues hold many
pictures whose sketches agree by chance (a round planet and a round badge, one
dialog frame and another): on ``bench/real_catalogue.py`` the worst false matches
scored 0.9999 on the descriptor. Their details disagree; a copy's agree, once the
copy's window is aligned to within a pixel or so of the work's (the grid of
windows leaves up to about 2.5% of a side between them, which turns the finer
coefficients' phase around, hence the search over shifts and scales).
"""

from __future__ import annotations

import base64
import functools
import itertools
import math
import re

import numpy as np
from scipy import ndimage
from scipy.fftpack import dct

from tanba.core.signals.image import FULL, ImagePrint

DETAIL = "dct16band-whitened-i8"
THUMBNAIL = "grey64-u8"
THUMBNAIL_SIDE = 64
_N = 32  # the window side the coefficients are taken at (as the pHash's)
_K = 16  # coefficients kept per axis
_U, _V = np.meshgrid(np.arange(_K), np.arange(_K), indexing="ij")
# The band: coefficients of the 16×16 block outside the descriptor's 8×8 one.
_BAND = ((_U >= 8) | (_V >= 8)).reshape(-1)
_WHITEN = np.hypot(_U, _V).reshape(-1)[_BAND]
DETAIL_LENGTH = int(_BAND.sum())  # 192
# The descriptor's block inside the 16×16 one: its 8×8 coefficients, the DC term dropped, as
# tanba.fingerprint.image whitens them (a descriptor is this sketch; see aligned_similarity).
_SKETCH = ((_U < 8) & (_V < 8)).reshape(-1)
_SKETCH_WHITEN = np.hypot(_U, _V).reshape(-1)[_SKETCH][1:]
# Alignments tried between a copy's window and the work's: shifts (shares of the window's
# side) and a scale per axis. The grid of reference windows leaves up to about 2.5% per
# side, and a crop cuts each axis its own share, so the two sides of a window can be off
# by 5% in width and in height independently.
_SHIFTS = (-0.03, -0.015, 0.0, 0.015, 0.03)
_SCALES = (0.96, 1.0, 1.04)
# Each alignment as indices into (_SHIFTS x, _SHIFTS y, _SCALES x, _SCALES y), x shift outermost.
_ALIGNMENT_INDEX = np.array(
    list(
        itertools.product(*(range(len(values)) for values in (_SHIFTS, _SHIFTS, _SCALES, _SCALES)))
    )
)
_ALIGNMENTS = np.column_stack(
    [
        np.take(values, _ALIGNMENT_INDEX[:, i])
        for i, values in enumerate((_SHIFTS, _SHIFTS, _SCALES, _SCALES))
    ]
)

# Percentages (whole for a work's windows; a copy's content box gives hundredths, see
# crop_variant), and angles in degrees (older prints may have written them otherwise).
_SHARE = r"(\d+(?:\.\d+)?)"
_CROP = re.compile(rf"^crop:{_SHARE}-{_SHARE}-{_SHARE}-{_SHARE}$")
_ROTATION = re.compile(r"^rot:([+-]?\d+(?:\.\d+)?)$")
# The window a rotated reference is cut to (shares off left, right, top, bottom).
ROTATED_WINDOW = (0.08, 0.08, 0.08, 0.08)


def crop_variant(left: float, right: float, top: float, bottom: float, decimals: int = 0) -> str:
    """The variant name of the window that cuts these shares off each side, in percent with
    ``decimals`` places (a work's windows lie on a grid of whole percentages; a copy's content
    box is placed in hundredths: a picture 120 px wide in a 1,366-px page is 8.8% of it, and
    whole percentages would misplace its sides by up to 11% of its width)."""
    return "crop:" + "-".join(
        f"{share * 100:0{1 if decimals else 2}.{decimals}f}" for share in (left, right, top, bottom)
    )


def rotation_variant(angle: float) -> str:
    """The variant name of the picture rotated by ``angle`` degrees (counter-clockwise),
    cut to :data:`ROTATED_WINDOW`."""
    return f"rot:{angle:+.0f}"


@functools.lru_cache(maxsize=512)
def window_geometry(variant: str) -> tuple[float, float, float, float, float] | None:
    """(left, right, top, bottom, angle) of a registered work's window, from its variant
    name; None for a name this module does not know (then no detail check is possible)."""
    if variant == FULL:
        return (0.0, 0.0, 0.0, 0.0, 0.0)
    crop = _CROP.match(variant)
    if crop:
        left, right, top, bottom = (float(g) / 100 for g in crop.groups())
        return (left, right, top, bottom, 0.0)
    rotation = _ROTATION.match(variant)
    if rotation:
        return (*ROTATED_WINDOW, float(rotation.group(1)))
    return None


def coefficients16(pixels: np.ndarray) -> np.ndarray:
    """The 16×16 low-frequency DCT of 32×32 windows (n × 32 × 32) as rows (n × 256)."""
    block = dct(dct(pixels, axis=1)[:, :_K], axis=2)[:, :, :_K]
    return block.reshape(len(pixels), _K * _K)


def detail_rows(coefficients: np.ndarray) -> np.ndarray:
    """The int8 details of 16×16 coefficient rows (n × 256): the band, whitened, unit length."""
    band = _unit(coefficients[:, _BAND] * _WHITEN)
    return np.round(127 * band).astype(np.int8)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def pack(rows: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(rows).tobytes()).decode()


def thumbnail_rows(thumbnail_b64: str) -> np.ndarray | None:
    """The thumbnail packed in a print, as a square uint8 array (None if absent or malformed)."""
    raw = base64.b64decode(thumbnail_b64) if thumbnail_b64 else b""
    if len(raw) != THUMBNAIL_SIDE * THUMBNAIL_SIDE:
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(THUMBNAIL_SIDE, THUMBNAIL_SIDE)


def _geometry(
    width: int, height: int, variant: str
) -> tuple[float, float, float, float, float] | None:
    """(centre x, centre y, width, height, angle) of the work's window in picture pixels."""
    geometry = window_geometry(variant)
    if geometry is None or width <= 0 or height <= 0:
        return None
    left, right, top, bottom, angle = geometry
    x0, x1 = left * width, width - right * width
    y0, y1 = top * height, height - bottom * height
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, angle


_GRID = (np.arange(_N) + 0.5) / _N - 0.5  # sample positions across a window, -0.5..0.5


def reference_windows(
    thumbnail: np.ndarray, width: int, height: int, variant: str
) -> np.ndarray | None:
    """The work's window named ``variant``, cut from its thumbnail at every alignment of
    :data:`_ALIGNMENTS` and resampled to 32×32 (a × 32 × 32, float64, bilinear); None if
    unknown. The reference for :func:`reference_coefficients`, which is faster.

    The thumbnail squeezes the picture to a square, so shares of the width and height map
    straight onto it; a rotation is turned in the picture's own proportions (``width`` ×
    ``height``), as the fingerprinter turned the full-size picture.
    """
    found = _geometry(width, height, variant)
    if found is None:
        return None
    cx, cy, w, h, angle = found
    side = thumbnail.shape[0]
    dx, dy, sx, sy = (_ALIGNMENTS[:, i, None, None] for i in range(4))
    xs = cx + dx * w + _GRID[None, None, :] * w * sx
    ys = cy + dy * h + _GRID[None, :, None] * h * sy
    xs, ys = np.broadcast_arrays(xs, ys)
    if angle:
        # Pillow's rotate(angle) turns the picture counter-clockwise about its centre: the
        # output pixel at p shows the input at the centre + R(angle) (p - centre), y down.
        theta = math.radians(angle)
        ox, oy = width / 2, height / 2
        rx, ry = xs - ox, ys - oy
        xs = ox + math.cos(theta) * rx - math.sin(theta) * ry
        ys = oy + math.sin(theta) * rx + math.cos(theta) * ry
    coords = [ys * side / height - 0.5, xs * side / width - 0.5]
    sampled = ndimage.map_coordinates(
        np.asarray(thumbnail, np.float64), coords, order=1, mode="nearest"
    )
    return np.asarray(sampled, np.float64)


# The 16 × 32 matrix of the unnormalised DCT-II (scipy's): row k, column n.
_DCT = 2 * np.cos(np.pi * np.arange(_K)[:, None] * (2 * np.arange(_N)[None, :] + 1) / (2 * _N))


def _bilinear(positions: np.ndarray, size: int) -> np.ndarray:
    """The (len(positions) × size) matrix that samples a line of ``size`` pixels bilinearly at
    ``positions`` (pixel centres at integers; beyond the ends, the end pixel)."""
    clamped = np.clip(positions, 0, size - 1)
    low = np.minimum(np.floor(clamped).astype(int), size - 2)
    frac = clamped - low
    weights = np.zeros((len(positions), size))
    rows = np.arange(len(positions))
    weights[rows, low] = 1 - frac
    weights[rows, low + 1] += frac
    return weights


def reference_coefficients(
    thumbnail: np.ndarray, width: int, height: int, variant: str
) -> np.ndarray | None:
    """The 16×16 coefficients (a × 256) of :func:`reference_windows`, the same numbers but
    for rounding.

    Why a second way: an unrotated window is sampled separably (rows, then columns), so
    sampling and the DCT fold into two small matrices per axis and alignment: a detail
    check over 225 alignments took 2.2 ms this way and 12.8 ms sampling each pixel and
    transforming each window (one thumbnail, 50 checks, on a shared 2-core machine).
    Rotated windows take the general way.
    """
    found = _geometry(width, height, variant)
    if found is None:
        return None
    cx, cy, w, h, angle = found
    if angle:
        windows = reference_windows(thumbnail, width, height, variant)
        return None if windows is None else coefficients16(windows)
    side = thumbnail.shape[0]
    # One (16 × side) matrix per shift and scale of an axis: DCT rows of its bilinear samples.
    axis = [(d, scale) for d in _SHIFTS for scale in _SCALES]
    across = np.array(
        [_DCT @ _bilinear((cx + d * w + _GRID * w * k) * side / width - 0.5, side) for d, k in axis]
    )
    down = np.array(
        [
            _DCT @ _bilinear((cy + d * h + _GRID * h * k) * side / height - 0.5, side)
            for d, k in axis
        ]
    )
    rows = down @ np.asarray(thumbnail, np.float64)  # (y alignments) × 16 × side
    blocks = np.einsum("yak,xbk->yxab", rows, across)  # every (y, x) alignment pair
    # In the order of _ALIGNMENTS (dx, dy, sx, sy), as reference_windows gives them.
    n = len(_SCALES)
    x = _ALIGNMENT_INDEX[:, 0] * n + _ALIGNMENT_INDEX[:, 2]
    y = _ALIGNMENT_INDEX[:, 1] * n + _ALIGNMENT_INDEX[:, 3]
    return blocks[y, x].reshape(len(_ALIGNMENTS), _K * _K)


def detail_similarity(
    query: np.ndarray, thumbnail: np.ndarray, width: int, height: int, variant: str
) -> float | None:
    """The best cosine between a copy's window details (``query``, int8) and the work's
    window ``variant`` cut from its thumbnail at each alignment; None when it cannot be cut."""
    coefficients = reference_coefficients(thumbnail, width, height, variant)
    if coefficients is None:
        return None
    reference = _unit(coefficients[:, _BAND] * _WHITEN)
    q = _unit(np.asarray(query, np.float64).reshape(1, -1))[0]
    return float((reference @ q).max())


def aligned_similarity(
    query: np.ndarray, thumbnail: np.ndarray, width: int, height: int, variant: str
) -> float | None:
    """The best cosine between a copy's window descriptor (``query``, int8) and the work's
    window ``variant`` sketched from its thumbnail at each alignment of :func:`detail_similarity`;
    None when the window cannot be cut.

    Why: the descriptor test compares the copy's window with the work's nearest window of the
    grid, which a crop can leave a few percent off; that shift alone takes a true pair under
    the descriptor's bar (0.88 to 0.93 for crops of 25% on ``bench.quality``'s calibration
    works), where the same sketch cut at the copy's place agrees by 0.98 or more. The
    thumbnail is smaller than the window the descriptor was taken from, so the figure is a
    little under the print's own for a true pair (tested).
    """
    coefficients = reference_coefficients(thumbnail, width, height, variant)
    if coefficients is None:
        return None
    sketches = _unit(coefficients[:, _SKETCH][:, 1:] * _SKETCH_WHITEN)
    q = _unit(np.asarray(query, np.float64).reshape(1, -1))[0]
    return float((sketches @ q).max())


def print_details(image: ImagePrint) -> np.ndarray | None:
    """A copy's details, one int8 row per hash (None for a print without them)."""
    raw = base64.b64decode(image.details_b64) if image.details_b64 else b""
    if image.detail != DETAIL or len(raw) != DETAIL_LENGTH * len(image.hashes):
        return None
    return np.frombuffer(raw, dtype=np.int8).reshape(-1, DETAIL_LENGTH)


def print_thumbnail(image: ImagePrint) -> np.ndarray | None:
    """A registered work's thumbnail (None for a print without one)."""
    if image.thumbnail != THUMBNAIL:
        return None
    return thumbnail_rows(image.thumbnail_b64)
