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

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tanba.core.signals.audio import FRAME_S, LANDMARK_KEY_BITS, Landmarks, landmark_key
from tanba.matcher.key_table import KeyTable, joined

WINDOW_FRAMES = round(10.0 / FRAME_S)
# Best windows kept per work: a shared drum loop may outvote the copy's own window.
PER_WORK = 3
# Works added since the sorted table was built are searched one by one; past this
# many the table is rebuilt (a rebuild sorts every work's hashes again).
_RECENT_LIMIT = 32
# Landmarks kept for matching: one hash value in SAMPLE (see sampled()).
SAMPLE = 4
_SAMPLE_MIX = 0x9E3779B1  # odd: spreads hash values evenly before the cut
# Past this many hash hits a query counts only the busiest offsets exactly (_busiest).
_PREFILTER = 1 << 17
_BUCKETS = 1 << 20
_MIX = 0x9E3779B97F4A7C15 >> 40  # odd multiplier (24 bits: no int64 overflow on frame numbers)
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


def ranked(hits: list[LandmarkHit]) -> list[LandmarkHit]:
    return sorted(hits, key=lambda h: (-h.votes, h.work_id, h.offset, h.start))


def sampled(marks: Landmarks) -> Landmarks:
    """The landmarks kept for matching: one hash value in :data:`SAMPLE`, the same on every print.

    A registered track keeps about 300 landmarks a second, 12 bytes each in a
    table: 80 GB for 100,000 songs. Keeping the hashes whose mixed value falls in
    one quarter of the range (on registered and crawled prints alike, so a copy's
    kept hashes meet the work's) cuts the table, the votes and chance hits four
    times; a 10 s voice-over excerpt of one of 229 registered game tracks still gathered
    10 votes or more on its offset 9 times in 10, where unrelated voice-overs reached 5 at
    most (and ``python -m bench.audio_catalogue`` measures the path at 100,000 tracks).
    """
    mixed = (marks.hashes.astype(np.uint64) * _SAMPLE_MIX) & 0xFFFFFFFF
    keep = mixed < (1 << 32) // SAMPLE
    return Landmarks(marks.hashes[keep], marks.frames[keep])


def _busiest(starts: np.ndarray, min_votes: int) -> np.ndarray:
    """Which votes may belong to a cell of ``min_votes`` (``starts``: segment frame - copy frame).

    Hundreds of thousands of votes (a catalogue of 100,000 tracks gives a 10 s excerpt
    millions) cost a sort to count exactly. They are first counted in hashed buckets
    of 8 neighbouring offsets, on two groupings 4 apart: an offset and its two
    neighbours, which :func:`vote` sums, lie whole inside one group of one of them,
    so a cell of ``min_votes`` lies in a bucket of at least as many. Only votes in
    such buckets are counted exactly: nothing :func:`vote` would keep is lost.
    """
    keep = np.zeros(len(starts), bool)
    for lag in (0, 4):
        bucket = (((starts + lag) >> 3) * _MIX) >> 7 & (_BUCKETS - 1)
        keep |= (np.bincount(bucket, minlength=_BUCKETS) >= min_votes)[bucket]
    return keep


