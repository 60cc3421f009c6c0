"""A small disk to fill: a tmpfs mounted for the test (as root), filled to the last page.

Contract: :func:`small_disk` mounts a tmpfs of ``size_mb`` at ``where`` and
unmounts it on exit; :func:`fill` writes a filler file until the file system
refuses (ENOSPC) and returns it, so ``filler.unlink()`` gives the space back;
:func:`checkpoint` empties the SQLite write-ahead logs under a home, so the
next write must grow a file instead of reusing WAL pages that are already
allocated (else a full disk would not show until the WAL wrapped).
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

_CHUNK = b"\0" * (1 << 20)


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MB at ``where`` for the duration of the block (needs root)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(where)],
        check=True,
        capture_output=True,
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    """Write a filler file on ``disk`` until no byte more fits; returns it."""
    filler = disk / "filler.bin"
    with open(filler, "wb", buffering=0) as f:
        for block in (_CHUNK, _CHUNK[:4096], _CHUNK[:1]):
            while True:
                try:
                    f.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def checkpoint(home: Path) -> None:
    """Fold the WAL of every SQLite file under ``home`` into its database and truncate it."""
    for db in sorted(home.glob("*.sqlite3")):
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
