"""An inverted index of Chromaprint items with time-offset voting.

Every registered item value points at (work, position). A query's items look
up their exact values; each hit votes for "query item i sits at work item j",
i.e. for the shift j - i. True copies pile their votes on one shift, chance
hits scatter. The best few (work, shift) candidates are verified by the bit
error rate over the aligned span, which is what decides the match: votes only
pick where to look, so the result is the same as the linear scan wherever a
true alignment has at least one exact item in common.
"""

from __future__ import annotations

import numpy as np

from matcher.index import AudioHit, AudioIndex, aligned_ber

_CANDIDATES = 8  # (work, shift) pairs verified per query


class InvertedAudioIndex(AudioIndex):
    """Sorted item values with their (work, position); rebuilt lazily after changes."""

    def __init__(self) -> None:
        self._works: dict[str, np.ndarray] = {}
        self._built: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]] | None = None

    def add(self, work_id: str, items: np.ndarray) -> None:
        self._works[work_id] = np.asarray(items, dtype=np.uint32)
        self._built = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._built = None

    def _build(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        if self._built is None:
            ids = list(self._works)
            values = [self._works[w] for w in ids]
            keys = np.concatenate(values) if values else np.zeros(0, np.uint32)
            work = np.concatenate(
                [np.full(len(v), i, np.int32) for i, v in enumerate(values)]
                or [np.zeros(0, np.int32)]
            )
            pos = np.concatenate(
                [np.arange(len(v), dtype=np.int32) for v in values] or [np.zeros(0, np.int32)]
            )
            order = np.argsort(keys, kind="stable")
            self._built = (keys[order], work[order], pos[order], ids)
        return self._built

    def query(self, items: np.ndarray, max_ber: float, min_items: int) -> list[AudioHit]:
        query = np.asarray(items, dtype=np.uint32)
        keys, work, pos, ids = self._build()
        if len(query) < min_items or not len(keys):
            return []
        lo = np.searchsorted(keys, query, side="left")
        hi = np.searchsorted(keys, query, side="right")
        counts = hi - lo
        if not counts.sum():
            return []
        # Expand every (query item, matching registered item) pair.
        q_idx = np.repeat(np.arange(len(query)), counts)
        starts = np.repeat(lo, counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        found = starts + within
        votes = work[found].astype(np.int64) << 32 | (pos[found] - q_idx + (1 << 31)).astype(
            np.int64
        )
        candidates, n = np.unique(votes, return_counts=True)
        best: dict[str, AudioHit] = {}
        for c in candidates[np.argsort(-n, kind="stable")[:_CANDIDATES]]:
            work_id = ids[int(c >> 32)]
            shift = int(c & 0xFFFFFFFF) - (1 << 31)
            ber, w_off, q_off, span = aligned_ber(self._works[work_id], query, shift)
            if (
                span >= min_items
                and ber <= max_ber
                and (work_id not in best or ber < best[work_id].ber)
            ):
                best[work_id] = AudioHit(work_id, ber, w_off, q_off, span)
        return sorted(best.values(), key=lambda h: (h.ber, h.work_id))
