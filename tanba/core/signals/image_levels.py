"""The grey-level check of an image candidate: the copy's lightness against the work's, cell by cell.

Contract: :func:`level_residual` takes a window pair placed by the geometry test
(:func:`~tanba.core.signals.image_geometry.implied_frame`: where the copy's whole picture
lies on the work), the copy's and the work's
:data:`~tanba.core.signals.image_detail.THUMBNAIL_SIDE`² grey thumbnails (the whole
picture squeezed to a square, :func:`tanba.fingerprint.image.thumbnail`), and the work's
window name. It averages each thumbnail over a :data:`GRID`² grid of cells across the
work's window (the copy's cells where the frame puts them on the copy, bilinear, the
edge pixel beyond the edge) and returns the mean absolute difference (grey levels,
0..255) between the copy's cells and the work's after the best brightness and contrast
change of the work allowed: ``slope × work + offset`` (clipped to 0..255), the slope
within :data:`SLOPES`, the offset within :data:`OFFSETS`. None when the pair cannot be
judged (a window whose place is unknown, an empty frame, a window that covers under
:data:`MIN_COPY_SPAN` of the copy: a small content box). :func:`level_residual_reference`
computes it point by point, the reference the fast one is tested against.

Why: the descriptor and the details are blind to brightness and contrast (a copy made
darker or paler must still match), so on ``bench/real_catalogue.py`` (55,676 real works)
most false matches they left are one shape in other greys: a light-blue halo against a
black dot, a dark porthole against a bright green disc, a black-and-grey checker against
a red-and-white flag, a grey metal plate against a black square. A copy keeps the work's
grey levels up to a moderate brightness and contrast change (bench.quality alters them
by 25%, a greyscale copy keeps the luma the thumbnails hold); those pairs need far more.
No data is added to a work's print: its thumbnail is already kept for the detail check;
a copy's print carries its own thumbnail (4 KiB, on the copy's message only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from tanba.core.signals.image_detail import window_geometry
from tanba.core.signals.image_geometry import Frame

GRID = 4  # cells per axis: coarse, so a copy a few per cent off still lands in the same cells
_SAMPLES = 4  # bilinear sample points per cell and axis, averaged into the cell
# The brightness and contrast changes a copy may make: a slope of 0.7-1.35 and an offset of
# up to 70 grey levels hold bench.quality's +-25% brightness and contrast (a contrast change
# about the picture's mean grey is a slope and an offset) with a margin.
SLOPES = np.round(np.arange(0.7, 1.36, 0.025), 3)  # 1.0 (no change) among them
OFFSETS = np.arange(-70.0, 71.0, 2.0)
# The texture check (texture_excess): the quantile of a side's gradient magnitudes that is its
# texture (a quarter of the samples, so the edges of a disc or a square, fewer, do not count)
# and how many times the work's (slope-scaled) texture a copy may show before the rest counts:
# a copy's resampling and JPEG noise raise its texture, a flat work's stays near 0. Chosen on
# bench/real_catalogue.py's calibration half with the true copies (2 to 3 gave the same pairs).
TEXTURE_QUANTILE = 25.0
TEXTURE_SLACK = 2.0
# A pair is judged only where the work's window covers at least this share of each side of
# the copy's thumbnail (32 of its 64 px): a content box a tenth of a page wide is 6 px there,
# its samples interpolated from a few pixels and mixed with the page around it (a photo 180
# px wide in a busy page of 1,366 showed twice the work's texture). Every window of a copy
# but its content boxes covers at least 76% of it.
MIN_COPY_SPAN = 0.5
# Sample positions across a window, 0..1, cell by cell (GRID x _SAMPLES of them).
_SPAN = (np.arange(GRID * _SAMPLES) + 0.5) / (GRID * _SAMPLES)


def _positions(frame: Frame, work_variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The sample points across the work's window, in shares of the work's sides (xs, ys), and
    the same points' x on the copy; None when the pair cannot be judged."""
    geometry = window_geometry(work_variant)
    width, height = frame.right - frame.left, frame.bottom - frame.top
    if geometry is None or width <= 0 or height <= 0:
        return None
    left, right, top, bottom, _ = geometry  # a turned window: its inner, unturned part
    if min((1 - left - right) / width, (1 - top - bottom) / height) < MIN_COPY_SPAN:
        return None  # too little of the copy's thumbnail to judge
    xs = left + _SPAN * (1 - left - right)
    ys = top + _SPAN * (1 - top - bottom)
    u = (xs - frame.left) / width
    return xs, ys, 1 - u if frame.mirrored else u


