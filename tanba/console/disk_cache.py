"""The console's pictures kept on disk (thumbnails, list cells, video frame pairs), within a size.

Contract: the console makes each picture once and keeps it under ``home/console``
(:mod:`tanba.console.media`, :mod:`tanba.console.frames`); :func:`used` marks a kept
file as shown now (its modification time, refreshed at most once per
:data:`REFRESH_S`, so a list of a hundred pictures costs no hundred writes), and
:func:`prune` deletes the files shown longest ago until the folders hold at most
``low_water`` of ``max_bytes``. Files being written (``.tmp-*``, ``*.part``) and the
temporary copies of remote blobs (the ``tmp`` folder of a root) are never deleted. A deleted picture is made again from its blob the next time it is asked
for, so pruning loses nothing but time. :func:`keep_pruning` runs it in the
``tanba console`` process, every :data:`EVERY_S` seconds.

Why: every alert's copy and every shown work gets a thumbnail and a cell, every video
alert a frame sheet; at a million alerts that is gigabytes under the home, which an
operator would otherwise find only when the disk is full.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# A kept file's time is refreshed at most this often: enough to tell the pictures shown
# this hour from those shown last week, at one write per file and hour.
REFRESH_S = 3600.0
# How often the console process checks the folders' size.
EVERY_S = 600.0
# The folder of a root where remote blobs are copied while they are read.
TEMPORARY = "tmp"
# Pruning stops at this share of the limit, so that it does not run again at once.
LOW_WATER = 0.8


def thumbnails_dir(home: Path) -> Path:
    """Where the console keeps thumbnails and list cells."""
    return home / "console" / "thumbnails"


def frames_dir(home: Path) -> Path:
    """Where the console keeps video alerts' frame sheets."""
    return home / "console" / "frames"


@dataclass(frozen=True)
class Pruned:
    """What one :func:`prune` did: files deleted, bytes deleted and bytes left."""

    files: int
    freed: int
    kept: int


def used(path: Path, now: Callable[[], float] = time.time) -> None:
    """Mark a kept file as shown now (see the module doc); a file gone meanwhile is fine."""
    try:
        if now() - path.stat().st_mtime >= REFRESH_S:
            os.utime(path)
    except FileNotFoundError:
        pass


def prune(roots: Sequence[Path], max_bytes: int, low_water: float = LOW_WATER) -> Pruned:
    """Delete the files of ``roots`` shown longest ago while they hold more than
    ``max_bytes``, down to ``low_water`` of it; nothing when under the limit."""
    files: list[tuple[float, int, str]] = []
    total = 0
    for root in roots:
        for folder, dirs, names in os.walk(root):
            if folder == str(root) and TEMPORARY in dirs:
                dirs.remove(TEMPORARY)  # copies of remote blobs being read
            for name in names:
                if name.startswith(".tmp-") or name.endswith(".part"):
                    continue
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    continue
                files.append((stat.st_mtime, stat.st_size, path))
                total += stat.st_size
    if total <= max_bytes:
        return Pruned(0, 0, total)
    target = int(max_bytes * low_water)
    files.sort()
    deleted = freed = 0
    for _mtime, size, path in files:
        if total - freed <= target:
            break
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        deleted += 1
        freed += size
    return Pruned(deleted, freed, total - freed)


def keep_pruning(
    roots: Sequence[Path], max_bytes: int, stop: threading.Event, every_s: float = EVERY_S
) -> None:
    """:func:`prune` now and every ``every_s`` seconds until ``stop`` is set (a thread's
    loop); a failure is logged and the next round tries again."""
    while True:
        try:
            done = prune(roots, max_bytes)
            if done.files:
                log.info(
                    "console cache pruned: %d files, %d bytes freed, %d bytes kept",
                    done.files,
                    done.freed,
                    done.kept,
                )
        except OSError as exc:
            log.warning("console cache not pruned this round: %s", exc)
        if stop.wait(every_s):
            return
