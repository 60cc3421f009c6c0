"""Image fingerprints: a 64-bit pHash and a DCT descriptor per window of the image.

A window is a region of the picture, hashed on its own. A registered work is
hashed over many windows (the whole picture, a grid of 441 crops that cut up to
a quarter of the width and of the height, slight rotations), so that a copy
cropped, rotated or shown in part matches one of them. A crawled copy is hashed
over a few windows only (the whole picture, three fixed inner windows, each
rectangle of content found inside a border, letterbox or page, and the mirror
of each), which keeps crawling cheap: the reference pays for robustness once,
at registration.

Each window carries two things: the pHash (the first 8×8 coefficients of the
DCT of the window resampled to 32×32, one bit per coefficient above their
median: ``imagehash.phash``'s algorithm and bit order), which an index can
search by Hamming distance; and a descriptor, the same 63 AC coefficients
whitened by their frequency (natural images' spectra fall as 1/f, so each
coefficient counts alike) and quantised to int8, whose cosine similarity
verifies a candidate. Signs alone lose the magnitudes; the cosine keeps them, and
it separates true copies from look-alikes far better than the Hamming distance
(measured by ``bench/quality.py``).

Windows that are nearly uniform (a flat sky, a blank logo background) hash
alike across unrelated images, so they are not hashed at all (quality gating).

Decoding: JPEG is decoded at reduced size through its DCT scaling
(``Image.draft``) straight to greyscale, the main saving over decoding every
pixel; the pixel count is checked from the header before any pixel is decoded,
so a decompression bomb is refused cheaply. Transparent images are laid on
white, as a browser shows them.
"""

from __future__ import annotations

import base64
import functools
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy.fftpack import dct

from fingerprint.exceptions import Unfingerprintable
from fingerprint.regions import content_boxes
from tanba.schemas.common import ImageHash, ImagePrint

# Algorithm ids are stable names: an index holds hashes of one algorithm only.
PHASH = "phash64"
DESCRIPTOR = "dct63-whitened-i8"
FULL = "full"
MIRROR = "mirror"
# Which windows are hashed: a registered work's or a crawled copy's.
REFERENCE = "reference"
QUERY = "query"

_N = 32  # side the window is resampled to (imagehash.phash: hash_size 8 × highfreq_factor 4)
_K = 8  # low-frequency coefficients kept per axis
_BIT_WEIGHTS = np.uint64(1) << np.arange(63, -1, -1, dtype=np.uint64)
_U, _V = np.meshgrid(np.arange(_K), np.arange(_K), indexing="ij")
_WHITEN = np.hypot(_U, _V).reshape(-1)[1:]  # 1/f spectrum: coefficient (u, v) times |(u, v)|
_MIRROR_SIGNS = np.where(_V % 2 == 1, -1.0, 1.0)  # _V is the horizontal frequency (axis 1)
# A window whose resampled pixels vary less than this (0..255 grey) is too flat to hash.
FLAT_STD = 6.0
# Reference windows: crops cutting these shares from each side, every combination
# that cuts at most _MAX_CUT in total per axis (441 windows). A copy cropped by up
# to a quarter is then at most 2.5% off one of them, which the pHash and the
# descriptor tolerate. Measured on bench/quality.py's copies: a step of 8% (100
# windows) found about 76% of 25% crops, 6% (225) 88%, 5% 95%, each at the
# similarity threshold that left no false match.
_CUTS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25)
_MAX_CUT = 0.26
_ANGLES = (-4.0, 4.0)
# Query windows besides the whole image: (left, right, top, bottom) shares cut.
_INNER = (0.08, 0.08, 0.08, 0.08)
_UPPER = (0.0, 0.0, 0.0, 0.24)
_MIDDLE = (0.0, 0.0, 0.12, 0.24)
_QUERY_CUTS = (_INNER, _UPPER, _MIDDLE)
# Working resolutions: long side in pixels. The DCT hash needs 32 px; content
# boxes inside a page need more, and references are hashed once.
_QUERY_SIDE = 256
_REFERENCE_SIDE = 512


@dataclass(frozen=True)
class Window:
    """A hashed window: its variant name, pHash and whitened descriptor (int8, 63 values)."""

    variant: str
    phash: int
    descriptor: np.ndarray


