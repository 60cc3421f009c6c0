"""Image fingerprints: 64-bit perceptual hashes of the image and, for references, its variants.

The image is decoded at reduced size where the format allows (JPEG's DCT scaling
through ``Image.draft``): a 32×32 DCT hash needs far fewer pixels than a photo
has, and decoding is most of the cost. The pixel count is checked from the
header before any pixel is decoded, so a decompression bomb is refused cheaply.
"""

from __future__ import annotations

import io
import warnings

import imagehash
from PIL import Image, ImageOps, UnidentifiedImageError

from fingerprint.exceptions import Unfingerprintable
from tanba.schemas.common import ImageHash, ImagePrint

# Algorithm ids are stable names: an index holds hashes of one algorithm only.
PHASH = "phash64"
# Reference variants: a copy is often mirrored; hashing the reference's mirror costs one hash.
REFERENCE_VARIANTS = ("full", "mirror")
QUERY_VARIANTS = ("full",)
# Smallest side decoded: well above the 32 px the DCT hash resamples to.
_DRAFT_SIDE = 256


def image_print(
    data: bytes, *, max_pixels: int, variants: tuple[str, ...] = QUERY_VARIANTS
) -> ImagePrint:
    """Fingerprint encoded image bytes; raises :class:`Unfingerprintable` with the reason."""
    image = _decode(data, max_pixels)
    width, height = image.size
    hashes = [
        ImageHash(algorithm=PHASH, variant=v, value=str(imagehash.phash(_variant(image, v))))
        for v in variants
    ]
    return ImagePrint(width=width, height=height, hashes=hashes)


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise Unfingerprintable("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
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
    original_size = image.size
    try:
        if image.format == "JPEG":
            image.draft("RGB", (_DRAFT_SIDE, _DRAFT_SIDE))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        grey = image.convert("L")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise Unfingerprintable(f"image data is corrupt or truncated: {exc}") from None
    grey.info["original_size"] = original_size
    return grey


def _variant(image: Image.Image, variant: str) -> Image.Image:
    if variant == "full":
        return image
    if variant == "mirror":
        return ImageOps.mirror(image)
    raise ValueError(f"unknown image variant {variant!r}")
