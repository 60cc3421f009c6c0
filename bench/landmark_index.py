"""Landmark indexes: hash hits voted by time offset, a linear reference and a sorted-table index.

A query's landmark hashes (``bench.landmarks``) that equal a work's vote
for "the query's frame 0 sits at the work's frame d". A copy piles its votes on
one offset; the votes of the offset and its two neighbours are summed (a copy's
frames fall between the work's, so its hits split across adjacent offsets).
A work matches when that sum reaches ``min_votes`` (calibrated on the quality
benchmark: unrelated music reached 15 at most). Both implementations count the
same votes and must return the same hits (``tests/bench/test_bench_landmark_index.py``).

Measured in the benchmark only: the pipeline does not fingerprint landmarks yet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

_OFFSET_BIAS = 1 << 31
# Votes a match needs. Calibrated on the quality benchmark's calibration half (even-placed
# works and distractors, ``--split calibration``): see the report of issue 4.
DEFAULT_MIN_VOTES = 16


@dataclass(frozen=True)
class LandmarkHit:
    """A work with ``votes`` hash hits around ``offset`` frames (work frame - query frame)."""

    work_id: str
    votes: int
    offset: int


class LandmarkIndex(ABC):
    """Registered works' landmark hashes, searchable by voted time offset."""

    @abstractmethod
    def add(self, work_id: str, hashes: np.ndarray, frames: np.ndarray) -> None:
        """Index a work's landmarks, replacing any earlier ones of that work."""

    @abstractmethod
    def remove(self, work_id: str) -> None:
        """Forget a work; unknown ids are ignored."""

    @abstractmethod
    def query(self, hashes: np.ndarray, frames: np.ndarray, min_votes: int) -> list[LandmarkHit]:
        """Works whose best offset gathers at least ``min_votes``, most votes first."""


def best_offsets(
    work: np.ndarray, offset: np.ndarray, min_votes: int
) -> list[tuple[int, int, int]]:
    """(work, votes, offset) of each work's best offset, votes summed over offset +- 1.

    ``work`` and ``offset`` are parallel arrays, one entry per hash hit. On a tie the
    earliest offset wins, so the answer does not depend on the order of the hits.
    """
    if not len(work):
        return []
    cells, counts = np.unique(
        work.astype(np.int64) << 32 | (offset + _OFFSET_BIAS), return_counts=True
    )
    summed = counts.copy()
    for step in (-1, 1):
        at = np.searchsorted(cells, cells + step)
        at = np.minimum(at, len(cells) - 1)
        near = cells[at] == cells + step
        summed[near] += counts[at[near]]
    found = []
    owner = cells >> 32
    for w in np.unique(owner):
        mine = np.flatnonzero(owner == w)
        best = mine[int(np.argmax(summed[mine]))]  # argmax takes the first: the earliest offset
        if summed[best] >= min_votes:
            found.append(
                (int(w), int(summed[best]), int((cells[best] & 0xFFFFFFFF) - _OFFSET_BIAS))
            )
    return found


def _sorted_hits(table: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``table``, position in ``hashes``) of every equal pair; ``table`` sorted."""
    lo = np.searchsorted(table, hashes, side="left")
    hi = np.searchsorted(table, hashes, side="right")
    counts = hi - lo
    total = int(counts.sum())
    at = np.repeat(lo, counts) + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    return at, np.repeat(np.arange(len(hashes)), counts)


def _sorted_work(hashes: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(hashes, kind="stable")
    return np.asarray(hashes, np.int64)[order], np.asarray(frames, np.int64)[order]


class LinearLandmarkIndex(LandmarkIndex):
    """Each work's hashes searched in turn: the reference."""

    def __init__(self) -> None:
        self._works: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, work_id: str, hashes: np.ndarray, frames: np.ndarray) -> None:
        self._works[work_id] = _sorted_work(hashes, frames)

    def remove(self, work_id: str) -> None:
        self._works.pop(work_id, None)

    def query(self, hashes: np.ndarray, frames: np.ndarray, min_votes: int) -> list[LandmarkHit]:
        hits = []
        for work_id, (table, work_frames) in self._works.items():
            at, q = _sorted_hits(table, np.asarray(hashes, np.int64))
            offset = work_frames[at] - np.asarray(frames, np.int64)[q]
            for _, votes, best in best_offsets(np.zeros(len(at), np.int64), offset, min_votes):
                hits.append(LandmarkHit(work_id, votes, best))
        return sorted(hits, key=lambda h: (-h.votes, h.work_id))


class SortedLandmarkIndex(LandmarkIndex):
    """All works' hashes in one sorted table, searched once per query; rebuilt after a change."""

    def __init__(self) -> None:
        self._works: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._table: tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, work_id: str, hashes: np.ndarray, frames: np.ndarray) -> None:
        self._works.pop(work_id, None)
        self._works[work_id] = (np.asarray(hashes, np.int64), np.asarray(frames, np.int64))
        self._table = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._table = None

    def _build(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        if self._table is None:
            ids = list(self._works)
            parts = list(self._works.values())
            hashes = np.concatenate([h for h, _ in parts]) if parts else np.zeros(0, np.int64)
            frames = np.concatenate([f for _, f in parts]) if parts else np.zeros(0, np.int64)
            owner = (
                np.concatenate([np.full(len(h), i) for i, (h, _) in enumerate(parts)])
                if parts
                else np.zeros(0, np.int64)
            )
            order = np.argsort(hashes, kind="stable")
            self._table = (ids, hashes[order], frames[order], owner[order].astype(np.int64))
        return self._table

    def query(self, hashes: np.ndarray, frames: np.ndarray, min_votes: int) -> list[LandmarkHit]:
        ids, table, work_frames, owner = self._build()
        at, q = _sorted_hits(table, np.asarray(hashes, np.int64))
        offset = work_frames[at] - np.asarray(frames, np.int64)[q]
        hits = [
            LandmarkHit(ids[w], votes, best)
            for w, votes, best in best_offsets(owner[at], offset, min_votes)
        ]
        return sorted(hits, key=lambda h: (-h.votes, h.work_id))
