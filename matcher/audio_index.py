"""An inverted index of Chromaprint items with time-offset voting, keyed by half items.

Every registered item is filed twice, under its upper and its lower 16 bits.
A query's items look up both halves; each hit votes for "query item i sits at
work item j", i.e. for the shift j - i. True copies pile their votes on one
shift, chance hits scatter. Half keys survive where whole items do not: after
MP3 coding or added noise about a quarter of the 32-bit items come through
exact, but over half of their 16-bit halves do (measured in
``bench/quality.py``'s copies), so short or degraded excerpts still gather
votes. The best (work, shift) candidates are then verified by the bit error
rate over the aligned span, at the voted shift and its neighbours (a copy
played slightly fast drifts by an item now and then): votes only pick where
to look, the BER decides, so a hit is one the linear scan would also accept.

The key tables are counting sorts (CSR offsets over the 2^17 keys), rebuilt
lazily after a change, as registrations are rare next to queries.
"""

from __future__ import annotations

import numpy as np

from matcher.index import AudioHit, AudioIndex, aligned_ber

_CANDIDATES = 16  # (work, shift) pairs verified per query
_HALF = 16
_KEYS = 1 << (_HALF + 1)  # 16 bits of value and one bit for which half
_REFINE = (0, -1, 1)  # shifts tried around each voted one


def _keys(items: np.ndarray) -> np.ndarray:
    """Both half keys of each item: upper halves first, then lower halves (tagged)."""
    items = items.astype(np.int64)
    return np.concatenate([items >> _HALF, (items & 0xFFFF) | (1 << _HALF)])


class _Tables:
    """Work and position of every half key, grouped by key (CSR)."""

    def __init__(self, works: dict[str, np.ndarray]) -> None:
        self.ids = list(works)
        keys, work, pos = [], [], []
        for i, items in enumerate(works.values()):
            n = len(items)
            keys.append(_keys(items))
            work.append(np.full(2 * n, i, np.int32))
            pos.append(np.tile(np.arange(n, dtype=np.int32), 2))
        all_keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        order = np.argsort(all_keys, kind="stable")
        self.work = np.concatenate(work)[order] if work else np.zeros(0, np.int32)
        self.pos = np.concatenate(pos)[order] if pos else np.zeros(0, np.int32)
        self.starts = np.zeros(_KEYS + 1, np.int64)
        np.cumsum(np.bincount(all_keys, minlength=_KEYS), out=self.starts[1:])


class InvertedAudioIndex(AudioIndex):
    """Half-item key tables with (work, shift) voting and BER verification."""

    def __init__(self) -> None:
        self._works: dict[str, np.ndarray] = {}
        self._tables: _Tables | None = None

    def add(self, work_id: str, items: np.ndarray) -> None:
        self._works.pop(work_id, None)
        self._works[work_id] = np.asarray(items, dtype=np.uint32)
        self._tables = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._tables = None

    def _build(self) -> _Tables:
        if self._tables is None:
            self._tables = _Tables(self._works)
        return self._tables

    def query(self, items: np.ndarray, max_ber: float, min_items: int) -> list[AudioHit]:
        query = np.asarray(items, dtype=np.uint32)
        t = self._build()
        if len(query) < min_items or not len(t.work):
            return []
        keys = _keys(query)
        q_pos = np.tile(np.arange(len(query), dtype=np.int64), 2)
        lo, hi = t.starts[keys], t.starts[keys + 1]
        counts = hi - lo
        total = int(counts.sum())
        if not total:
            return []
        # Expand every (query key, registered key) pair into a vote for (work, shift).
        found = np.repeat(lo, counts) + (
            np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        shift = t.pos[found].astype(np.int64) - np.repeat(q_pos, counts)
        votes = t.work[found].astype(np.int64) << 32 | (shift + (1 << 31))
        candidates, n = np.unique(votes, return_counts=True)
        best: dict[str, AudioHit] = {}
        for c in candidates[np.argsort(-n, kind="stable")[:_CANDIDATES]]:
            work_id = t.ids[int(c >> 32)]
            voted = int(c & 0xFFFFFFFF) - (1 << 31)
            for delta in _REFINE:
                ber, w_off, q_off, span = aligned_ber(self._works[work_id], query, voted + delta)
                if (
                    span >= min_items
                    and ber <= max_ber
                    and (work_id not in best or ber < best[work_id].ber)
                ):
                    best[work_id] = AudioHit(work_id, ber, w_off, q_off, span)
        return sorted(best.values(), key=lambda h: (h.ber, h.work_id))
