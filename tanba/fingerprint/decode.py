"""Image decoding for fingerprints: greyscale pixels at the working size, bombs refused first.

Decoding: JPEG is decoded at reduced size through its DCT scaling straight
to greyscale, the main saving over decoding every pixel. A plain JPEG goes
through libjpeg-turbo's TurboJPEG API (``simplejpeg``) at the scale
``Image.draft`` would pick: the same library and scaled transform give the same
pixels, without Pillow's header parsing and per-image overhead (about a sixth
of the decoding time, measured). Whatever that path does not take (other
formats, CMYK, multi-picture files, data it finds corrupt) goes through Pillow,
whose errors are the ones reported. The pixel count is checked from the header
before any pixel is decoded, so a decompression bomb is refused cheaply.
Transparent images are laid on white, as a browser shows them.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from tanba.fingerprint.exceptions import Unfingerprintable


def decode(data: bytes, max_pixels: int, side: int) -> tuple[np.ndarray, int, int]:
    """Greyscale pixels (uint8, rows × columns) with the long side at most ``side``, and the
    original width and height.

    The pixel count is checked from the header before any pixel is decoded, so a
    decompression bomb is refused cheaply; a JPEG is decoded at the smallest DCT
    scale whose long side still reaches ``side``.
    """
    if not data:
        raise Unfingerprintable("empty file (0 bytes)")
    plain = _plain_jpeg_size(data)
    if plain is not None:
        _check_size(*plain, max_pixels)
        pixels = _turbo_grey(data, *plain, side)
        if pixels is not None:
            return pixels, *plain
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Unfingerprintable("not a decodable image (unknown or corrupt format)") from None
    width, height = image.size
    _check_size(width, height, max_pixels)
    if image.format == "JPEG":
        try:
            image.draft("L", _draft_size(width, height, side))
        except (OSError, SyntaxError, ValueError) as exc:
            raise Unfingerprintable(f"image data is corrupt or truncated: {exc}") from None
    grey = _load_grey(image)
    factor = max(grey.size) // side
    return np.asarray(grey.reduce(factor) if factor >= 2 else grey), width, height


def decode_with_fine(
    data: bytes,
    max_pixels: int,
    side: int,
    fine_side: int,
    fine_from: int,
    wanted: Callable[[np.ndarray], bool],
) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """:func:`decode` at ``side``; also at ``fine_side`` when the image's long side reaches
    ``fine_from`` and ``wanted`` says yes of the image at ``side`` (else None); and the
    original width and height.

    A JPEG is decoded at ``fine_side`` only when wanted: its entropy decoding, most of the
    cost at any DCT scale, is paid again then (on bench/speed.py's 1,280-px files the 1/2
    scale costs 1.3 times the 1/8 one), but at 1/8 alone when not. Any other format is
    decoded in full whatever the size asked, so it is decoded once, at ``fine_side``, and
    the image at ``side`` is reduced from that (Pillow's ``reduce``, as :func:`decode`
    does); its long side is within [side, 2 × side), as :func:`decode`'s.
    """
    plain = _plain_jpeg_size(data)
    size = plain if plain is not None else _header_size(data)
    if size is None or max(size) < fine_from or plain is not None:
        grey, width, height = decode(data, max_pixels, side)
        large = size is not None and max(size) >= fine_from
        fine = decode(data, max_pixels, fine_side)[0] if large and wanted(grey) else None
        return grey, fine, width, height
    fine, width, height = decode(data, max_pixels, fine_side)
    factor = max(fine.shape) // side
    grey = np.asarray(Image.fromarray(fine).reduce(factor)) if factor >= 2 else fine
    return grey, fine if wanted(grey) else None, width, height


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from Pillow's reading of the header alone, or None when it cannot be
    read (:func:`decode` then says why)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None  # decode() opens it again and reports the failure with its reason


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise Unfingerprintable(f"image header declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise Unfingerprintable(
            f"image of {width}x{height} pixels exceeds the cap of {max_pixels} "
            "(TANBA_IMAGE_MAX_PIXELS); refused as a possible decompression bomb"
        )


def _draft_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size asked of ``Image.draft``: the image scaled to a long side of ``side``."""
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _plain_jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a JPEG that Pillow would open as a plain grey or colour "JPEG"; else None.

    Read from the header by TurboJPEG, without Pillow's parser (which costs
    about a tenth of the decoding). None sends the file through Pillow: anything
    that is not a JPEG, CMYK (Pillow converts it to grey itself), and a file with
    a multi-picture segment (Pillow opens it as "MPO" and decodes it in full).
    """
    if not data.startswith(b"\xff\xd8\xff") or _may_be_multi_picture(data):
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    return (width, height) if colorspace in ("Gray", "YCbCr", "RGB") else None


def _may_be_multi_picture(data: bytes) -> bool:
    """Whether an APP2 "MPF" segment may come before the image data (True when unsure).

    Walks the segments from the start marker to the start of scan: a search of
    the whole file would also find one inside a thumbnail, and costs more.
    """
    at = 2
    while at + 8 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the header is over
            return False
        if marker == 0xE2 and data[at + 4 : at + 8] == b"MPF\x00":
            return True
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return True


def _turbo_grey(data: bytes, width: int, height: int, side: int) -> np.ndarray | None:
    """The JPEG's grey pixels as Pillow's ``draft``, ``load()`` and ``reduce`` give them, or None.

    The scale is Pillow's choice (the largest of 1/8, 1/4, 1/2 that keeps each
    side at least the draft size), so both decoders run libjpeg-turbo's same
    scaled transform. None (decode with Pillow instead) for anything TurboJPEG
    finds wrong, even recoverable (strict), and for any size other than Pillow's.
    """
    wanted = _draft_size(width, height, side)
    ratio = min(width // wanted[0], height // wanted[1])
    scale = next((s for s in (8, 4, 2) if ratio >= s), 1)
    shape = (-(-height // scale), -(-width // scale))
    try:
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="GRAY", min_height=shape[0], min_width=shape[1]
        )
    except ValueError:
        return None
    if pixels.shape[:2] != shape:
        return None
    pixels = pixels.reshape(shape)
    factor = max(shape) // side
    return np.asarray(Image.fromarray(pixels).reduce(factor)) if factor >= 2 else pixels


def decode_chroma(data: bytes, shape: tuple[int, ...]) -> np.ndarray | None:
    """The image's chroma (Cb and Cr, uint8, rows × columns × 2) at ``shape``: the size
    :func:`decode` gave its grey pixels. None for an image without colour, or one that will
    not decode in colour (its grey alone is used then).

    Why: a page's pictures are found where its pixels differ from the background
    (:mod:`tanba.fingerprint.regions`), and in grey a dark blue picture on a dark red banner
    does not differ. Decoded apart from the grey, which stays the same bytes (a JPEG's grey is
    its luma straight from the decoder): an extra decoding, paid by the copies a page pass is
    made for. Call it after :func:`decode` has checked the size.
    """
    height, width = shape[:2]
    plain = _plain_jpeg_size(data)
    rgb: Image.Image | None = None
    if plain is not None:
        if simplejpeg.decode_jpeg_header(data)[2] == "Gray":
            return None
        try:  # the grey's DCT scale (_turbo_grey), then the same reduction
            pixels = simplejpeg.decode_jpeg(
                data, colorspace="RGB", min_height=height, min_width=width
            )
            rgb = Image.fromarray(pixels)
        except ValueError:
            rgb = None
    if rgb is None:
        try:
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.format == "JPEG":
                image.draft("RGB", (width, height))
            if image.mode in ("1", "L", "LA", "I", "I;16", "F"):
                return None
            rgb = _on_white(image).convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), Image.Resampling.BOX)
    return np.asarray(rgb.convert("YCbCr"))[:, :, 1:]


def _on_white(image: Image.Image) -> Image.Image:
    """The image with transparent pixels laid on white, as a browser shows them."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba)
    return image


def _load_grey(image: Image.Image) -> Image.Image:
    """Decode the pixels to greyscale, transparent ones laid on white as a browser shows them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        image = _on_white(image)
        return image if image.mode == "L" else image.convert("L")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise Unfingerprintable(f"image data is corrupt or truncated: {exc}") from None
