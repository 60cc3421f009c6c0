"""How much a registered work's window shows: the entropy of its grey levels, from the thumbnail.

Contract: :func:`window_entropy` cuts the work's window named ``variant``
(:func:`~tanba.core.signals.image_detail.window_geometry`) from the work's
:data:`~tanba.core.signals.image_detail.THUMBNAIL_SIDE`² grey thumbnail, as the
detail check cuts it without shift or scale (32 × 32, bilinear), and returns the
Shannon entropy in bits of its grey levels counted in :data:`LEVELS` bins of equal
width (0 for one flat grey, 4 at most); None when the window cannot be cut (no
thumbnail, a name this module does not know). :func:`window_entropy_reference` is
the same figure computed pixel by pixel, the reference the fast one is tested against.

Why: the false matches left on ``bench/real_catalogue.py`` (55,676 real works) after
the descriptor, look-alike, detail and geometry tests are pictures of a simple shape
drawn in two or three greys: a disc (a planet against a record button), a 2 × 2
checker (a chequered flag against a signal flag), a rounded square, a frame's corner
on blank ground. Their sketches and details agree because there is nothing else in
them to disagree; a copy of a picture with many grey levels is rarely mistaken that
way. Such a window is weak evidence (see ``image_min_entropy`` in
:mod:`tanba.matcher.image_signal`). No data is added to a print: the thumbnail is
already kept with the work for the detail check.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from tanba.core.signals.image_detail import window_geometry

LEVELS = 16  # grey-level bins of 16 values each
_N = 32  # the window side, as the detail check's
_GRID = (np.arange(_N) + 0.5) / _N - 0.5  # sample positions across a window, -0.5..0.5


def _window(variant: str, width: int, height: int) -> tuple[float, float, float, float, float]:
    """(centre x, centre y, width, height, angle) of the named window, in picture pixels."""
    found = window_geometry(variant)
    assert found is not None
    left, right, top, bottom, angle = found
    x0, x1 = left * width, width - right * width
    y0, y1 = top * height, height - bottom * height
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, angle


def window_entropy(thumbnail: np.ndarray, width: int, height: int, variant: str) -> float | None:
    """The entropy (bits) of the grey levels of the work's window ``variant`` cut from its
    thumbnail; None when the window cannot be cut."""
    if window_geometry(variant) is None or width <= 0 or height <= 0:
        return None
    cx, cy, w, h, angle = _window(variant, width, height)
    xs, ys = np.meshgrid(cx + _GRID * w, cy + _GRID * h)
    if angle:  # as the detail check turns it (image_detail.reference_windows)
        theta = math.radians(angle)
        rx, ry = xs - width / 2, ys - height / 2
        xs = width / 2 + math.cos(theta) * rx - math.sin(theta) * ry
        ys = height / 2 + math.sin(theta) * rx + math.cos(theta) * ry
    side = thumbnail.shape[0]
    pixels = ndimage.map_coordinates(
        np.asarray(thumbnail, np.float64),
        [ys * side / height - 0.5, xs * side / width - 0.5],
        order=1,
        mode="nearest",
    )
    bins = np.clip(pixels, 0, 255).astype(np.int64) * LEVELS // 256
    shares = np.bincount(bins.ravel(), minlength=LEVELS) / bins.size
    shares = shares[shares > 0]
    return float(-(shares * np.log2(shares)).sum()) + 0.0


def window_entropy_reference(
    thumbnail: np.ndarray, width: int, height: int, variant: str
) -> float | None:
    """:func:`window_entropy` pixel by pixel (bilinear sampling written out, the counts in a
    list): the reference for tests."""
    if window_geometry(variant) is None or width <= 0 or height <= 0:
        return None
    cx, cy, w, h, angle = _window(variant, width, height)
    side = thumbnail.shape[0]
    counts = [0] * LEVELS
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    for row in range(_N):
        for column in range(_N):
            x = cx + ((column + 0.5) / _N - 0.5) * w
            y = cy + ((row + 0.5) / _N - 0.5) * h
            if angle:
                rx, ry = x - width / 2, y - height / 2
                x, y = width / 2 + cos * rx - sin * ry, height / 2 + sin * rx + cos * ry
            value = _bilinear(thumbnail, y * side / height - 0.5, x * side / width - 0.5)
            counts[int(min(max(value, 0.0), 255.0)) * LEVELS // 256] += 1
    total = _N * _N
    return -sum(c / total * math.log2(c / total) for c in counts if c) + 0.0


def _bilinear(pixels: np.ndarray, y: float, x: float) -> float:
    """The pixels sampled at (y, x), pixel centres at integers, the edge pixel beyond the edge."""
    rows, columns = pixels.shape
    y = min(max(y, 0.0), rows - 1.0)
    x = min(max(x, 0.0), columns - 1.0)
    y0, x0 = min(int(y), rows - 2), min(int(x), columns - 2)
    fy, fx = y - y0, x - x0
    top = (1 - fx) * float(pixels[y0, x0]) + fx * float(pixels[y0, x0 + 1])
    bottom = (1 - fx) * float(pixels[y0 + 1, x0]) + fx * float(pixels[y0 + 1, x0 + 1])
    return (1 - fy) * top + fy * bottom