@dataclass(frozen=True)
class Tones:
    """How a copy's greys compare with the work's where a window pair places it."""

    residual: float  # :func:`level_residual`
    excess: float  # :func:`texture_excess`


def tones(copy: np.ndarray, work: np.ndarray, frame: Frame, work_variant: str) -> Tones | None:
    """The level residual and the texture excess of a pair from one sampling and one fit of
    both thumbnails (the matcher asks both of every judged pair); None when the pair cannot
    be judged."""
    found = _positions(frame, work_variant)
    if found is None:
        return None
    xs, ys, u = found
    v = (ys - frame.top) / (frame.bottom - frame.top)
    theirs, ours = _samples(copy, u, v), _samples(work, xs, ys)
    residual, slope = _fit(_by_cell(theirs), _by_cell(ours))
    return Tones(residual, _texture(theirs) - TEXTURE_SLACK * slope * _texture(ours))


def level_residual(
    copy: np.ndarray, work: np.ndarray, frame: Frame, work_variant: str
) -> float | None:
    """The mean grey-level difference left between the copy's cells and the work's over the
    work's window ``work_variant`` after the best allowed brightness and contrast change;
    None when the pair cannot be judged."""
    found = tones(copy, work, frame, work_variant)
    return None if found is None else found.residual


def _fit(theirs: np.ndarray, ours: np.ndarray) -> tuple[float, float]:
    """The least mean absolute difference of the copy's cells ``theirs`` from the work's
    ``ours`` changed by an allowed slope and offset, and that slope (the first best one,
    slopes then offsets in order)."""
    changed = np.clip(
        SLOPES[:, None, None] * ours[None, None, :] + OFFSETS[None, :, None], 0.0, 255.0
    )
    errors = np.abs(changed - theirs).mean(axis=-1)
    best = int(errors.argmin())
    return float(errors.flat[best]), float(SLOPES[best // len(OFFSETS)])


def _samples(thumbnail: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The square ``thumbnail`` sampled bilinearly at ``xs`` x ``ys`` (shares of its sides)."""
    side = thumbnail.shape[0]
    rows, columns = np.meshgrid(ys * side - 0.5, xs * side - 0.5, indexing="ij")
    return ndimage.map_coordinates(
        np.asarray(thumbnail, np.float64), [rows, columns], order=1, mode="nearest"
    )


def _texture(sampled: np.ndarray) -> float:
    """The :data:`TEXTURE_QUANTILE` per cent quantile of the samples' gradient magnitude
    (|dx| + |dy| between neighbouring samples)."""
    magnitude = np.abs(np.diff(sampled, axis=1))[:-1, :] + np.abs(np.diff(sampled, axis=0))[:, :-1]
    return float(np.percentile(magnitude, TEXTURE_QUANTILE))


def texture_excess(
    copy: np.ndarray, work: np.ndarray, frame: Frame, work_variant: str
) -> float | None:
    """How many grey levels the copy's texture over the work's window ``work_variant``
    exceeds :data:`TEXTURE_SLACK` times the work's, scaled by the best slope of the level
    fit (:func:`level_residual`); None when the pair cannot be judged.

    The texture of a side is the :data:`TEXTURE_QUANTILE` per cent quantile of the
    gradient magnitude over the window's samples: a quantile, not a mean, so a shape's
    edges (a few samples) do not count and a flat disc scores 0 where a planet's surface
    or a radar's lines do not.
    """
    found = tones(copy, work, frame, work_variant)
    return None if found is None else found.excess


def _by_cell(sampled: np.ndarray) -> np.ndarray:
    return sampled.reshape(GRID, _SAMPLES, GRID, _SAMPLES).mean(axis=(1, 3)).ravel()


def level_residual_reference(
    copy: np.ndarray, work: np.ndarray, frame: Frame, work_variant: str
) -> float | None:
    """:func:`level_residual` point by point (bilinear sampling and the search written out):
    the reference for tests."""
    found = _positions(frame, work_variant)
    if found is None:
        return None
    xs, ys, u = found
    v = (ys - frame.top) / (frame.bottom - frame.top)
    return _fit_reference(_cells_reference(copy, u, v), _cells_reference(work, xs, ys))[0]


def texture_excess_reference(
    copy: np.ndarray, work: np.ndarray, frame: Frame, work_variant: str
) -> float | None:
    """:func:`texture_excess` point by point (gradients, the quantile and the fit written
    out): the reference for tests."""
    found = _positions(frame, work_variant)
    if found is None:
        return None
    xs, ys, u = found
    v = (ys - frame.top) / (frame.bottom - frame.top)
    slope = _fit_reference(_cells_reference(copy, u, v), _cells_reference(work, xs, ys))[1]
    theirs = _texture_reference(_samples_reference(copy, u, v))
    ours = _texture_reference(_samples_reference(work, xs, ys))
    return theirs - TEXTURE_SLACK * slope * ours


def _fit_reference(theirs: list[float], ours: list[float]) -> tuple[float, float]:
    best, best_slope = float("inf"), 1.0
    for slope in SLOPES:
        for offset in OFFSETS:
            total = 0.0
            for mine, other in zip(theirs, ours, strict=True):
                total += abs(mine - min(max(slope * other + offset, 0.0), 255.0))
            if total / len(theirs) < best:
                best, best_slope = total / len(theirs), float(slope)
    return best, best_slope


def _texture_reference(sampled: list[list[float]]) -> float:
    n = len(sampled)
    magnitudes = sorted(
        abs(sampled[i][j + 1] - sampled[i][j]) + abs(sampled[i + 1][j] - sampled[i][j])
        for i in range(n - 1)
        for j in range(n - 1)
    )
    rank = TEXTURE_QUANTILE / 100 * (len(magnitudes) - 1)  # linear between the two nearest
    low = int(rank)
    high = min(low + 1, len(magnitudes) - 1)
    return magnitudes[low] + (rank - low) * (magnitudes[high] - magnitudes[low])


def _cells_reference(thumbnail: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> list[float]:
    out = [0.0] * (GRID * GRID)
    for i, row in enumerate(_samples_reference(thumbnail, xs, ys)):
        for j, value in enumerate(row):
            out[(i // _SAMPLES) * GRID + j // _SAMPLES] += value / _SAMPLES**2
    return out


def _samples_reference(thumbnail: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> list[list[float]]:
    side = thumbnail.shape[0]
    out = [[0.0] * len(xs) for _ in ys]
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            py = min(max(float(y) * side - 0.5, 0.0), side - 1.0)
            px = min(max(float(x) * side - 0.5, 0.0), side - 1.0)
            y0, x0 = min(int(py), side - 2), min(int(px), side - 2)
            fy, fx = py - y0, px - x0
            value = (
                (1 - fy) * (1 - fx) * float(thumbnail[y0, x0])
                + (1 - fy) * fx * float(thumbnail[y0, x0 + 1])
                + fy * (1 - fx) * float(thumbnail[y0 + 1, x0])
                + fy * fx * float(thumbnail[y0 + 1, x0 + 1])
            )
            out[i][j] = value
    return out
