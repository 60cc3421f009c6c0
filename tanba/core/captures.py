"""Where the crawl's WARC captures are kept and read back: a directory, or an object store.

A crawl appends each target's exchanges to a local WARC file,
``spool/<crawl_id>/<target>.warc.gz`` (:mod:`tanba.crawlers.warc`), and every
published event points into it with a :class:`~tanba.core.schemas.common.CaptureRef`
(file name, offset, length). Object stores cannot append, so with
``TANBA_BLOBS=s3://…`` the finished file is uploaded whole (in parts when large)
to ``prefix/captures/<crawl_id>/<target>.warc.gz``, and the evidence export reads
a record back with one ranged GET.

Contract (both implementations):

- :meth:`Captures.prepare` before a crawl appends to a file: the local file then
  holds every record stored so far under that name (a file the store has and the
  spool lost is fetched back), so offsets in events already published stay true.
- :meth:`Captures.publish` after the file is closed: the store then holds it.
- :meth:`Captures.publish_pending` at a crawler's start: publishes every file a
  killed crawl left unpublished (marked by a ``.unpublished`` file beside it), so
  a record referenced by an event reaches the store however the crawl ended, as
  long as the crawler's spool survives. A crawl holds a lock on its marker from
  prepare to publish (released by the kernel when it dies), so another crawl in
  the same home never publishes, and unmarks, a file still being written.
- :meth:`Captures.read` the bytes of one record; NotFound when they are not kept.

On object storage a record is readable elsewhere once its target's crawl has
ended (or once the crawler restarted after a kill); before that the evidence
export uses the recapture, as it does for pruned captures. On the file system
(the default, a directory every stage shares) the spool is the store itself and
prepare/publish do nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from tanba.core.exceptions import NotFound
from tanba.core.schemas.common import CaptureRef
from tanba.core.settings import EMBEDDED, Settings

if TYPE_CHECKING:
    from tanba.core.blobs.s3 import S3Location, S3Objects

_UNPUBLISHED = ".unpublished"


class Captures(ABC):
    """The WARC captures of crawls (see the module doc)."""

    #: The local directory crawls write their WARC files in.
    spool: Path

    @abstractmethod
    def prepare(self, name: str, *, new: bool = False) -> None:
        """Before appending to ``spool/name``: make it hold every record stored under it.

        ``new``: no file was ever stored under this name (a name of one run of a job,
        random), so there is nothing to fetch: a round trip saved per job.
        """

    @abstractmethod
    def publish(self, name: str) -> None:
        """After ``spool/name`` is closed: store it."""

    @abstractmethod
    def publish_pending(self) -> int:
        """Publish the files a killed crawl left unpublished; how many."""

    @abstractmethod
    def read(self, ref: CaptureRef) -> bytes:
        """The bytes ``ref`` points at; NotFound when that capture is not kept."""


class FileCaptures(Captures):
    """Captures as files in one directory (every stage sees it): the reference."""

    def __init__(self, root: Path) -> None:
        self.spool = Path(root)

    def prepare(self, name: str, *, new: bool = False) -> None:
        return None

    def publish(self, name: str) -> None:
        return None

    def publish_pending(self) -> int:
        return 0

    def read(self, ref: CaptureRef) -> bytes:
        return _read_local(self.spool, ref)


def _read_local(root: Path, ref: CaptureRef) -> bytes:
    path = root / ref.warc
    if ".." in Path(ref.warc).parts:
        raise NotFound(f"capture {ref.warc!r} is not a name under {root}")
    try:
        with open(path, "rb") as f:
            f.seek(ref.offset)
            chunk = f.read(ref.length)
    except OSError:
        raise NotFound(f"capture {ref.warc} is not in {root} (pruned?)") from None
    if len(chunk) != ref.length:
        raise NotFound(f"capture {ref.warc} in {root} ends before the record at {ref.offset}")
    return chunk


class ObjectCaptures(Captures):
    """Captures spooled locally and uploaded to an S3 bucket when their crawl ends."""

    def __init__(self, spool: Path, objects: S3Objects, location: S3Location) -> None:
        self.spool = Path(spool)
        self.objects = objects
        self.location = location
        self._locks: dict[str, int] = {}  # name -> descriptor of its locked marker

    def _marker(self, name: str) -> Path:
        return self.spool / f"{name}{_UNPUBLISHED}"

    def prepare(self, name: str, *, new: bool = False) -> None:
        local = self.spool / name
        local.parent.mkdir(parents=True, exist_ok=True)
        if not new and not local.exists():
            with contextlib.suppress(NotFound):
                self.objects.download(self.location.key(name), local)
        if name not in self._locks:
            fd = os.open(self._marker(name), os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._locks[name] = fd

    def publish(self, name: str) -> None:
        try:
            local = self.spool / name
            if local.exists():
                self.objects.put_file(self.location.key(name), local)
            self._marker(name).unlink(missing_ok=True)
        finally:
            fd = self._locks.pop(name, None)
            if fd is not None:
                os.close(fd)  # releases the lock

    def publish_pending(self) -> int:
        published = 0
        for marker in sorted(self.spool.glob(f"**/*{_UNPUBLISHED}")):
            name = marker.relative_to(self.spool).as_posix()[: -len(_UNPUBLISHED)]
            if name in self._locks:
                continue  # this process still writes it
            try:
                fd = os.open(marker, os.O_RDWR)
            except FileNotFoundError:
                continue  # published by another process meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live crawl writes it
            self._locks[name] = fd
            self.publish(name)
            published += 1
        return published

    def read(self, ref: CaptureRef) -> bytes:
        if ".." in Path(ref.warc).parts:
            raise NotFound(f"capture {ref.warc!r} is not a name under the captures")
        key = self.location.key(ref.warc)
        try:
            with self.objects.open(key, ref.offset, ref.offset + ref.length - 1) as f:
                chunk = f.read()
        except NotFound:
            # Not published yet (its crawl still runs, here): this machine's spool has it.
            return _read_local(self.spool, ref)
        if len(chunk) != ref.length:
            return _read_local(self.spool, ref)
        return chunk


def open_captures(settings: Settings) -> Captures:
    """The captures ``TANBA_BLOBS`` implies: the home's directory, or the S3 bucket."""
    spool = settings.home / "captures"
    if settings.blobs == EMBEDDED:
        return FileCaptures(spool)
    from tanba.core.blobs.s3 import S3Location, S3Objects, s3_client

    location = S3Location.parse(settings.blobs).child("captures")
    objects = S3Objects(s3_client(settings), location.bucket, settings.s3_part_mb << 20)
    return ObjectCaptures(spool, objects, location)
