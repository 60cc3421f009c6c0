"""A registered audio catalogue of 100,000 tracks: immutable segments on disk, a small delta in memory.

Contract: :class:`SegmentedAudioIndex` is an :class:`~tanba.matcher.index.AudioIndex`
and :class:`SegmentedLandmarkIndex` a :class:`~tanba.matcher.landmark_index.LandmarkIndex`
(the contract tests run them beside the linear references). Each keeps its
tracks in a :class:`SegmentStore`: new tracks go to a delta of at most
``freeze_tracks`` tracks, rebuilt in memory after a change (milliseconds); a
full delta becomes an immutable segment; segments of like size are merged (in
a background thread when ``background``), like the image catalogue's
(:mod:`tanba.matcher.segments`), up to ``max_rows`` rows a segment. A removed or
replaced track is marked dead in its segment and dropped at the next merge.
With a directory, each segment is written once as ``.npy`` files opened
memory-mapped, and :meth:`SegmentStore.save` writes a manifest that
:meth:`SegmentStore.open` reads back: a restarted matcher maps its tracks
instead of decoding every audio work again.

Memory per track of 4 minutes: 7.8 KB of Chromaprint items and 15.5 KB of their
key rows; about 65 KB of landmark rows (a quarter of its landmarks are kept,
:func:`~tanba.matcher.landmark_index.sampled`). ``python -m bench.audio_catalogue``
measures 100,000 tracks.

Why one module of about 400 lines: the store, its manifest and lock, and the two
indexes over it change together; apart, each would reach into the others' state.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np

from tanba.core.signals.audio import Landmarks
from tanba.matcher.audio_index import ChromaprintSegment, combined
from tanba.matcher.audio_score import AudioRule, ItemModel, default_model
from tanba.matcher.index import AudioHit, AudioIndex
from tanba.matcher.landmark_index import (
    SAMPLE,
    LandmarkHit,
    LandmarkIndex,
    LandmarkSegment,
    ranked,
)

MANIFEST = "manifest.json"


class Segment(Protocol):
    ids: list[str]

    @property
    def rows(self) -> int: ...

    def number(self, work_id: str) -> int: ...

    def save(self, directory: Path) -> None: ...


S = TypeVar("S", bound=Segment)
P = TypeVar("P")


@dataclass(frozen=True)
class SegmentKind(Generic[S, P]):
    """How one kind of segment is built from tracks, merged, and loaded."""

    name: str
    build: Callable[[dict[str, P]], S]
    merge: Callable[[list[S], list[np.ndarray]], S]
    load: Callable[[Path], S]
    meta: dict[str, object]  # what the saved segments must agree with (else: rebuild)


@dataclass(frozen=True)
class AudioTuning:
    freeze_tracks: int = 64  # delta size at which it becomes a segment
    max_rows: int = 1 << 28  # a merge never makes a segment larger than this
    background: bool = True  # merge in a thread (tests merge at once)


DEFAULT_AUDIO_TUNING = AudioTuning()


class StateMismatch(RuntimeError):
    """Saved segments were made by another version of the index."""


class _Live(Generic[S]):
    """One segment, its name, and which of its tracks are still live."""

    def __init__(self, name: str, segment: S, dead: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.segment = segment
        self.alive = np.array([w not in dead for w in segment.ids], bool)


class SegmentStore(Generic[S, P]):
    """Tracks in immutable segments and a small delta; merges of like-sized segments."""

    def __init__(
        self, kind: SegmentKind[S, P], directory: Path | None, tuning: AudioTuning
    ) -> None:
        self.kind = kind
        self.directory = directory
        self.tuning = tuning
        self._lock = threading.RLock()
        self._segments: list[_Live[S]] = []
        self._where: dict[str, str] = {}  # work id -> name of the segment holding it live
        self._delta: dict[str, P] = {}
        self._delta_segment: S | None = None
        self._merging = False
        self._merge_thread: threading.Thread | None = None
        self._retired: list[str] = []  # merged away: deleted once a manifest no longer names them
        if directory is not None:
            self._open(directory)

    # -- changes --------------------------------------------------------------------------
    def add(self, work_id: str, payload: P) -> None:
        with self._lock:
            self.remove(work_id)
            self._delta[work_id] = payload
            self._delta_segment = None
            if len(self._delta) >= self.tuning.freeze_tracks:
                self.freeze()

    def remove(self, work_id: str) -> None:
        with self._lock:
            if self._delta.pop(work_id, None) is not None:
                self._delta_segment = None
            name = self._where.pop(work_id, None)
            if name is None:
                return
            for live in self._segments:
                if live.name == name:
                    live.alive = live.alive.copy()  # searches in flight keep their view
                    live.alive[live.segment.number(work_id)] = False

    def freeze(self) -> None:
        """Make the delta an immutable segment (written to disk with a directory)."""
        with self._lock:
            if not self._delta:
                return
            segment = self.kind.build(self._delta)
            self._append(segment)
            self._delta, self._delta_segment = {}, None
        self._maybe_merge()

    def _append(self, segment: S) -> _Live[S]:
        live = self._written(segment)
        self._segments.append(live)
        for work_id in segment.ids:
            self._where[work_id] = live.name
        return live

    def _written(self, segment: S) -> _Live[S]:
        """The segment under a new name, written to disk first when there is a directory."""
        name = f"{self.kind.name}-{uuid.uuid4().hex[:12]}"
        if self.directory is not None:
            segment.save(self.directory / name)
        return _Live(name, segment)

    # -- merges -------------------------------------------------------------------------
    def _maybe_merge(self) -> None:
        with self._lock:
            if self._merging:
                return
            chosen = self._like_sized()
            if not chosen:
                return
            self._merging = True
        if self.tuning.background:
            self._merge_thread = threading.Thread(
                target=self._merge, args=(chosen,), name=f"merge-{self.kind.name}", daemon=True
            )
            self._merge_thread.start()
        else:
            self._merge(chosen)

    def _like_sized(self) -> list[_Live[S]]:
        """Two or more segments within twice each other's size, together under the cap."""
        by_size = sorted(self._segments, key=lambda s: s.segment.rows)
        for i in range(len(by_size) - 1):
            group = [by_size[i]]
            for other in by_size[i + 1 :]:
                total = sum(s.segment.rows for s in group) + other.segment.rows
                if (
                    other.segment.rows > 2 * max(1, by_size[i].segment.rows)
                    or total > self.tuning.max_rows
                ):
                    break
                group.append(other)
            if len(group) >= 2:
                return group
        return []

    def _merge(self, chosen: list[_Live[S]]) -> None:
        """Merge and write outside the lock (seconds for big segments); swap under it."""
        try:
            merged = self.kind.merge([c.segment for c in chosen], [c.alive for c in chosen])
            live = self._written(merged)
            with self._lock:
                names = {c.name for c in chosen}
                # Tracks removed or replaced while the merge ran are dead in the result.
                live.alive = np.array([self._where.get(w) in names for w in merged.ids], bool)
                for work_id, alive in zip(merged.ids, live.alive, strict=True):
                    if alive:
                        self._where[work_id] = live.name
                self._segments = [s for s in self._segments if s.name not in names] + [live]
                self._retired += sorted(names)
        finally:
            with self._lock:
                self._merging = False
        self._maybe_merge()

    def wait(self) -> None:
        """Until no merge runs (tests, benchmarks, a clean shutdown)."""
        while True:
            thread = self._merge_thread
            if thread is None or not thread.is_alive():
                with self._lock:
                    if not self._merging:
                        return
            if thread is not None:
                thread.join()

    # -- reading ------------------------------------------------------------------------
    def searchable(self) -> list[tuple[S, np.ndarray]]:
        """Every segment with its live mask, the delta's last."""
        with self._lock:
            found: list[tuple[S, np.ndarray]] = [
                (live.segment, live.alive)
                for live in self._segments  # type: ignore[misc]
            ]
            if self._delta:
                if self._delta_segment is None:
                    self._delta_segment = self.kind.build(self._delta)
                delta = self._delta_segment
                found.append((delta, np.ones(len(delta.ids), bool)))
            return found

    def find(self, work_id: str) -> tuple[S, int] | P | None:
        """The delta's payload of a track, or its segment and number there; None if unknown."""
        with self._lock:
            if work_id in self._delta:
                return self._delta[work_id]
            name = self._where.get(work_id)
            for live in self._segments:
                if live.name == name:
                    return live.segment, live.segment.number(work_id)
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._where) + len(self._delta)

    # -- on disk ------------------------------------------------------------------------
    def save(self) -> None:
        """Freeze the delta and write the manifest of the live segments (atomically)."""
        if self.directory is None:
            return
        self.freeze()
        with self._lock:
            retired, self._retired = self._retired, []
            manifest = {
                "meta": self.kind.meta,
                "segments": [
                    {
                        "name": s.name,
                        "dead": [w for w, a in zip(s.segment.ids, s.alive, strict=True) if not a],
                    }
                    for s in self._segments
                ],
            }
        path = self.directory / MANIFEST
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as out:
            json.dump(manifest, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        for name in retired:  # searches still reading them keep their open maps
            shutil.rmtree(self.directory / name, ignore_errors=True)

    def _open(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST
        manifest = json.loads(path.read_text()) if path.is_file() else {"segments": []}
        if manifest["segments"] and manifest.get("meta") != self.kind.meta:
            raise StateMismatch(
                f"the audio catalogue in {directory} was made by another version of Tanba "
                f"({manifest.get('meta')}, this one needs {self.kind.meta}); delete the matcher "
                "state directory and start the matcher again: it rebuilds it from the works topic"
            )
        kept = set()
        for entry in manifest["segments"]:
            segment = self.kind.load(directory / entry["name"])
            live = _Live(entry["name"], segment, frozenset(entry["dead"]))
            self._segments.append(live)
            kept.add(entry["name"])
            for work_id, alive in zip(segment.ids, live.alive, strict=True):
                if alive:
                    self._where[work_id] = entry["name"]
        for child in directory.iterdir():  # segments of merges or freezes never saved
            if child.is_dir() and child.name not in kept:
                shutil.rmtree(child, ignore_errors=True)


CHROMAPRINT_KIND: SegmentKind[ChromaprintSegment, np.ndarray] = SegmentKind(
    "chromaprint",
    ChromaprintSegment.build,
    ChromaprintSegment.merged,
    ChromaprintSegment.load,
    {"keys": "halves16", "table": "sparse"},
)
LANDMARK_KIND: SegmentKind[LandmarkSegment, Landmarks] = SegmentKind(
    "landmarks",
    LandmarkSegment.build,
    LandmarkSegment.merged,
    LandmarkSegment.load,
    {"sample": SAMPLE, "table": "sparse"},
)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
T = TypeVar("T")


def _each(segments: list[tuple[S, np.ndarray]], search: Callable[[S, np.ndarray], T]) -> list[T]:
    """``search`` on every segment, on up to 4 threads, results in the segments' order.

    The counting numpy does per segment (bincount, searchsorted, sort) runs without
    the interpreter lock, so two cores halve a query over a catalogue of several
    segments (measured on 100,000 tracks: 8.7 to 4.4 ms per landmark segment).
    """
    global _POOL
    if len(segments) < 2:
        return [search(segment, alive) for segment, alive in segments]
    with _POOL_LOCK:
        if _POOL is None:
            workers = min(4, os.cpu_count() or 1)
            _POOL = ThreadPoolExecutor(workers, thread_name_prefix="audio-search")
    return list(_POOL.map(lambda pair: search(*pair), segments))


class SegmentedAudioIndex(AudioIndex):
    """Chromaprint segments searched one after another, their hits combined per work."""

    def __init__(
        self,
        directory: Path | None = None,
        tuning: AudioTuning = DEFAULT_AUDIO_TUNING,
        model: ItemModel | None = None,
    ) -> None:
        self._model = model or default_model()
        self.store: SegmentStore[ChromaprintSegment, np.ndarray] = SegmentStore(
            CHROMAPRINT_KIND, directory, tuning
        )

    def add(self, work_id: str, items: np.ndarray) -> None:
        self.store.add(work_id, np.asarray(items, dtype=np.uint32))

    def remove(self, work_id: str) -> None:
        self.store.remove(work_id)

    def items(self, work_id: str) -> np.ndarray | None:
        found = self.store.find(work_id)
        if isinstance(found, tuple):
            segment, number = found
            return np.asarray(segment.track(number))
        return found

    def _query(self, query: np.ndarray, rule: AudioRule) -> list[AudioHit]:
        return combined(
            _each(
                self.store.searchable(),
                lambda segment, alive: segment.search(query, rule, self._model, alive),
            )
        )


class SegmentedLandmarkIndex(LandmarkIndex):
    """Landmark segments searched one after another (a track lives in one of them)."""

    def __init__(
        self, directory: Path | None = None, tuning: AudioTuning = DEFAULT_AUDIO_TUNING
    ) -> None:
        self.store: SegmentStore[LandmarkSegment, Landmarks] = SegmentStore(
            LANDMARK_KIND, directory, tuning
        )

    def add(self, work_id: str, marks: Landmarks) -> None:
        self.store.add(work_id, marks)

    def remove(self, work_id: str) -> None:
        self.store.remove(work_id)

    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        found = _each(
            self.store.searchable(), lambda segment, alive: segment.query(marks, min_votes, alive)
        )
        return ranked([hit for hits in found for hit in hits])
