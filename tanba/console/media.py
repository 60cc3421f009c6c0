"""Serving stored media to the console safely: sniffed types only, and small JPEG thumbnails.

Found copies are bytes from strangers' websites. They are served only under a
type sniffed from their first bytes (never the type the site claimed), and
only image and audio types are served inline; anything else (HTML, SVG, unknown)
goes out as an attachment, so a hostile file cannot run as a page of the console.

Thumbnails come in two fixed sizes (:data:`THUMB_SIDES`: the alert and work pages,
and the alert list's two small pictures a row), plus the list's cells (:func:`cell`:
the small one centred on a square, encoded to be stacked into a page's sheet by
:func:`tanba.console.pictures.stack`), never a size the request names,
so a caller cannot make the server decode and store a file per size it invents.
Each is decoded once, only by the Pillow plugins of the types sniffed here, and
kept under the home by the blob's digest and its size (content-addressed: the
same picture found on a thousand pages is one file). A URL that carries the
digest's first characters (``d=``, :func:`tanba.console.caching.digest_of`) names
that content for good, so its answer may be cached for a year
(:data:`tanba.console.caching.IMMUTABLE`); without it, a day.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from fastapi.responses import FileResponse, Response, StreamingResponse
from PIL import Image, UnidentifiedImageError

from tanba.console.caching import IMMUTABLE, NO_STORE, ONE_DAY, names_content
from tanba.console.context import Console
from tanba.console.disk_cache import thumbnails_dir, used
from tanba.console.pictures import BACKGROUND, LIST_SIDE, same_encoding, stack
from tanba.core.access import Principal
from tanba.core.blobs import CHUNK, BlobStore
from tanba.core.exceptions import InputError, NotFound

THUMB_SIDE = 360
ThumbSize = Literal["page", "list"]
THUMB_SIDES: dict[str, int] = {"page": THUMB_SIDE, "list": LIST_SIDE}
OCTET = "application/octet-stream"
CELL_MAKERS = 4  # threads making the cells of a sheet nobody has seen yet
# The Pillow plugin a thumbnail may be decoded by, from the file's first bytes: the image
# types crawls keep (tanba.fingerprint.sniff), Image.open trying no other plugin (EPS...).
_PILLOW_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


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


def pillow_format(path: Path) -> str | None:
    """The one Pillow plugin to decode ``path`` with, by its first bytes; None for no image."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((plugin for magic, plugin in _PILLOW_FORMATS if head.startswith(magic)), None)


def blob_type(blobs: BlobStore, sha256: str) -> str:
    with blobs.open(sha256) as f:
        return content_type(f.read(16))


def thumbnail(
    blobs: BlobStore, sha256: str, cache_dir: Path, max_pixels: int, side: int = THUMB_SIDE
) -> bytes:
    """A JPEG of at most ``side`` pixels a side, kept in ``cache_dir`` by blob digest and side.

    InputError if the blob is not a JPEG, PNG, GIF, WebP, BMP or TIFF image (by its first
    bytes) that Pillow reads, or has more than ``max_pixels`` pixels.
    """
    target = cache_dir / sha256[:2] / f"{sha256}-{side}.jpg"
    try:
        data = target.read_bytes()
    except FileNotFoundError:  # not made yet, or pruned (tanba.console.disk_cache)
        return _write_jpeg(target, _scaled(blobs, sha256, cache_dir, max_pixels, side))
    used(target)
    return data


