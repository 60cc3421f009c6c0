"""The matcher's saved state: its image catalogue, its works, and how far it read the works topic.

Contract: :class:`MatcherState` opens (or creates) a directory that one matcher
process owns (an exclusive lock; a second process gets :class:`StateBusy`). It
holds the image catalogue (:class:`~tanba.matcher.segments.SegmentedImageIndex`,
its manifest carrying the works-topic positions it reflects), the audio catalogue
(:mod:`tanba.matcher.audio_segments`: Chromaprint and landmark segments), the
video catalogue (:class:`~tanba.matcher.video_state.SavedVideos`: the films' frames
and soundtracks) and :class:`WorkShelf`, the works without their prints in SQLite. A restarted
matcher maps the catalogue, reads the positions, and replays only the works
events after them: a million images start in seconds instead of a replay of
the whole topic (``bench/catalogue.py``). The works topic stays the source of
truth: the state can be deleted at any time and is rebuilt by a full replay.

Events after the saved positions may already be on the shelf (it is written
as events arrive); replaying them again is harmless, as every change is a
replacement or a removal by work id.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

from tanba.core.schemas.works import Work
from tanba.core.sqlite import Database
from tanba.matcher.audio_segments import (
    DEFAULT_AUDIO_TUNING,
    MANIFEST,
    AudioTuning,
    SegmentedAudioIndex,
    SegmentedLandmarkIndex,
)
from tanba.matcher.segments import DEFAULT_TUNING, SegmentedImageIndex, Tuning
from tanba.matcher.video_state import SavedVideos

_SCHEMA = """
CREATE TABLE IF NOT EXISTS works (
    work_id TEXT PRIMARY KEY,
    media TEXT NOT NULL,
    work TEXT NOT NULL
);
-- A matcher state from before the audio catalogue re-indexes its audio works from here.
CREATE INDEX IF NOT EXISTS works_by_media ON works (media);
"""


class StateBusy(RuntimeError):
    """Another process holds this matcher state directory."""


class WorkShelf(MutableMapping[str, Work]):
    """Works by id in SQLite, decoded when read: a million of them take no memory.

    Writes inside :meth:`batch` share one transaction (one fsync for a replay of
    thousands of events); outside it, each write commits by itself. Pending
    writes are kept by work id (the last one wins, as it would in the table), so
    reading one back during a replay of a million events is a dictionary lookup.
    """

    def __init__(self, path: Path) -> None:
        self.db = Database(path, _SCHEMA, "the matcher's works")
        self._batch: dict[str, Work | None] | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        self._batch = {}
        try:
            yield
            pending, self._batch = self._batch, None
            with self.db.write() as conn:
                self._apply(conn, pending)
        finally:
            self._batch = None

    @staticmethod
    def _apply(conn: sqlite3.Connection, pending: dict[str, Work | None]) -> None:
        for work_id, work in pending.items():
            if work is None:
                conn.execute("DELETE FROM works WHERE work_id = ?", (work_id,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO works VALUES (?, ?, ?)",
                    (work_id, work.media, work.model_dump_json()),
                )

    def _change(self, work_id: str, work: Work | None) -> None:
        if self._batch is not None:
            self._batch[work_id] = work
        else:
            with self.db.write() as conn:
                self._apply(conn, {work_id: work})

    def __setitem__(self, work_id: str, work: Work) -> None:
        self._change(work_id, work)

    def __delitem__(self, work_id: str) -> None:
        if work_id not in self:
            raise KeyError(work_id)
        self._change(work_id, None)

    def _pending(self, work_id: str) -> tuple[bool, Work | None]:
        if self._batch is None or work_id not in self._batch:
            return False, None
        return True, self._batch[work_id]

    def __getitem__(self, work_id: str) -> Work:
        found, work = self._pending(work_id)
        if found:
            if work is None:
                raise KeyError(work_id)
            return work
        row = (
            self.db.conn()
            .execute("SELECT work FROM works WHERE work_id = ?", (work_id,))
            .fetchone()
        )
        if row is None:
            raise KeyError(work_id)
        return Work.model_validate_json(row[0])

    def __contains__(self, work_id: object) -> bool:
        if not isinstance(work_id, str):
            return False
        found, work = self._pending(work_id)
        if found:
            return work is not None
        row = self.db.conn().execute("SELECT 1 FROM works WHERE work_id = ?", (work_id,))
        return row.fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        for (work_id,) in self.db.conn().execute("SELECT work_id FROM works ORDER BY work_id"):
            yield work_id

    def __len__(self) -> int:
        return int(self.db.conn().execute("SELECT count(*) FROM works").fetchone()[0])

    def of_medium(self, media: str) -> Iterator[Work]:
        """Every stored work of one medium (the audio works a restarted matcher re-indexes)."""
        rows = self.db.conn().execute("SELECT work FROM works WHERE media = ?", (media,))
        for (raw,) in rows:
            yield Work.model_validate_json(raw)


class MatcherState:
    """One matcher's directory: a lock, the image catalogue and the works shelf."""

    def __init__(
        self,
        directory: Path,
        tuning: Tuning = DEFAULT_TUNING,
        audio_tuning: AudioTuning = DEFAULT_AUDIO_TUNING,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._lock = os.open(directory / "lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise StateBusy(
                f"another matcher uses {directory}; give each matcher process its own "
                "TANBA_MATCHER_STATE directory (or run one matcher per shard)"
            ) from None
        self.images, extra = SegmentedImageIndex.open(directory / "images", tuning)
        # A state saved before the audio catalogue existed keeps its audio works whole on
        # the shelf: the matcher moves them into the catalogue (MatcherStage).
        self.audio_saved = (directory / "audio" / "chromaprint" / MANIFEST).is_file()
        self.audio = SegmentedAudioIndex(directory / "audio" / "chromaprint", audio_tuning)
        self.landmarks = SegmentedLandmarkIndex(directory / "audio" / "landmarks", audio_tuning)
        self.positions: dict[int, int] = {
            int(p): int(o) for p, o in extra.get("works_positions", {}).items()
        }
        self.works = WorkShelf(directory / "works.sqlite")
        # A state saved before the video catalogue existed keeps its films whole on the shelf
        # (video.saved is False): the matcher indexes them once, and the next save writes them.
        self.video = SavedVideos(directory / "video", audio_tuning)

    def save(self, positions: dict[int, int]) -> None:
        """Record that the catalogue and shelf reflect the works topic up to ``positions``.

        The video catalogue and the audio segments are saved first: the positions, in the
        image manifest, are written last, so they never claim events those lack.
        """
        self.video.save()
        self.audio.store.save()
        self.landmarks.store.save()
        self.images.save({"works_positions": {str(p): o for p, o in positions.items()}})

    def close(self) -> None:
        self.video.close()
        self.audio.store.wait()
        self.landmarks.store.wait()
        os.close(self._lock)
