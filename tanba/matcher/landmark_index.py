"""Landmark indexes: peak-pair hash hits voted by time offset, within windows of the copy.

Each query hash (:mod:`tanba.fingerprint.landmarks`) equal to a work's votes for "the
copy's frame 0 sits at the work's frame d". A copy piles its votes on one
offset; the votes of an offset and its two neighbours are summed (a copy's
frames fall between the work's, so its hits split across adjacent offsets).

Votes are counted per window of the copy (:data:`WINDOW_FRAMES`, about 10 s, on
two grids half a window apart, so any 5 s passage lies inside one window): a
crawled file is often a whole track, and over minutes of unrelated music the
votes chance and shared drum patterns put on one offset add up, where an
excerpt of a work inside it gathers its votes in seconds. A hit is a
candidate only: the matcher verifies it on the Chromaprint items of that span
(:meth:`tanba.matcher.match.Matcher`), since music that shares a drum loop shares
peaks too.

Two implementations with one contract: :class:`LinearLandmarkIndex` searches
each work in turn (the reference), :class:`SortedLandmarkIndex` searches one
sorted table of all works; both return the same hits
(``tests/matcher/test_landmark_index.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from tanba.core.signals.audio import FRAME_S, Landmarks

WINDOW_FRAMES = round(10.0 / FRAME_S)
# Best windows kept per work: a shared drum loop may outvote the copy's own window.
PER_WORK = 3
# Works added since the sorted table was built are searched one by one; past this
# many the table is rebuilt (a rebuild sorts every work's hashes again).
_RECENT_LIMIT = 32
# A vote's cell packs owner (23 bits), window (16) and biased offset (24: ±37 hours of frames).
_OFFSET_BIAS = 1 << 23


@dataclass(frozen=True)
class LandmarkHit:
    """``votes`` hash hits around ``offset`` (work frame - copy frame) in copy frames [start, end)."""

    work_id: str
    votes: int
    offset: int
    start: int
    end: int


class LandmarkIndex(ABC):
    """Registered works' landmarks, searchable by voted time offset."""

    @abstractmethod
    def add(self, work_id: str, marks: Landmarks) -> None:
        """Index a work's landmarks, replacing any earlier ones of that work."""

    @abstractmethod
    def remove(self, work_id: str) -> None:
        """Forget a work; unknown ids are ignored."""

    @abstractmethod
    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        """Up to :data:`PER_WORK` windows per work with at least ``min_votes``; most votes first.

        Sorted by (-votes, work id, offset, start); windows of one work at the same
        or a neighbouring offset count once (the one with most votes, the earliest
        on a tie).
        """


