"""SQLite helpers shared by the embedded bus, alert store and works registry.

Every embedded database runs in WAL mode with ``synchronous=FULL``: a committed
transaction survives ``kill -9`` and power loss, and readers never block the writer.

Failures to write become :class:`~tanba.core.exceptions.TransientError` through
:func:`storage_error`, and a full file system becomes its subclass
:class:`~tanba.core.exceptions.DiskFull`, whose message names the file and the file
system and says what to do. Workers retry TransientErrors without committing,
so a full disk pauses a stage and it resumes by itself once space is back.
:func:`disk_full_error` words the same error for plain file writes (blobs,
WARC captures).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tanba.core.exceptions import DiskFull, TransientError

# SQLite's primary result codes that mean "no space": SQLITE_FULL, and SQLITE_IOERR, whose
# extended codes include write and fsync failures (ENOSPC on the WAL or its index).
_SQLITE_FULL = 13
_SQLITE_IOERR = 10
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NEARLY_FULL_BYTES = 1 << 20


def connect(path: Path) -> sqlite3.Connection:
    """Open a database in autocommit mode (transactions are explicit, see :func:`transaction`).

    Raises :class:`DiskFull` or :class:`TransientError` when the file cannot be opened
    or switched to WAL (a new database on a full disk).
    """
    try:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=60000")
    except sqlite3.OperationalError as exc:
        raise storage_error(exc, path, "the database") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK when the block raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        _rollback(conn)
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        # A COMMIT that fails (no space for the WAL) leaves the transaction open; close it
        # so the connection is usable when the caller retries.
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite has already rolled back after some I/O errors; then nothing is pending.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("ROLLBACK")


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` says a write failed for lack of space (SQLite or the OS)."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == _SQLITE_FULL:
            return True
        return "disk is full" in str(exc).lower()
    return False


def storage_error(exc: BaseException, path: Path, what: str) -> TransientError:
    """The TransientError (DiskFull when space ran out) for a failed write of ``what`` at ``path``.

    SQLite reports some out-of-space writes (to the WAL index, or at fsync) as a plain I/O
    error; one that happens while the file system has almost nothing left counts as full.
    """
    free = free_bytes(path)
    nearly_full = free is not None and free < _NEARLY_FULL_BYTES
    if is_disk_full(exc) or (_is_io_error(exc) and nearly_full):
        return disk_full_error(path, what, exc)
    return TransientError(f"{what} {path}: {exc}; the stage retries until it is writable")


def _is_io_error(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == _SQLITE_IOERR


def disk_full_error(path: Path, what: str, exc: BaseException | None = None) -> DiskFull:
    """A :class:`DiskFull` naming ``what`` at ``path``, its file system and the space left."""
    mount = mount_point(path)
    free = free_bytes(path)
    left = f"{free} bytes free" if free is not None else "free space unknown"
    cause = f" ({exc})" if exc is not None else ""
    return DiskFull(
        f"disk full: cannot write {what} {path}{cause}; the file system at {mount} has {left}. "
        f"Free space on {mount}: a running stage waits, commits nothing meanwhile and resumes "
        "by itself; a command that stopped continues where it left off when run again."
    )


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding ``path`` (or its nearest existing parent)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: Path) -> int | None:
    """Bytes available to this user on the file system of ``path``; None if unknown."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        stats = os.statvfs(p)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


class Database:
    """A SQLite file opened lazily once per thread, with a schema applied on first open.

    Why per thread: a sqlite3 connection must not be used by two threads at once, and
    the console (FastAPI's thread pool), the bus and the store are called from several.
    ``what`` names the database in errors ("the embedded bus"): a schema or a
    :meth:`write` that fails raises :func:`storage_error`'s TransientError (DiskFull
    when space ran out) with that name and the path, so every writer words it alike.
    """

    def __init__(self, path: Path, schema: str, what: str = "the database") -> None:
        self.path = Path(path)
        self.what = what
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self.conn().executescript(schema)
        except sqlite3.OperationalError as exc:
            raise storage_error(exc, self.path, what) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A :func:`transaction` on this thread's connection; a failure raises storage_error."""
        conn = self.conn()
        try:
            with transaction(conn):
                yield conn
        except sqlite3.OperationalError as exc:  # disk full, locked for too long
            raise storage_error(exc, self.path, self.what) from exc

    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


@dataclass
class Where:
    """A WHERE clause built one condition at a time, for the embedded stores' filters.

    The SQL text comes only from the caller's fixed column names and conditions;
    every value is a parameter, so nothing a user typed is ever part of the SQL.
    """

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def equal(self, query: object, columns: Iterable[str]) -> None:
        """``column = ?`` for each column whose value in ``query`` (the attribute of the
        same name) is not empty: a query's empty fields do not filter."""
        for column in columns:
            value = getattr(query, column)
            if value:
                self.add(f"{column} = ?", value)

    def sql(self) -> str:
        """The conditions joined by AND ("" for none)."""
        return " AND ".join(self.clauses)
