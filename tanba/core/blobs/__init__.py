"""Content-addressed blob store: bytes kept under their SHA-256, on a file system or in S3.

Contract (every implementation, checked by the same contract tests on each,
``tests/core/test_blob_stores.py``): :meth:`BlobStore.put` and
:meth:`BlobStore.put_file` store bytes under their SHA-256 hex digest and return
it; storing the same bytes again is free and changes nothing (the store looks
first). A blob becomes visible whole or not at all: a writer killed mid-put
leaves nothing under the digest (at worst an orphan that :meth:`BlobStore.sweep`
removes). :meth:`BlobStore.open` streams a blob, :meth:`BlobStore.exists` asks for
it; a blob that is not stored is :class:`~tanba.core.exceptions.NotFound`, and a
store that cannot be reached (an S3 endpoint down, a bucket missing, credentials
refused) is :class:`StoreUnavailable`, a TransientError: workers retry and
crawls pause until it answers, and its message says what to fix.

Four methods make a store; :meth:`BlobStore.get`, :meth:`BlobStore.local_path`
and :meth:`BlobStore.file` are built on them (a store overrides them only to be
faster). Code that needs a file name (the decoder sandbox, Pillow) asks for
:meth:`BlobStore.local_path`, which is the blob's own file on a file-system store
and a verified temporary copy on a remote one; code that only reads streams
from :meth:`BlobStore.open`.

Implementations: :class:`~tanba.core.blobs.files.FileBlobStore` (the reference:
``home/blobs/aa/bb/<sha256>``, the default) and
:class:`~tanba.core.blobs.s3.S3BlobStore` (``TANBA_BLOBS=s3://bucket/prefix``:
the same layout under ``prefix/blobs/``), chosen by :func:`open_blobs`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tanba.core.exceptions import NotFound, TransientError
from tanba.core.settings import EMBEDDED, Settings

CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


class StoreUnavailable(TransientError):
    """The object store cannot be used now (down, bucket missing, credentials refused).

    A TransientError: workers retry without committing and crawls pause, so nothing is
    lost while the operator fixes what the message names.
    """


def blob_key(sha256: str) -> str:
    """The blob's name inside a store, ``aa/bb/<sha256>`` (two levels keep directories small).

    NotFound when ``sha256`` is not a SHA-256 hex digest (so no name escapes the store).
    """
    if len(sha256) != 64 or not _HEX.issuperset(sha256):
        raise NotFound(f"{sha256!r} is not a SHA-256 hex digest")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_of_file(path: Path) -> str:
    """The SHA-256 hex digest of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class BlobStore(ABC):
    """Put bytes, get them back by SHA-256 hex digest (see the module doc)."""

    #: Where the blobs are, for messages (a directory or an s3:// URL).
    where: str
    #: Puts and gets go over the network: code in an event loop runs them in a thread.
    remote: bool = False

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256."""

    @abstractmethod
    def put_file(self, source: Path) -> str:
        """Store a file's content, streaming it (large ones in parts); returns its SHA-256."""

    @abstractmethod
    def open(self, sha256: str) -> IO[bytes]:
        """A stream of the blob's bytes (close it); NotFound when it is not stored."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""

    def get(self, sha256: str) -> bytes:
        """The blob's bytes; NotFound when it is not stored."""
        with self.open(sha256) as f:
            return f.read()

    def file(self, sha256: str) -> Path | None:
        """The blob's own file when this store keeps it on this machine, else None."""
        return None

    @contextmanager
    def local_path(self, sha256: str, tmp_dir: Path | None = None) -> Iterator[Path]:
        """A file holding the blob, for code that needs a name; removed afterwards if a copy.

        A remote blob is copied to ``tmp_dir`` (the system's temporary directory when
        None) and its digest checked, so a decoder never reads a blob cut short.
        """
        own = self.file(sha256)
        if own is not None:
            yield own
            return
        if tmp_dir is not None:
            tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=f".blob-{sha256[:12]}-")
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self.open(sha256) as source:
                shutil.copyfileobj(source, out, CHUNK)
            if sha256_of_file(copy) != sha256:
                raise StoreUnavailable(
                    f"blob {sha256} read from {self.where} does not match its digest "
                    "(a transfer cut short or a damaged object); it is retried"
                )
            yield copy
        finally:
            copy.unlink(missing_ok=True)

    def sweep(self, older_than_s: float = 3600.0) -> int:
        """Remove what interrupted puts left behind (older than ``older_than_s``); how many."""
        return 0


def is_blob(data: bytes, sha256: str) -> bool:
    """Whether ``data`` is the blob ``sha256`` (bytes that came another way than the store)."""
    return hashlib.sha256(data).hexdigest() == sha256


@contextmanager
def bytes_file(data: bytes, sha256: str, tmp_dir: Path | None = None) -> Iterator[Path]:
    """A temporary file holding ``data`` (a blob's bytes that came another way), removed after.

    For code that needs a file name (the decoder sandbox). Named as the copies of
    :meth:`BlobStore.local_path` are, so :func:`sweep_copies` removes one a killed
    process left. The caller has checked that ``data`` is the blob ``sha256``
    (:func:`is_blob`): a file is never handed on under a digest it does not have.
    """
    with temporary_copy(sha256, tmp_dir, lambda out: out.write(data)) as copy:
        yield copy


@contextmanager
def temporary_copy(
    sha256: str, tmp_dir: Path | None, write: Callable[[IO[bytes]], object]
) -> Iterator[Path]:
    """A temporary file that ``write`` fills, named so that :func:`sweep_copies` finds
    it after a kill; removed on leaving (also when ``write`` raises)."""
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=f".blob-{sha256[:12]}-")
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def sweep_copies(tmp_dir: Path, older_than_s: float = 3600.0) -> int:
    """Remove local copies (:meth:`BlobStore.local_path`) a killed process left; how many.

    Only those older than ``older_than_s``: a younger one may be another live process's.
    """
    cutoff = time.time() - older_than_s
    removed = 0
    for copy in tmp_dir.glob(".blob-*"):
        try:
            if copy.stat().st_mtime < cutoff:
                copy.unlink()
                removed += 1
        except FileNotFoundError:
            pass  # its process removed it meanwhile
    return removed


def open_blobs(settings: Settings) -> BlobStore:
    """The blob store ``TANBA_BLOBS`` names: files under the home, or an S3 bucket."""
    from tanba.core.blobs.files import FileBlobStore

    if settings.blobs == EMBEDDED:
        return FileBlobStore(settings.home / "blobs")
    from tanba.core.blobs.s3 import S3BlobStore, S3Location, s3_client, signed_http

    location = S3Location.parse(settings.blobs)
    return S3BlobStore(
        location.child("blobs"),
        s3_client(settings),
        settings.s3_part_mb << 20,
        signed_http(settings),
    )


__all__ = [
    "BlobStore",
    "StoreUnavailable",
    "blob_key",
    "bytes_file",
    "is_blob",
    "open_blobs",
    "sha256_of_file",
    "sweep_copies",
]

# The reference store, importable from here (it imports BlobStore above).
from tanba.core.blobs.files import FileBlobStore  # noqa: E402

__all__ += ["FileBlobStore"]