def image_print(data: bytes, *, max_pixels: int, variants: str = QUERY) -> ImagePrint:
    """Fingerprint encoded image bytes; raises :class:`Unfingerprintable` with the reason.

    ``variants`` is :data:`QUERY` (a crawled copy) or :data:`REFERENCE` (a registered
    work). A nearly uniform image yields a print without hashes, which matches nothing.
    """
    side = _REFERENCE_SIDE if variants == REFERENCE else _QUERY_SIDE
    grey, width, height = decode(data, max_pixels, side)
    windows = reference_windows(grey) if variants == REFERENCE else query_windows(grey)
    return to_print(width, height, windows)


def to_print(width: int, height: int, windows: list[Window]) -> ImagePrint:
    """The schema form of hashed windows: hashes in order, descriptors packed alongside."""
    packed = np.stack([w.descriptor for w in windows]) if windows else np.zeros((0, 63), np.int8)
    return ImagePrint(
        width=width,
        height=height,
        hashes=[
            ImageHash(algorithm=PHASH, variant=w.variant, value=f"{w.phash:016x}") for w in windows
        ],
        descriptor=DESCRIPTOR,
        descriptors_b64=base64.b64encode(packed.astype(np.int8).tobytes()).decode(),
    )


def descriptors(image: ImagePrint) -> np.ndarray:
    """The int8 descriptors of a print, one row per hash (empty rows for a print without them)."""
    raw = base64.b64decode(image.descriptors_b64) if image.descriptors_b64 else b""
    if len(raw) != 63 * len(image.hashes):
        return np.zeros((len(image.hashes), 63), np.int8)
    return np.frombuffer(raw, dtype=np.int8).reshape(-1, 63)


def decode(data: bytes, max_pixels: int, side: int) -> tuple[Image.Image, int, int]:
    """Greyscale image with its long side at most ``side``, and the original width and height.

    The pixel count is checked from the header before any pixel is decoded, so a
    decompression bomb is refused cheaply; a JPEG is decoded at the smallest DCT
    scale whose long side still reaches ``side``.
    """
    if not data:
        raise Unfingerprintable("empty file (0 bytes)")
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Unfingerprintable("not a decodable image (unknown or corrupt format)") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise Unfingerprintable(f"image header declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise Unfingerprintable(
            f"image of {width}x{height} pixels exceeds the cap of {max_pixels} "
            "(TANBA_IMAGE_MAX_PIXELS); refused as a possible decompression bomb"
        )
    if image.format == "JPEG":
        scale = side / max(width, height)
        try:
            image.draft("L", (max(1, round(width * scale)), max(1, round(height * scale))))
        except (OSError, SyntaxError, ValueError) as exc:
            raise Unfingerprintable(f"image data is corrupt or truncated: {exc}") from None
    grey = _load_grey(image)
    factor = max(grey.size) // side
    return (grey.reduce(factor) if factor >= 2 else grey), width, height


def _load_grey(image: Image.Image) -> Image.Image:
    """Decode the pixels to greyscale, transparent ones laid on white as a browser shows them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        return image if image.mode == "L" else image.convert("L")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise Unfingerprintable(f"image data is corrupt or truncated: {exc}") from None


def coefficients(grey: Image.Image, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The 8×8 low-frequency DCT of the window resampled to 32×32, as imagehash.phash takes it."""
    window = grey if box is None else grey.crop(box)
    return _dct(np.asarray(window.resize((_N, _N), Image.Resampling.LANCZOS)))


def _dct(pixels: np.ndarray) -> np.ndarray:
    """imagehash.phash's transform: the same calls in the same order.

    On images with exact ties (flat drawings) a DCT computed any other way rounds
    differently, and a coefficient at the median flips its bit.
    """
    return dct(dct(pixels, axis=0), axis=1)[:_K, :_K]


def phash(coeffs: np.ndarray) -> int:
    """The 64-bit pHash of 8×8 coefficients: bit set where above their median, row-major, MSB first."""
    return int(_phashes(coeffs.reshape(1, -1))[0])


