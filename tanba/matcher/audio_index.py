"""An inverted index of Chromaprint items with time-offset voting on 16-bit halves.

A query's items look up registered items by key; each hit votes for "query item
i sits at work item j", i.e. for the (work, shift j - i). True copies pile their
votes on one shift, chance hits scatter. The best (work, shift) candidates are
then verified by :mod:`tanba.matcher.audio_score` (BER or LLR over the aligned span) at
the voted shift and its neighbours (a copy played slightly fast drifts by an
item now and then): votes only pick where to look, the scores decide, with the
same rule as the linear scan.

Every item is filed under its upper and its lower 16 bits. After MP3 coding or
added noise about a quarter of the 32-bit items come through exact, but over
half of their 16-bit halves do, so short or degraded excerpts still gather
votes. Under a voice at the music's loudness the halves rarely survive; such
copies are found by the landmark path (:mod:`tanba.matcher.landmark_index`),
whose candidates Chromaprint's items verify. (A second key set of the 12 bits
a voice flips least, looked up with each bit flipped, was dropped: at 100,000
tracks it cast 50 million votes per 10 s excerpt, and with the landmark path
on it found no copy more on ``bench.quality``'s voice-overs, either half.)

Candidates are verified together, in one gather over all works' items end to
end. The key table is a counting sort (:class:`~tanba.matcher.key_table.KeyTable`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tanba.matcher.audio_score import AudioRule, ItemModel, default_model, moving_counts
from tanba.matcher.index import AudioHit, AudioIndex, best_llr_alignment
from tanba.matcher.key_table import KeyTable, joined

_HALF = 16
_HALF_KEYS = 1 << (_HALF + 1)  # 16 bits of value and one bit for which half
_HALF_CANDIDATES = 16  # (work, shift) pairs verified per query from half-key votes
_REFINE = (0, -1, 1)  # shifts tried around each voted one
_BUCKETS = 1 << 20  # hashed (work, shift) vote counters for large vote sets
_MIX = 0x9E3779B1  # odd multiplier that spreads work ids over the buckets


def _half_keys(items: np.ndarray) -> np.ndarray:
    """Both half keys of each item: upper halves first, then lower halves (tagged)."""
    items = items.astype(np.int64)
    return np.concatenate([items >> _HALF, (items & 0xFFFF) | (1 << _HALF)])


def _top_votes(table: KeyTable, keys: np.ndarray, q_pos: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` most voted starts (row of the query's item 0), most first.

    A hit of query item i on row r votes for "the query starts at row r - i":
    within one track that is the (track, shift) cell, and rows run on from one
    track to the next, so no vote needs its track looked up.
    """
    rows, which = table.lookup(keys)
    if not len(rows):
        return np.zeros(0, np.int64)
    votes = rows.astype(np.int64) - q_pos[which]
    if len(votes) > _BUCKETS // 4:
        # Hundreds of thousands of votes (a catalogue of 100,000 tracks) cost a sort:
        # count them first in hashed buckets, then only the votes in the busiest buckets
        # exactly. A cell's bucket holds at least its own votes, so a busy cell stays.
        bucket = ((votes * _MIX) >> 12) & (_BUCKETS - 1)
        per_bucket = np.bincount(bucket, minlength=_BUCKETS)
        busy = np.zeros(_BUCKETS, bool)
        busy[np.argpartition(-per_bucket, 4 * count)[: 4 * count]] = True
        votes = votes[busy[bucket]]
    starts, n = np.unique(votes, return_counts=True)
    if len(n) > count:  # the top ``count`` only, without sorting every candidate
        top = np.argpartition(-n, count - 1)[:count]
        starts, n = starts[top], n[top]
    return starts[np.argsort(-n, kind="stable")]