def vote(
    owner: np.ndarray, frame: np.ndarray, offset: np.ndarray, min_votes: int
) -> list[tuple[int, int, int, int]]:
    """(owner, votes, offset, window start) of each owner's best windows; one entry per hash hit.

    ``owner``, ``frame`` (the copy's frame of the hit) and ``offset`` are parallel.
    On a tie the earlier cell wins, so the answer does not depend on the hits' order.
    """
    if not len(owner):
        return []
    found: dict[tuple[int, int], tuple[int, int]] = {}  # (owner, offset) -> (votes, start)
    for shift in (0, WINDOW_FRAMES // 2):
        window = (frame.astype(np.int64) + shift) // WINDOW_FRAMES
        cells, counts = np.unique(
            owner.astype(np.int64) << 40 | window << 24 | (offset.astype(np.int64) + _OFFSET_BIAS),
            return_counts=True,
        )
        summed = counts.copy()
        for step in (-1, 1):
            at = np.minimum(np.searchsorted(cells, cells + step), len(cells) - 1)
            near = cells[at] == cells + step
            summed[near] += counts[at[near]]
        for k in np.flatnonzero(summed >= min_votes):
            cell = int(cells[k])
            key = (cell >> 40, (cell & 0xFFFFFF) - _OFFSET_BIAS)
            start = max(0, ((cell >> 24) & 0xFFFF) * WINDOW_FRAMES - shift)
            votes = int(summed[k])
            if key not in found or (votes, -start) > (found[key][0], -found[key][1]):
                found[key] = (votes, start)
    ranked = sorted(
        ((w, votes, off, start) for (w, off), (votes, start) in found.items()),
        key=lambda c: (c[0], -c[1], c[2], c[3]),
    )
    kept: list[tuple[int, int, int, int]] = []
    for candidate in ranked:
        mine = [k for k in kept if k[0] == candidate[0]]
        # A neighbour of a kept offset shares its votes: the same passage, not another one.
        if len(mine) < PER_WORK and all(abs(k[2] - candidate[2]) > 1 for k in mine):
            kept.append(candidate)
    return kept


def _hits(table: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``table``, position in ``hashes``) of every equal pair; ``table`` sorted."""
    lo = np.searchsorted(table, hashes, side="left")
    hi = np.searchsorted(table, hashes, side="right")
    counts = hi - lo
    total = int(counts.sum())
    at = np.repeat(lo, counts) + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    return at, np.repeat(np.arange(len(hashes)), counts)


def _ranked(hits: list[LandmarkHit]) -> list[LandmarkHit]:
    return sorted(hits, key=lambda h: (-h.votes, h.work_id, h.offset, h.start))


@dataclass(frozen=True)
class _Table:
    """Hashes sorted, with each one's frame and owner (a position in ``ids``)."""

    ids: list[str]
    hashes: np.ndarray
    frames: np.ndarray
    owners: np.ndarray

    @classmethod
    def of(cls, works: dict[str, Landmarks]) -> _Table:
        ids = list(works)
        marks = list(works.values())
        hashes = np.concatenate([m.hashes for m in marks]) if marks else np.zeros(0, np.uint32)
        frames = np.concatenate([m.frames for m in marks]) if marks else np.zeros(0, np.uint32)
        owners = np.repeat(np.arange(len(marks), dtype=np.int32), [len(m.hashes) for m in marks])
        order = np.argsort(hashes, kind="stable")
        return cls(ids, hashes[order], frames[order], owners[order])

    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        at, q = _hits(self.hashes, marks.hashes)
        frame = marks.frames[q].astype(np.int64)
        offset = self.frames[at].astype(np.int64) - frame
        return [
            LandmarkHit(self.ids[w], votes, off, start, start + WINDOW_FRAMES)
            for w, votes, off, start in vote(self.owners[at], frame, offset, min_votes)
        ]


class LinearLandmarkIndex(LandmarkIndex):
    """Each work's hashes searched in turn: the reference."""

    def __init__(self) -> None:
        self._works: dict[str, _Table] = {}

    def add(self, work_id: str, marks: Landmarks) -> None:
        self._works[work_id] = _Table.of({work_id: marks})

    def remove(self, work_id: str) -> None:
        self._works.pop(work_id, None)

    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        return _ranked([h for t in self._works.values() for h in t.query(marks, min_votes)])


class SortedLandmarkIndex(LandmarkIndex):
    """All works' hashes in one sorted table, searched once per query.

    Works added since the table was built wait in a short list searched work by
    work, so registering a work does not sort every other work's hashes again;
    the table is rebuilt when that list grows long or a settled work is removed.
    Memory: 12 bytes per landmark, about 200 KB per minute of music (``python -m
    bench.speed``: 732 MiB for 1,000 tracks of about 4 minutes, sorted in 11.5-19 s).
    """

    def __init__(self) -> None:
        self._works: dict[str, Landmarks] = {}
        self._table: _Table | None = None
        self._recent: dict[str, _Table] = {}

    def add(self, work_id: str, marks: Landmarks) -> None:
        self.remove(work_id)
        self._works[work_id] = marks
        self._recent[work_id] = _Table.of({work_id: marks})
        if len(self._recent) > _RECENT_LIMIT:
            self._table = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is None:
            return
        if self._recent.pop(work_id, None) is None:
            self._table = None  # it sits in the table

    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        if self._table is None:
            self._table, self._recent = _Table.of(self._works), {}
        hits = self._table.query(marks, min_votes)
        return _ranked(hits + [h for t in self._recent.values() for h in t.query(marks, min_votes)])
