"""An inverted index of Chromaprint items with time-offset voting, in two key sets.

A query's items look up registered items by key; each hit votes for "query item
i sits at work item j", i.e. for the (work, shift j - i). True copies pile their
votes on one shift, chance hits scatter. The best (work, shift) candidates are
then verified by :mod:`tanba.matcher.audio_score` (BER or LLR over the aligned span) at
the voted shift and its neighbours (a copy played slightly fast drifts by an
item now and then): votes only pick where to look, the scores decide, with the
same rule as the linear scan.

* **Half keys.** Every item is filed under its upper and its lower 16 bits.
  After MP3 coding or added noise about a quarter of the 32-bit items come
  through exact, but over half of their 16-bit halves do, so short or degraded
  excerpts still gather votes.
* **Robust keys** (only when the LLR test is on). Under a voice at the music's
  loudness a third of the bits flip and 16-bit halves rarely survive. The key is
  then the 12 bits that flip least under a voice (15-30% each, measured, see
  ``chromaprint_llr.json``), looked up as is and with each one bit flipped, so an
  item votes when at most one of its 12 bits flipped. Measured on the quality
  benchmark's voice-over excerpts: with the 19 works registered, the true shift
  of every 10 and 20 s excerpt ranks within the first 65 (half keys rank only
  half of them at all); among 1,000 tracks, the best 128 hold 17 of 19 10 s and
  19 of 19 20 s excerpts. The price is many votes (13 lookups per item into
  4,096 keys), counted in hashed buckets first; with the LLR test on, a query
  costs about 20 times what it costs with the BER test alone.

Candidates are verified together, in one gather over all works' items end to
end. The key tables are counting sorts (CSR offsets over the keys), rebuilt
lazily after a change, as registrations are rare next to queries.
"""

from __future__ import annotations

import math

import numpy as np

from tanba.matcher.audio_score import AudioRule, ItemModel, default_model, moving_counts
from tanba.matcher.index import AudioHit, AudioIndex, best_llr_alignment

_HALF = 16
_HALF_KEYS = 1 << (_HALF + 1)  # 16 bits of value and one bit for which half
_HALF_CANDIDATES = 16  # (work, shift) pairs verified per query from half-key votes
_ROBUST_BITS = 12
_ROBUST_CANDIDATES = 128  # from robust-key votes: more, as their votes are fewer and noisier
_REFINE = (0, -1, 1)  # shifts tried around each voted one
_BUCKETS = 1 << 20  # hashed (work, shift) vote counters for large vote sets
_MIX = 0x9E3779B1  # odd multiplier that spreads work ids over the buckets


def _half_keys(items: np.ndarray) -> np.ndarray:
    """Both half keys of each item: upper halves first, then lower halves (tagged)."""
    items = items.astype(np.int64)
    return np.concatenate([items >> _HALF, (items & 0xFFFF) | (1 << _HALF)])


