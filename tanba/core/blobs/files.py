"""The file-system blob store, the reference one: files named by their SHA-256 under a root.

The default (``TANBA_BLOBS=embedded``): ``home/blobs/aa/bb/<sha256>``. Every stage
must see the same directory (one machine, or one shared file system).

A blob is written to a temporary file in the same directory, fsync'd, then
renamed into place and the directory fsync'd, so a crash (``kill -9`` or power
loss) leaves either the whole blob or nothing under its name; at worst an
orphaned ``.tmp-*`` file, which :meth:`BlobStore.sweep` removes. Storing the
same bytes twice is free: the second put finds the blob already there.

A write that fails for lack of space raises :class:`~tanba.core.exceptions.DiskFull`
(a TransientError) naming the store and its file system, after removing the
partial temporary file, so freeing space and retrying is all it takes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import IO, BinaryIO

from tanba.core.blobs import BlobStore, blob_key, sha256_of_file
from tanba.core.exceptions import NotFound
from tanba.core.sqlite import disk_full_error, is_disk_full

_CHUNK = 1 << 20


class FileBlobStore(BlobStore):
    """Blobs as files under ``root`` (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.where = str(self.root)

    def path(self, sha256: str) -> Path:
        """Where the blob lives (two levels of fan-out keep directories small)."""
        return self.root / blob_key(sha256)

    def file(self, sha256: str) -> Path | None:
        return self.path(sha256)

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            self._write_atomically(target, lambda f: f.write(data))
        return digest

    def put_file(self, source: Path) -> str:
        """Store a file's content, streaming it; returns its SHA-256."""
        digest = sha256_of_file(source)
        target = self.path(digest)
        if not target.exists():

            def copy(out: BinaryIO) -> None:
                with open(source, "rb") as f:
                    for chunk in iter(lambda: f.read(_CHUNK), b""):
                        out.write(chunk)

            self._write_atomically(target, copy)
        return digest

    def get(self, sha256: str) -> bytes:
        """The blob's bytes; :class:`NotFound` when it is not stored."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} is not in {self.root}") from None

    def open(self, sha256: str) -> IO[bytes]:
        try:
            return open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} is not in {self.root}") from None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def sweep(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files a crash left behind (older than ``older_than_s``); how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for tmp in self.root.glob("*/*/.tmp-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another process finished or removed it meanwhile
        return removed

    def _write_atomically(self, target: Path, write: object) -> None:
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                write(out)  # type: ignore[operator]
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
            tmp = None
            _fsync_directory(target.parent)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full_error(target, "the blob", exc) from exc
            raise
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX: the entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
