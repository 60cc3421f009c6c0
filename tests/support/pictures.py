"""Synthetic pictures for image-matching tests: look-alikes that only their details tell apart.

Made from DCT coefficients: a coarse part shared by seed (the 8×8 sketch the descriptor
sees) and a texture of the band 9..15 of its own (what the detail check sees).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy.fftpack import idct

from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.signals.image_detail import crop_variant, print_thumbnail, rotation_variant
from tanba.core.signals.image_geometry import Frame
from tanba.fingerprint.image import image_print

MAX = 10**9
# Where a window pair places the copy in the work, for the checks read on thumbnails: the whole
# picture, a crop (flipped), a turned window reaching past the edges.
WHOLE = Frame(0.0, 1.0, 0.0, 1.0, False)
PLACED = [
    (WHOLE, "full"),
    (Frame(0.1, 0.95, -0.05, 0.9, True), crop_variant(0.05, 0.1, 0.0, 0.2)),
    (Frame(-0.2, 1.1, 0.0, 1.3, False), rotation_variant(-4.0)),
]


def disc(inside: np.ndarray | int, outside: int = 255, radius: float = 24) -> np.ndarray:
    """A 64-px thumbnail of a disc of ``radius`` px (``inside``: a grey or a 64 x 64 texture)."""
    y, x = np.mgrid[:64, :64]
    return np.where(np.hypot(x - 31.5, y - 31.5) < radius, inside, outside).astype(np.uint8)


def picture(
    coarse_seed: int, texture_seed: int, texture: float = 1.0, mix: int = 0, eps: float = 0.0
) -> Image.Image:
    """512 px grey picture: random coarse DCT coefficients (below 8 per axis) shared by
    seed (with ``eps`` of another seed's mixed in), and a texture of the band 9..15 of its own."""
    coefficients = np.zeros((32, 32))
    u, v = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    weights = 1 / np.maximum(np.hypot(u, v), 1)
    coarse = np.random.default_rng(coarse_seed).normal(size=(32, 32)) * weights
    coarse += eps * np.random.default_rng(mix).normal(size=(32, 32)) * weights
    fine = np.random.default_rng(texture_seed).normal(size=(32, 32)) * weights
    coefficients[(u < 8) & (v < 8)] = coarse[(u < 8) & (v < 8)]
    band = (np.maximum(u, v) >= 9) & (np.maximum(u, v) < 16)
    coefficients[band] = texture * fine[band]
    coefficients[0, 0] = 0
    pixels = idct(idct(coefficients, axis=0, norm="ortho"), axis=1, norm="ortho")
    pixels = 128 + 100 * pixels / np.abs(pixels).max()
    small = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return small.resize((512, 512), Image.Resampling.BICUBIC)


def jpeg(image: Image.Image, size: int = 512, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.resize((size, size), Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_at(image: Image.Image, size: tuple[int, int], quality: int = 85) -> bytes:
    """The picture at ``size`` (width, height; other proportions squeeze it), as a JPEG."""
    out = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality)
    return out.getvalue()


def fingerprint(data: bytes, variants: str = "query") -> Fingerprint:
    image = image_print(data, max_pixels=MAX, variants=variants)
    return Fingerprint(media=IMAGE, sha256="0" * 64, image=image)


def web_thumbnail(image: Image.Image, variants: str) -> np.ndarray:
    """The 64-px grey thumbnail a print of ``image`` as a web JPEG (q75) carries, as a work's
    (``variants`` REFERENCE) or a copy's (QUERY)."""
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=75)
    thumbnail = print_thumbnail(image_print(out.getvalue(), max_pixels=MAX, variants=variants))
    assert thumbnail is not None  # a copy's print carries its thumbnail too
    return thumbnail