class LandmarkSegment:
    """Tracks' landmarks filed by key: frame ``bases[w] + f`` is frame f of track w.

    Immutable; the arrays may be memory-mapped. 4 bytes a landmark (its row) in
    the key table, and 12 bytes per key that has rows.
    """

    def __init__(self, ids: list[str], bases: np.ndarray, table: KeyTable) -> None:
        self.ids = ids
        self.bases = bases
        self.table = table
        self._numbers: dict[str, int] | None = None

    def number(self, work_id: str) -> int:
        """The track number of a work id here (a dictionary made on first use)."""
        if self._numbers is None:
            self._numbers = {w: i for i, w in enumerate(self.ids)}
        return self._numbers[work_id]

    @classmethod
    def build(cls, works: dict[str, Landmarks]) -> LandmarkSegment:
        marks = list(works.values())
        spans = np.array([int(m.frames.max()) + 1 if len(m.frames) else 0 for m in marks], np.int64)
        bases = np.zeros(len(marks) + 1, np.int64)
        np.cumsum(spans, out=bases[1:])
        if bases[-1] >= 1 << 32:
            raise ValueError("a landmark segment holds at most 2^32 frames (about 2 years)")
        keys = (
            np.concatenate([landmark_key(m.hashes) for m in marks])
            if marks
            else np.zeros(0, np.int64)
        )
        rows = (
            np.concatenate(
                [m.frames.astype(np.int64) + b for m, b in zip(marks, bases, strict=False)]
            )
            if marks
            else np.zeros(0, np.int64)
        )
        return cls(list(works), bases, KeyTable.build(keys, rows, 1 << LANDMARK_KEY_BITS))

    @classmethod
    def merged(cls, segments: list[LandmarkSegment], alive: list[np.ndarray]) -> LandmarkSegment:
        """The live tracks of ``segments`` in one segment (no sort: key runs are joined)."""
        ids, bases, moves = joined([s.bases for s in segments], [s.ids for s in segments], alive)
        table = KeyTable.merged([s.table for s in segments], moves)
        return cls(ids, bases, table)

    @property
    def rows(self) -> int:
        return len(self.table.rows)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "bases.npy", self.bases)
        self.table.save(directory, "marks")
        (directory / "ids.json").write_text(json.dumps({"ids": self.ids}))

    @classmethod
    def load(cls, directory: Path) -> LandmarkSegment:
        ids = json.loads((directory / "ids.json").read_text())["ids"]
        bases = np.load(directory / "bases.npy", mmap_mode="r")
        return cls(ids, bases, KeyTable.load(directory, "marks", 1 << LANDMARK_KEY_BITS))

    def query(
        self, marks: Landmarks, min_votes: int, alive: np.ndarray | None = None
    ) -> list[LandmarkHit]:
        """The hits of this segment's (live) tracks, as :meth:`LandmarkIndex.query` ranks them."""
        rows, which = self.table.lookup(landmark_key(marks.hashes))
        if len(rows) > _PREFILTER:
            keep = _busiest(rows.astype(np.int64) - marks.frames[which], min_votes)
            rows, which = rows[keep], which[keep]
        owner = np.searchsorted(self.bases, rows, "right") - 1
        if alive is not None:
            keep = alive[owner]
            rows, which, owner = rows[keep], which[keep], owner[keep]
        frame = marks.frames[which].astype(np.int64)
        offset = rows.astype(np.int64) - self.bases[owner] - frame
        return [
            LandmarkHit(self.ids[w], votes, off, start, start + WINDOW_FRAMES)
            for w, votes, off, start in vote(owner, frame, offset, min_votes)
        ]


class LinearLandmarkIndex(LandmarkIndex):
    """Each work's hashes searched in turn: the reference."""

    def __init__(self) -> None:
        self._works: dict[str, LandmarkSegment] = {}

    def add(self, work_id: str, marks: Landmarks) -> None:
        self._works[work_id] = LandmarkSegment.build({work_id: marks})

    def remove(self, work_id: str) -> None:
        self._works.pop(work_id, None)

    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        return ranked([h for t in self._works.values() for h in t.query(marks, min_votes)])


class SortedLandmarkIndex(LandmarkIndex):
    """All works' hashes in one sorted table, searched once per query.

    Works added since the table was built wait in a short list searched work by
    work, so registering a work does not sort every other work's hashes again;
    the table is rebuilt when that list grows long or a settled work is removed.
    Memory: the prints it was given (8 bytes per landmark) and one
    :class:`LandmarkSegment` of them (4 bytes per kept landmark); for 100,000 tracks
    use the segmented index (:mod:`tanba.matcher.audio_segments`).
    """

    def __init__(self) -> None:
        self._works: dict[str, Landmarks] = {}
        self._table: LandmarkSegment | None = None
        self._recent: dict[str, LandmarkSegment] = {}

    def add(self, work_id: str, marks: Landmarks) -> None:
        self.remove(work_id)
        self._works[work_id] = marks
        self._recent[work_id] = LandmarkSegment.build({work_id: marks})
        if len(self._recent) > _RECENT_LIMIT:
            self._table = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is None:
            return
        if self._recent.pop(work_id, None) is None:
            self._table = None  # it sits in the table

    def query(self, marks: Landmarks, min_votes: int) -> list[LandmarkHit]:
        if self._table is None:
            self._table, self._recent = LandmarkSegment.build(self._works), {}
        hits = self._table.query(marks, min_votes)
        return ranked(hits + [h for t in self._recent.values() for h in t.query(marks, min_votes)])