def _robust_keys(items: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    """Each item's robust bits packed into one key, the least flipped bit lowest."""
    keys = np.zeros(len(items), np.int64)
    for j, b in enumerate(bits):
        keys |= ((items >> np.uint32(b)) & np.uint32(1)).astype(np.int64) << j
    return keys


class _KeyTable:
    """Work and position of every key, grouped by key (CSR over ``size`` keys)."""

    def __init__(self, keys: list[np.ndarray], positions: list[np.ndarray], size: int) -> None:
        work = [np.full(len(k), i, np.int32) for i, k in enumerate(keys)]
        all_keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        order = np.argsort(all_keys, kind="stable")
        self.work = np.concatenate(work)[order] if work else np.zeros(0, np.int32)
        self.pos = np.concatenate(positions)[order] if positions else np.zeros(0, np.int32)
        self.starts = np.zeros(size + 1, np.int64)
        np.cumsum(np.bincount(all_keys, minlength=size), out=self.starts[1:])

    def top_votes(self, keys: np.ndarray, q_pos: np.ndarray, count: int) -> list[tuple[int, int]]:
        """The ``count`` (work index, shift) pairs with most votes, most first."""
        lo, hi = self.starts[keys], self.starts[keys + 1]
        counts = hi - lo
        total = int(counts.sum())
        if not total:
            return []
        # Expand every (query key, registered key) pair into a vote for (work, shift).
        found = np.repeat(lo, counts) + (
            np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        shift = self.pos[found].astype(np.int64) - np.repeat(q_pos, counts)
        votes = self.work[found].astype(np.int64) << 32 | (shift + (1 << 31))
        if len(votes) > _BUCKETS // 4:
            # Hundreds of thousands of votes (robust keys on a large catalogue) cost a sort:
            # count them first in hashed buckets, then only the votes in the busiest buckets
            # exactly. A cell's bucket holds at least its own votes, so a busy cell stays.
            bucket = (self.work[found].astype(np.int64) * _MIX + shift) & (_BUCKETS - 1)
            per_bucket = np.bincount(bucket, minlength=_BUCKETS)
            busy = np.zeros(_BUCKETS, bool)
            busy[np.argpartition(-per_bucket, 4 * count)[: 4 * count]] = True
            votes = votes[busy[bucket]]
        candidates, n = np.unique(votes, return_counts=True)
        if len(n) > count:  # the top ``count`` only, without sorting every candidate
            top = np.argpartition(-n, count - 1)[:count]
            candidates, n = candidates[top], n[top]
        best = candidates[np.argsort(-n, kind="stable")]
        return [(int(c >> 32), int(c & 0xFFFFFFFF) - (1 << 31)) for c in best]


class _Tables:
    """The half-key table, and the robust-key table of the model's least flipped bits."""

    def __init__(self, works: dict[str, np.ndarray], robust_bits: tuple[int, ...]) -> None:
        self.ids = list(works)
        ranges = [np.arange(len(items), dtype=np.int32) for items in works.values()]
        self.halves = _KeyTable(
            [_half_keys(items) for items in works.values()],
            [np.tile(r, 2) for r in ranges],
            _HALF_KEYS,
        )
        self.robust_bits = robust_bits
        # All works' items end to end, to verify many candidate alignments in one gather.
        self.lengths = np.array([len(items) for items in works.values()], np.int64)
        self.bases = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.items = np.concatenate(list(works.values())) if works else np.zeros(0, np.uint32)
        self.robust = _KeyTable(
            [_robust_keys(items, robust_bits) for items in works.values()],
            ranges,
            1 << len(robust_bits),
        )

    def verify(
        self, query: np.ndarray, candidates: list[tuple[int, int]], model: ItemModel | None
    ) -> tuple[list, ...]:
        """BER and mean LLR of each distinct (work, voted shift +- 1) over its overlap.

        Returns parallel lists: work index, shift, BER, LLR, work offset, query
        offset and span, with the same figures as :func:`tanba.matcher.audio_score.aligned`
        (and like it, LLR NaN without a model).
        """
        pairs = sorted({(w, v + d) for w, v in candidates for d in _REFINE})
        if not pairs:
            return ([],) * 7
        work = np.array([w for w, _ in pairs], np.int64)
        shift = np.array([v for _, v in pairs], np.int64)
        q_start = np.maximum(0, -shift)
        r_start = q_start + shift
        span = np.minimum(len(query) - q_start, self.lengths[work] - r_start)
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


class InvertedAudioIndex(AudioIndex):
    """Half-key and robust-key tables with (work, shift) voting, verified by the audio rule."""

    def __init__(self, model: ItemModel | None = None) -> None:
        self._works: dict[str, np.ndarray] = {}
        self._tables: _Tables | None = None
        self._model = model or default_model()

    def add(self, work_id: str, items: np.ndarray) -> None:
        self._works.pop(work_id, None)
        self._works[work_id] = np.asarray(items, dtype=np.uint32)
        self._tables = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._tables = None

    def _build(self) -> _Tables:
        if self._tables is None:
            self._tables = _Tables(self._works, self._model.robust_bits[:_ROBUST_BITS])
        return self._tables

    def _query(self, query: np.ndarray, rule: AudioRule) -> list[AudioHit]:
        t = self._build()
        if len(query) < rule.min_items or not self._works:
            return []
        positions = np.arange(len(query), dtype=np.int64)
        candidates = t.halves.top_votes(_half_keys(query), np.tile(positions, 2), _HALF_CANDIDATES)
        if rule.min_llr is not None and len(query) >= rule.llr_min_items:
            keys = _robust_keys(query, t.robust_bits)
            # The key as is and with each bit flipped: an item votes with at most one bit wrong.
            flips = np.concatenate([[0], 1 << np.arange(len(t.robust_bits), dtype=np.int64)])
            candidates += t.robust.top_votes(
                (keys[:, None] ^ flips).ravel(),
                np.repeat(positions, len(flips)),
                _ROBUST_CANDIDATES,
            )
        by_ber: dict[str, AudioHit] = {}
        by_llr: dict[str, AudioHit] = {}
        moving = moving_counts(query)
        for work, _shift, ber, llr, w_off, q_off, span in zip(
            *t.verify(query, candidates, None if rule.min_llr is None else self._model), strict=True
        ):
            work_id = t.ids[work]
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
            full = best_llr_alignment(work_id, self._works[work_id], query, self._model)
            if full.llr > by_llr[work_id].llr:
                by_llr[work_id] = full
        best = by_llr | by_ber  # a BER-accepted alignment wins, as in the linear scan
        return sorted(best.values(), key=lambda h: (h.ber, h.work_id))