def cell(blobs: BlobStore, sha256: str, cache_dir: Path, max_pixels: int) -> bytes:
    """The JPEG of a picture as one cell of an alert list's sheet (:func:`tanba.console.pictures.stack`):
    its thumbnail centred on a LIST_SIDE square, encoded as :func:`blank_cell` is.

    Made once and kept beside the thumbnails; one kept by another encoder (its tables
    differ from this one's) is made again. InputError as :func:`thumbnail`.
    """
    target = _cell_path(cache_dir, sha256)
    with contextlib.suppress(FileNotFoundError):  # not made yet, or pruned
        kept = target.read_bytes()
        if same_encoding(kept, blank_cell()):
            used(target)
            return kept
    picture = _scaled(blobs, sha256, cache_dir, max_pixels, LIST_SIDE)
    square = Image.new("RGB", (LIST_SIDE, LIST_SIDE), BACKGROUND)
    square.paste(picture, ((LIST_SIDE - picture.width) // 2, (LIST_SIDE - picture.height) // 2))
    return _write_jpeg(target, square, cell=True)


def make_cells(blobs: BlobStore, sha256s: Iterable[str], cache_dir: Path, max_pixels: int) -> None:
    """Make the cells of ``sha256s`` not made yet, a few at a time (Pillow decodes and
    encodes outside the GIL): a sheet of pictures nobody has seen yet waits for the
    slowest few, not for all of them one after the other. A file with no picture is
    left for :func:`cell` to say so."""
    missing = [sha for sha in dict.fromkeys(sha256s) if not _cell_path(cache_dir, sha).exists()]

    def make(sha256: str) -> None:
        with contextlib.suppress(InputError, NotFound):
            cell(blobs, sha256, cache_dir, max_pixels)

    if len(missing) > 1:
        with ThreadPoolExecutor(max_workers=CELL_MAKERS) as pool:
            list(pool.map(make, missing))


def _cell_path(cache_dir: Path, sha256: str) -> Path:
    return cache_dir / sha256[:2] / f"{sha256}-cell{LIST_SIDE}.jpg"


@functools.cache
def blank_cell() -> bytes:
    """An empty cell: the background colour, encoded as every cell is (see _encode)."""
    return _encode(Image.new("RGB", (LIST_SIDE, LIST_SIDE), BACKGROUND), cell=True)


def _encode(image: Image.Image, cell: bool = False) -> bytes:
    """JPEG bytes of ``image``. A cell is encoded so that cells stack into one picture
    without decoding (tanba.console.pictures.stack): the same quality, hence tables, for
    every cell, 4:2:0 (16-pixel blocks, so a 128-pixel cell is 8 rows of blocks), the
    standard Huffman tables (no per-file optimisation) and a restart marker after each
    row of blocks."""
    out = io.BytesIO()
    if cell:
        image.save(out, "JPEG", quality=80, subsampling="4:2:0", restart_marker_rows=1)
    else:
        image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _scaled(
    blobs: BlobStore, sha256: str, cache_dir: Path, max_pixels: int, side: int
) -> Image.Image:
    """The blob's picture in RGB, at most ``side`` pixels a side (InputError as thumbnail)."""
    # The blob's file, or a copy of a remote one (once: the thumbnail is kept).
    with blobs.local_path(sha256, cache_dir / "tmp") as source:
        plugin = pillow_format(source)
        if plugin is None:
            raise InputError(
                f"blob {sha256} is not an image ({blob_type(blobs, sha256)}); it has no thumbnail"
            )
        try:
            with Image.open(source, formats=[plugin]) as im:
                if im.width * im.height > max_pixels:
                    raise InputError(f"image {sha256} has too many pixels for a thumbnail")
                im.draft("RGB", (side, side))  # JPEG: decode at a reduced scale
                image = im.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise InputError(f"blob {sha256} is not an image Pillow can read: {exc}") from None
    image.thumbnail((side, side))
    return image


def _write_jpeg(target: Path, image: Image.Image, cell: bool = False) -> bytes:
    """``image`` as a JPEG at ``target``, whole or not at all (written aside, then renamed);
    the JPEG's bytes."""
    data = _encode(image, cell)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


def blob_response(c: Console, sha256: str) -> Response:
    """A stored blob as a download (inline when a browser shows it safely), cached per user.

    A blob on this machine is served as a file (with ranges, for seeking in audio); one
    in object storage is streamed from it.
    """
    blobs = c.app.blobs
    if not blobs.exists(sha256):
        raise NotFound("the media file is not stored here (blob missing)")
    kind = blob_type(blobs, sha256)
    disposition = "inline" if is_inline(kind) else "attachment"
    headers = {"Cache-Control": "private, max-age=86400"}
    own = blobs.file(sha256)
    if own is not None:
        return FileResponse(
            own,
            media_type=kind,
            content_disposition_type=disposition,
            filename=sha256[:16],
            headers=headers,
        )
    stream = blobs.open(sha256)

    def chunks() -> Iterator[bytes]:
        with stream:
            yield from iter(lambda: stream.read(CHUNK), b"")

    headers["Content-Disposition"] = f'{disposition}; filename="{sha256[:16]}"'
    return StreamingResponse(chunks(), media_type=kind, headers=headers)


def thumbnail_response(
    c: Console, sha256: str, size: ThumbSize = "page", digest: str = ""
) -> Response:
    """A JPEG thumbnail of a stored image, made once and kept under the home.

    ``digest``: the start of the digest the page that linked it expected
    (:func:`tanba.console.caching.digest_of`); when it is this blob's, the answer is
    cached for a year.
    """
    if not c.app.blobs.exists(sha256):
        raise NotFound("the media file is not stored here (blob missing)")
    jpeg = thumbnail(
        c.app.blobs,
        sha256,
        thumbnails_dir(c.app.settings.home),
        c.app.settings.image_max_pixels,
        THUMB_SIDES[size],
    )
    named = names_content(sha256, digest)
    # A few kilobytes: read at once, not streamed from a worker thread as a FileResponse
    # is (a list page asks for a hundred of them).
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": IMMUTABLE if named else ONE_DAY},
    )


def sheet_response(c: Console, principal: Principal, key: str) -> Response:
    """The contact sheet of an alert list page this caller was shown in the last minute.

    NotFound for any other key (another caller's, or older than the grants keep it).
    A reference whose owner withholds it from the caller now is left blank, and that
    sheet is not kept by the browser (its key named the reference).
    """
    sheet = c.grants.get(principal, key)
    if sheet is None:
        raise NotFound(
            "no alert list page showed you this sheet of pictures in the last minute;"
            " reload the list"
        )
    owners = {x.owner for x in sheet.cells if x.kind == "work"}
    withheld = c.app.access.withholding_owners(principal, owners)
    home = thumbnails_dir(c.app.settings.home)
    limit = c.app.settings.image_max_pixels
    make_cells(c.app.blobs, (x.sha256 for x in sheet.cells), home, limit)
    jpeg = stack(
        sheet,
        lambda sha256: cell(c.app.blobs, sha256, home, limit),
        blank_cell(),
        blank=lambda one: one.kind == "work" and one.owner in withheld,
    )
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": NO_STORE if withheld else IMMUTABLE},
    )
