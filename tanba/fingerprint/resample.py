"""Windows resampled to 32×32 as imagehash's pHash takes them, as small matrix products.

Contract: :func:`resampled` turns each (variant, box) region of each greyscale
image into a 32×32 float64 window; :func:`resampling` is the per-length matrix
behind it (cached: a page's boxes share a few lengths).
"""

from __future__ import annotations

import functools

import numpy as np

# Side the window is resampled to (imagehash.phash: hash_size 8 × highfreq_factor 4).
N = 32
Region = tuple[str, tuple[int, int, int, int] | None]  # a window's variant name and pixel box


def resampled(images: list[tuple[np.ndarray, list[Region]]]) -> np.ndarray:
    """Each box of each image resampled to 32×32 (n × 32 × 32, float64): an area average
    to 64×64, then Lanczos 2:1.

    The area average does the bulk of the shrinking at a fraction of a wide Lanczos
    filter's cost; the final 2:1 Lanczos keeps the low frequencies as clean as
    imagehash's single Lanczos pass (which :func:`coefficients` reproduces exactly).
    A plain area average to 32×32 aliases enough to cost copies (measured).

    Both steps are linear and separable, so each box is two small matrix
    products (rows, then columns), and boxes that share columns share the first
    product: several times faster than resizing each box with Pillow (measured
    in ``bench/speed.py``'s files), and without Pillow's rounding to whole grey
    levels between the steps. The products are float32 (BLAS), then widened for
    the transform, as imagehash's pixels are.
    """
    samples = []
    # An image may come in several groups (a copy's fixed windows and its sub-crops, a page's
    # boxes and their upper parts): its pixels and column products are shared by all of them.
    # The same product of the same arrays, so the same floats.
    shared: dict[int, tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]] = {}
    for grey, regions in images:
        if not regions:
            continue
        if id(grey) not in shared:
            shared[id(grey)] = np.asarray(grey, dtype=np.float32), {}
        pixels, by_columns = shared[id(grey)]
        height, width = pixels.shape
        for _, box in regions:
            left, top, right, bottom = (0, 0, width, height) if box is None else box
            if (left, right) not in by_columns:
                by_columns[left, right] = pixels[:, left:right] @ resampling(right - left).T
            samples.append(resampling(bottom - top) @ by_columns[left, right][top:bottom])
    return np.array(samples, dtype=np.float64)


@functools.lru_cache(maxsize=2048)
def resampling(length: int) -> np.ndarray:
    """The (32 × length) matrix that resamples a line of ``length`` pixels to 32.

    Longer than 64: area average into 64 bins (each pixel counts by the share of
    it a bin covers), then Lanczos-3 at 2:1. Shorter: Lanczos-3 straight to 32,
    widened when shrinking. Rows sum to one, so flat stays flat.
    """
    if length > 2 * N:
        return _area_then_lanczos(length)
    return lanczos_rows(length, max(length / N, 1.0)).astype(np.float32)


def _area_then_lanczos(length: int) -> np.ndarray:
    """The 64-bin area average followed by Lanczos 2:1, as one (32 × length) matrix.

    Bin i covers [i, i + 1) × length / 64 and weighs pixel p by the share of it
    it covers, clip(end, p, p + 1) − clip(start, p, p + 1), over the bin's width.
    A pixel is narrower than a bin, so it falls in its own bin and at most the
    next: each column of the product is two Lanczos columns weighted, not a sum
    over all 64 bins. The first image of each size builds its matrices, so this
    is a handful of operations on short arrays; it rounds to the same float32
    matrix as the full product (checked for every length from 65 to 2048).
    """
    width = length / (2 * N)  # a bin's width; bin edges i × width are exact binary fractions
    own = np.arange(length) * (2 * N) // length  # the bin each pixel starts in
    own_end = (own + 1) * width
    start = np.arange(length, dtype=np.float64)
    end = start + 1
    own_share = np.minimum(own_end, end) - start
    # The next bin starts where the own one ends; past the last bin, end − own_end ≤ 0.
    next_share = np.maximum(end - own_end, 0.0)
    weights = _lanczos_columns()
    matrix = weights[own] * (own_share / width)[:, None]
    matrix += weights[np.minimum(own + 1, 2 * N - 1)] * (next_share / width)[:, None]
    return matrix.T.astype(np.float32, order="C")


@functools.cache
def _lanczos_columns() -> np.ndarray:
    """The 2:1 Lanczos matrix from 64 bins to 32, one row per bin (64 × 32)."""
    return np.ascontiguousarray(lanczos_rows(2 * N, 2.0).T)


@functools.lru_cache(maxsize=128)
def lanczos_rows(length: int, support: float) -> np.ndarray:
    """(32 × length) Lanczos-3 weights from ``length`` samples to 32, each row normalised."""
    centres = (np.arange(N) + 0.5) * (length / N)
    x = ((np.arange(length) + 0.5)[None, :] - centres[:, None]) / support
    weights = np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
    return weights / weights.sum(axis=1, keepdims=True)