class ChromaprintSegment:
    """Tracks' items end to end, with a half-key table over them.

    Immutable; the arrays may be memory-mapped (:meth:`save`, :meth:`load`). Row
    ``bases[w] + i`` is item i of track w, and the table files rows: 12 bytes
    an item in all (the item, two half-key rows).
    """

    ARRAYS = ("bases", "items")

    def __init__(
        self, ids: list[str], bases: np.ndarray, items: np.ndarray, halves: KeyTable
    ) -> None:
        self.ids = ids
        self.bases = bases
        self.items = items
        self.halves = halves
        self._numbers: dict[str, int] | None = None

    @classmethod
    def build(cls, works: dict[str, np.ndarray]) -> ChromaprintSegment:
        lengths = np.array([len(items) for items in works.values()], np.int64)
        bases = np.zeros(len(works) + 1, np.int64)
        np.cumsum(lengths, out=bases[1:])
        items = (
            np.concatenate([np.asarray(v, np.uint32) for v in works.values()])
            if works
            else np.zeros(0, np.uint32)
        )
        rows = np.arange(len(items), dtype=np.uint32)
        halves = KeyTable.build(_half_keys(items), np.tile(rows, 2), _HALF_KEYS)
        return cls(list(works), bases, items, halves)

    @classmethod
    def merged(
        cls, segments: list[ChromaprintSegment], alive: list[np.ndarray]
    ) -> ChromaprintSegment:
        """The live tracks of ``segments`` in one segment (no sort: key runs are joined)."""
        ids, bases, moves = joined([s.bases for s in segments], [s.ids for s in segments], alive)
        items = np.concatenate(
            [
                s.items[np.repeat(live, np.diff(s.bases))]
                for s, live in zip(segments, alive, strict=True)
            ]
        )
        return cls(ids, bases, items, KeyTable.merged([s.halves for s in segments], moves))

    @property
    def rows(self) -> int:
        return len(self.items)

    def track(self, number: int) -> np.ndarray:
        return self.items[self.bases[number] : self.bases[number + 1]]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "bases.npy", self.bases)
        np.save(directory / "items.npy", self.items)
        self.halves.save(directory, "halves")
        (directory / "ids.json").write_text(json.dumps({"ids": self.ids}))

    @classmethod
    def load(cls, directory: Path) -> ChromaprintSegment:
        meta = json.loads((directory / "ids.json").read_text())
        return cls(
            meta["ids"],
            np.load(directory / "bases.npy", mmap_mode="r"),
            np.load(directory / "items.npy", mmap_mode="r"),
            KeyTable.load(directory, "halves", _HALF_KEYS),
        )

    def candidates(self, query: np.ndarray) -> list[tuple[int, int]]:
        """(track number, shift) pairs worth verifying: the most voted starts of the query."""
        positions = np.arange(len(query), dtype=np.int64)
        found = _top_votes(self.halves, _half_keys(query), np.tile(positions, 2), _HALF_CANDIDATES)
        # A start may sit before its track (the copy begins before the matched span) or
        # near a track's end: the tracks holding the query's first and last items are tried.
        rows = np.concatenate([found, found + len(query) - 1])
        tracks = np.clip(np.searchsorted(self.bases, rows, "right") - 1, 0, len(self.ids) - 1)
        shifts = np.concatenate([found, found]) - self.bases[tracks]
        return list(dict.fromkeys(zip(tracks.tolist(), shifts.tolist(), strict=True)))

    def verify(
        self, query: np.ndarray, candidates: list[tuple[int, int]], model: ItemModel | None
    ) -> tuple[list, ...]:
        """BER and mean LLR of each distinct (work, voted shift +- 1) over its overlap.

        Returns parallel lists: track number, shift, BER, LLR, work offset, query
        offset and span, with the same figures as :func:`tanba.matcher.audio_score.aligned`
        (and like it, LLR NaN without a model).
        """
        pairs = sorted({(w, v + d) for w, v in candidates for d in _REFINE})
        if not pairs:
            return ([],) * 7
        work = np.array([w for w, _ in pairs], np.int64)
        shift = np.array([v for _, v in pairs], np.int64)
        lengths = self.bases[1:] - self.bases[:-1]
        q_start = np.maximum(0, -shift)
        r_start = q_start + shift
        span = np.minimum(len(query) - q_start, lengths[work] - r_start)
        keep = span > 0
        work, shift, q_start, r_start, span = (
            a[keep] for a in (work, shift, q_start, r_start, span)
        )
        k = np.arange(len(query), dtype=np.int64)
        inside = k < span[:, None]
        # Outside the overlap both sides index their first item; the mask drops those terms.
        r = self.items[np.where(inside, self.bases[work, None] + r_start[:, None] + k, 0)]
        q = query[np.where(inside, q_start[:, None] + k, 0)]
        errors = (np.bitwise_count(r ^ q) * inside).sum(axis=1)
        llr = (
            np.full(len(work), np.nan)
            if model is None
            else (model.item_llr(r, q) * inside).sum(axis=1, dtype=np.float64)
        )
        return (
            work.tolist(),
            shift.tolist(),
            (errors / (32 * span)).tolist(),
            (llr / span).tolist(),
            r_start.tolist(),
            q_start.tolist(),
            span.tolist(),
        )

    def search(
        self,
        query: np.ndarray,
        rule: AudioRule,
        model: ItemModel,
        alive: np.ndarray | None = None,
    ) -> tuple[dict[str, AudioHit], dict[str, AudioHit]]:
        """This segment's hits on live tracks: (accepted by the BER test, by the LLR test only)."""
        by_ber: dict[str, AudioHit] = {}
        by_llr: dict[str, AudioHit] = {}
        if len(query) < rule.min_items or not self.ids:
            return by_ber, by_llr
        candidates = [c for c in self.candidates(query) if alive is None or alive[c[0]]]
        moving = moving_counts(query)
        for work, _shift, ber, llr, w_off, q_off, span in zip(
            *self.verify(query, candidates, None if rule.min_llr is None else model), strict=True
        ):
            work_id = self.ids[work]
            hit = AudioHit(work_id, ber, w_off, q_off, span, llr)
            n = int(moving[q_off + span] - moving[q_off])
            if rule.accepts(ber, -math.inf, span, n):
                if work_id not in by_ber or ber < by_ber[work_id].ber:
                    by_ber[work_id] = hit
            elif rule.accepts(ber, llr, span, n) and (
                work_id not in by_llr or llr > by_llr[work_id].llr
            ):
                by_llr[work_id] = hit
        for work_id in by_llr.keys() - by_ber.keys():
            # Voted shifts only point into the work; music repeats itself, and under a voice
            # a repeat can score about as well as the true place. The work's best shift by
            # LLR is the one to report (as the linear scan does); found LLR matches are rare
            # enough for this one-work scan to cost little.
            full = best_llr_alignment(work_id, self.track(self.number(work_id)), query, model)
            if full.llr > by_llr[work_id].llr:
                by_llr[work_id] = full
        return by_ber, by_llr

    def number(self, work_id: str) -> int:
        """The track number of a work id here (a dictionary made on first use)."""
        if self._numbers is None:
            self._numbers = {w: i for i, w in enumerate(self.ids)}
        return self._numbers[work_id]


