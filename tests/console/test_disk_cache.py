"""The console's kept pictures stay within their size, and a pruned one is made again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tanba.console.disk_cache import REFRESH_S, TEMPORARY, prune, used
from tanba.console.media import cell, thumbnail
from tanba.core.exceptions import SettingsError
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tests.console.test_pictures import _stored


def _file(path: Path, size: int, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_prune_deletes_the_pictures_shown_longest_ago_down_to_the_low_water(
    tmp_path: Path,
) -> None:
    thumbs, frames = tmp_path / "thumbnails", tmp_path / "frames"
    # Ten files of 1,000 bytes over two folders, shown at times 1..10.
    kept = [
        _file((thumbs if i % 2 else frames) / f"{i:02}" / f"{i}.jpg", 1000, i) for i in range(1, 11)
    ]
    writing = [_file(thumbs / "aa" / ".tmp-1.jpg", 5000, 0), _file(frames / "x.part", 5000, 0)]
    assert prune([thumbs, frames], 10_000).files == 0  # at the limit: nothing to do
    done = prune([thumbs, frames], 9_000, low_water=0.5)
    # Down to 4,500 bytes: the six shown longest ago go, the four last shown stay.
    assert (done.files, done.freed, done.kept) == (6, 6000, 4000)
    assert [p.exists() for p in kept] == [False] * 6 + [True] * 4
    assert all(p.exists() for p in writing)  # files being written are never deleted


def test_a_file_shown_again_is_kept_over_one_shown_long_ago(tmp_path: Path) -> None:
    old = _file(tmp_path / "a.jpg", 1000, 1.0)
    older = _file(tmp_path / "b.jpg", 1000, 2.0)
    now = 1.0 + REFRESH_S
    used(old, now=lambda: now)  # shown an hour after it was made: its time moves on
    used(older, now=lambda: 2.0 + REFRESH_S / 2)  # refreshed less than an hour ago: left
    assert older.stat().st_mtime == 2.0
    prune([tmp_path], 1500, low_water=1.0)
    assert old.exists() and not older.exists()
    used(tmp_path / "gone.jpg")  # a file pruned meanwhile is no error


def test_a_pruned_thumbnail_or_cell_is_made_again_the_same(app: App, tmp_path: Path) -> None:
    cache = tmp_path / "thumbnails"
    [sha] = _stored(app.blobs, [(400, 300)])
    first_thumb = thumbnail(app.blobs, sha, cache, 10**8)
    first_cell = cell(app.blobs, sha, cache, 10**8)
    reading = _file(cache / TEMPORARY / "remote-blob", 1000, 0)  # a remote blob's copy
    assert prune([cache], 1, low_water=0).files == 2
    assert not any(p.is_file() for p in cache.rglob("*.jpg")) and reading.exists()
    assert thumbnail(app.blobs, sha, cache, 10**8) == first_thumb
    assert cell(app.blobs, sha, cache, 10**8) == first_cell
    assert len(list(cache.rglob("*.jpg"))) == 2


def test_a_negative_cache_size_is_refused_saying_what_is_allowed() -> None:
    with pytest.raises(SettingsError, match="TANBA_CONSOLE_CACHE_MB must be 0"):
        Settings.from_env({"TANBA_CONSOLE_CACHE_MB": "-1"})