def _phashes(rows: np.ndarray) -> np.ndarray:
    """pHashes of many coefficient rows (n × 64) at once, as uint64."""
    ordered = np.sort(rows, axis=1)
    median = (ordered[:, 31] + ordered[:, 32]) / 2  # np.median of 64 values
    bits = (rows > median[:, None]).astype(np.uint64)
    return (bits * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)


def descriptor(coeffs: np.ndarray) -> np.ndarray:
    """The 63 AC coefficients whitened by frequency, unit length, quantised to int8."""
    return _descriptors(coeffs.reshape(1, -1))[0]


def _descriptors(rows: np.ndarray) -> np.ndarray:
    """Descriptors of many coefficient rows (n × 64) at once."""
    ac = rows[:, 1:] * _WHITEN
    norms = np.linalg.norm(ac, axis=1, keepdims=True)
    scaled = np.divide(127 * ac, norms, out=np.zeros_like(ac), where=norms > 0)
    return np.round(scaled).astype(np.int8)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of descriptor rows ``a`` (n×63) with one descriptor ``b`` (63)."""
    a = np.atleast_2d(a).astype(np.float32)
    b = b.astype(np.float32)
    norms = np.linalg.norm(a, axis=1) * float(np.linalg.norm(b))
    return np.divide(a @ b, norms, out=np.zeros(len(a), np.float32), where=norms > 0)


def _windows(
    grey: Image.Image,
    regions: list[tuple[str, tuple[int, int, int, int] | None]],
    *,
    mirror: bool = False,
) -> list[Window]:
    """Each (variant, box) region hashed, with its mirror if asked; too flat ones are left out.

    All regions go through one batch of array operations: per window the work is
    a few microseconds, and calling numpy (or Pillow) once per window would cost
    more than it.
    """
    if not regions:
        return []
    pixels = _resampled(grey, [box for _, box in regions])
    kept = pixels.reshape(len(regions), -1).std(axis=1) >= FLAT_STD
    names = [name for (name, _), keep in zip(regions, kept, strict=True) if keep]
    if not names:
        return []
    coeffs = dct(dct(pixels[kept], axis=1), axis=2)[:, :_K, :_K]  # as _dct, per window
    if mirror:
        # Mirroring left-right negates the odd horizontal frequencies: no second transform.
        names += [MIRROR if n == FULL else f"{n}-{MIRROR}" for n in names]
        coeffs = np.concatenate([coeffs, coeffs * _MIRROR_SIGNS])
    rows = coeffs.reshape(len(coeffs), -1)
    hashes, described = _phashes(rows), _descriptors(rows)
    return [Window(name, int(h), d) for name, h, d in zip(names, hashes, described, strict=True)]


def _resampled(grey: Image.Image, boxes: list[tuple[int, int, int, int] | None]) -> np.ndarray:
    """Each box resampled to 32×32 (n × 32 × 32): an area average to 64×64, then Lanczos 2:1.

    The area average does the bulk of the shrinking at a fraction of a wide Lanczos
    filter's cost; the final 2:1 Lanczos keeps the low frequencies as clean as
    imagehash's single Lanczos pass (which :func:`coefficients` reproduces exactly).
    A plain area average to 32×32 aliases enough to cost copies (measured).

    Both steps are linear and separable, so each box is two small matrix
    products (rows, then columns), and boxes that share columns share the first
    product: several times faster than resizing each box with Pillow (measured
    in ``bench/speed.py``'s files), and without Pillow's rounding to whole grey
    levels between the steps.
    """
    pixels = np.asarray(grey, dtype=np.float32)
    height, width = pixels.shape
    by_columns: dict[tuple[int, int], np.ndarray] = {}
    samples = []
    for box in boxes:
        left, top, right, bottom = (0, 0, width, height) if box is None else box
        if (left, right) not in by_columns:
            by_columns[left, right] = pixels[:, left:right] @ _resampling(right - left).T
        samples.append(_resampling(bottom - top) @ by_columns[left, right][top:bottom])
    return np.stack(samples).astype(np.float64)


@functools.lru_cache(maxsize=2048)
def _resampling(length: int) -> np.ndarray:
    """The (32 × length) matrix that resamples a line of ``length`` pixels to 32.

    Longer than 64: area average into 64 bins (each pixel counts by the share of
    it a bin covers), then Lanczos-3 at 2:1. Shorter: Lanczos-3 straight to 32,
    widened when shrinking. Rows sum to one, so flat stays flat.
    """
    if length > 2 * _N:
        edges = np.linspace(0.0, length, 2 * _N + 1)
        pixel = np.arange(length)
        covered = np.clip(edges[1:, None], pixel, pixel + 1) - np.clip(
            edges[:-1, None], pixel, pixel + 1
        )
        area = covered / (edges[1] - edges[0])
        matrix = _lanczos_rows(2 * _N, 2.0) @ area
    else:
        matrix = _lanczos_rows(length, max(length / _N, 1.0))
    return matrix.astype(np.float32)


@functools.lru_cache(maxsize=128)
def _lanczos_rows(length: int, support: float) -> np.ndarray:
    """(32 × length) Lanczos-3 weights from ``length`` samples to 32, each row normalised."""
    centres = (np.arange(_N) + 0.5) * (length / _N)
    x = ((np.arange(length) + 0.5)[None, :] - centres[:, None]) / support
    weights = np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
    return weights / weights.sum(axis=1, keepdims=True)


def _box(
    grey: Image.Image, left: float, right: float, top: float, bottom: float
) -> tuple[int, int, int, int]:
    """The pixel box that cuts these shares of the width and height from each side."""
    width, height = grey.size
    return (
        round(left * width),
        round(top * height),
        round(width - right * width),
        round(height - bottom * height),
    )


def _crop_name(left: float, right: float, top: float, bottom: float) -> str:
    return f"crop:{left * 100:02.0f}-{right * 100:02.0f}-{top * 100:02.0f}-{bottom * 100:02.0f}"


def query_windows(grey: Image.Image) -> list[Window]:
    """A crawled copy's windows: whole, inner, upper, each content box, and their mirrors.

    The inner window (8% off each side) drops a frame's edge, a watermark in a
    corner or a rotated copy's empty corners; the upper one (the bottom quarter
    off) drops a caption; the middle one drops a caption and a logo at the top.
    All are windows the reference also has, at the same place. Mirroring the copy
    instead of the reference doubles a handful of query hashes rather than every
    reference window.
    """
    # The fixed windows need no more than half the working resolution (a quarter of
    # the resampling work); a box inside a page is small, and keeps all of it.
    half = grey.reduce(2) if min(grey.size) >= 4 * _N else grey
    regions: list[tuple[str, tuple[int, int, int, int] | None]] = [(FULL, None)]
    regions += [(_crop_name(*cut), _box(half, *cut)) for cut in _QUERY_CUTS]
    windows = _windows(half, regions, mirror=True)
    # Boxes are found at the working resolution: on a copy half as large, a photo
    # inside a page came out a pixel off and lost a third of its margin (measured).
    boxes = [(f"box{i}", box) for i, box in enumerate(content_boxes(np.asarray(grey)))]
    return windows + _windows(grey, list(boxes), mirror=True)


def reference_windows(grey: Image.Image) -> list[Window]:
    """A registered work's windows: whole, the crop grid, and slight rotations.

    A rotated window is cut to its inner part, without the corners the rotation
    empties: unrelated images rotated alike share those corners, and would look alike.
    """
    cuts = [(lr[0], lr[1], tb[0], tb[1]) for lr in _cut_pairs() for tb in _cut_pairs()]
    regions: list[tuple[str, tuple[int, int, int, int] | None]] = [(FULL, None)]
    regions += [
        (_crop_name(*cut), _box(grey, *cut))
        for cut in cuts[1:] + [c for c in _QUERY_CUTS if c not in cuts]
    ]
    windows = _windows(grey, regions)
    for angle in _ANGLES:
        rotated = grey.rotate(angle, Image.Resampling.BICUBIC, expand=False)
        windows += _windows(rotated, [(f"rot:{angle:+.0f}", _box(rotated, *_INNER))])
    return windows


def _cut_pairs() -> list[tuple[float, float]]:
    return [(a, b) for a in _CUTS for b in _CUTS if a + b <= _MAX_CUT]