def combined(results: list[tuple[dict[str, AudioHit], dict[str, AudioHit]]]) -> list[AudioHit]:
    """Segments' hits as one index's: per work a BER-accepted alignment (lowest BER) wins,
    else the highest-LLR one; best first by BER."""
    by_ber: dict[str, AudioHit] = {}
    by_llr: dict[str, AudioHit] = {}
    for ber_hits, llr_hits in results:
        for work_id, hit in ber_hits.items():
            if work_id not in by_ber or hit.ber < by_ber[work_id].ber:
                by_ber[work_id] = hit
        for work_id, hit in llr_hits.items():
            if work_id not in by_llr or hit.llr > by_llr[work_id].llr:
                by_llr[work_id] = hit
    best = by_llr | by_ber  # a BER-accepted alignment wins, as in the linear scan
    return sorted(best.values(), key=lambda h: (h.ber, h.work_id))


class InvertedAudioIndex(AudioIndex):
    """One :class:`ChromaprintSegment` of every track, rebuilt after a change (the in-memory form)."""

    def __init__(self, model: ItemModel | None = None) -> None:
        self._works: dict[str, np.ndarray] = {}
        self._segment: ChromaprintSegment | None = None
        self._model = model or default_model()

    def add(self, work_id: str, items: np.ndarray) -> None:
        self._works.pop(work_id, None)
        self._works[work_id] = np.asarray(items, dtype=np.uint32)
        self._segment = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._segment = None

    def items(self, work_id: str) -> np.ndarray | None:
        return self._works.get(work_id)

    def _query(self, query: np.ndarray, rule: AudioRule) -> list[AudioHit]:
        if self._segment is None:
            self._segment = ChromaprintSegment.build(self._works)
        return combined([self._segment.search(query, rule, self._model)])
