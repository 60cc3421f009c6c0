"""The real media as tests use them again and again, each made once per test session.

Decoding a 4K wallpaper or a whole track takes a quarter to a third of a second,
and the fingerprint and matcher tests ask for the same few Debian files in the
same forms again and again. The files do not change during a run, so one result
per file and form serves them all. What a test makes of its own is its own.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image

from tanba.app.demo.media import web_jpeg
from tanba.core.signals.audio import AudioPrint
from tanba.fingerprint.audio import audio_print


@cache
def web_photo(photo: Path, width: int = 1280) -> bytes:
    """:func:`web_jpeg` of a real photo at ``width`` (quality 85, uncropped)."""
    return web_jpeg(photo, width=width)


@cache
def photo_1024(photo: Path) -> Image.Image:
    """The photo at 1,024 px, from its :func:`web_photo` (registering 4K wallpapers, or
    decoding them once more, would only slow the image tests down).

    Shared: callers must not change it (Pillow's crop and resize return new images).
    """
    with Image.open(io.BytesIO(web_photo(photo))) as im:
        image = im.convert("RGB")
    image.thumbnail((1024, 1024))
    return image


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    """The picture as JPEG bytes at ``quality``."""
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def cut(image: Image.Image, left: float, right: float, top: float, bottom: float) -> Image.Image:
    """The picture with these shares of its width and height cut from each side."""
    w, h = image.size
    return image.crop(
        (round(left * w), round(top * h), round((1 - right) * w), round((1 - bottom) * h))
    )


@cache
def track_print(track: Path) -> AudioPrint:
    """The audio print of the whole ``track`` (up to 900 s), as the fingerprint stage makes it.

    Shared: callers must not change it (``model_copy`` to vary one).
    """
    return audio_print(track, max_seconds=900, timeout_s=60)
