"""Serving stored media to the console safely: sniffed types only, and small JPEG thumbnails.

Found copies are bytes from strangers' websites. They are served only under a
type sniffed from their first bytes (never the type the site claimed), and
only image and audio types are served inline; anything else (HTML, SVG, unknown)
goes out as an attachment, so a hostile file cannot run as a page of the console.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi.responses import FileResponse
from PIL import Image, UnidentifiedImageError

from tanba.console.context import Console
from tanba.core.blobs import BlobStore
from tanba.core.exceptions import InputError, NotFound

THUMB_SIDE = 360
OCTET = "application/octet-stream"


def content_type(head: bytes) -> str:
    """A safe Content-Type for a file from its first bytes; ``application/octet-stream`` if unsure."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return OCTET


def is_inline(kind: str) -> bool:
    return kind.startswith(("image/", "audio/"))


def blob_type(blobs: BlobStore, sha256: str) -> str:
    with open(blobs.path(sha256), "rb") as f:
        return content_type(f.read(16))


def thumbnail(blobs: BlobStore, sha256: str, cache_dir: Path, max_pixels: int) -> Path:
    """A JPEG of at most THUMB_SIDE pixels a side, cached by blob digest; InputError if no image."""
    target = cache_dir / sha256[:2] / f"{sha256}-{THUMB_SIDE}.jpg"
    if target.exists():
        return target
    source = blobs.path(sha256)
    try:
        with Image.open(source) as im:
            if im.width * im.height > max_pixels:
                raise InputError(f"image {sha256} has too many pixels for a thumbnail")
            im.draft("RGB", (THUMB_SIDE, THUMB_SIDE))  # JPEG: decode at a reduced scale
            image = im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"blob {sha256} is not an image Pillow can read: {exc}") from None
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as out:
            image.save(out, "JPEG", quality=80)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def blob_response(c: Console, sha256: str) -> FileResponse:
    """A stored blob as a download (inline when a browser shows it safely), cached per user."""
    if not c.app.blobs.exists(sha256):
        raise NotFound("the media file is not stored here (blob missing)")
    kind = blob_type(c.app.blobs, sha256)
    return FileResponse(
        c.app.blobs.path(sha256),
        media_type=kind,
        content_disposition_type="inline" if is_inline(kind) else "attachment",
        filename=sha256[:16],
        headers={"Cache-Control": "private, max-age=86400"},
    )


def thumbnail_response(c: Console, sha256: str) -> FileResponse:
    """A JPEG thumbnail of a stored image, made once and kept under the home."""
    if not c.app.blobs.exists(sha256):
        raise NotFound("the media file is not stored here (blob missing)")
    path = thumbnail(
        c.app.blobs,
        sha256,
        c.app.settings.home / "console" / "thumbnails",
        c.app.settings.image_max_pixels,
    )
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
