"""Every position of a work where a copy's matched passage occurs: repeats, ranked.

Game and pop music repeat passages (a chorus, a loop): an excerpt of one matches
the work at each occurrence, and naming one of them as if it were the only one
misleads whoever checks the match by ear (the detection issue's trial: 12 of 146
matches named a position 5 to 135 s from where the excerpt was cut).

Contract: :meth:`PositionFinder.positions` takes the work's Chromaprint items, the
copy's matched passage (the items of the match's aligned span) and the
:class:`PositionTest` the match itself passed, and returns every work offset where
the passage passes that same test, best first (by the match score's scale,
``1 - 2 x`` the effective BER), none closer than :data:`MIN_SEPARATION_S` to a
better one (the neighbours of a peak, where Chromaprint's overlapping items still
agree, are the same occurrence). Positions must hold the whole passage.

Two implementations, one contract (``tests/matcher/test_audio_positions.py``):
:class:`LinearPositions` tries every offset of the work (the reference);
:class:`VotedPositions` tries the peaks of the passage's offset histogram against
that one work (votes of its items' 16-bit halves, as the index votes), the offsets
the landmarks voted for, and their neighbours. Like the index, the votes only pick
where to look; the test decides. It finds what the reference finds wherever the
passage's keys come through partly whole (a match by the BER test), in about 1 ms
for a 5-minute work. A match by the LLR test or the landmarks is under a voice,
which leaves too few keys to point at a repeat (on ``bench.quality --repeats``'
calibration half, the votes found 17 of the 33 repeats of voice-over excerpts that
every offset found 27 of); then it tries every offset too, about 12 ms for a
5-minute work, as the index's own one-work LLR scan does for such matches.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tanba.matcher.audio_score import AudioRule, ItemModel, default_model, moving_counts

# Two positions this close are one occurrence: a peak's neighbours agree too (a track's own
# 66-item passages, 143 of them in 7 of bench.quality's works: the BER stays under 0.22 up to
# 4 items, 0.5 s, from the peak; 2 s is four times that).
MIN_SEPARATION_S = 2.0
MAX_POSITIONS = 16  # positions listed at most per match (a loop repeated all song long)
_PEAKS = 32  # most-voted offsets of the histogram verified per matched work
_NEAR = 2  # items tried either side of each voted offset (a copy's frames fall between)


@dataclass(frozen=True)
class PositionTest:
    """When a position of the passage counts: the rule the match itself passed.

    Every position passing the audio rule (BER or LLR test) counts. A match found
    by the landmark path passed a lower LLR bar (``landmark_llr``) only because the
    landmarks voted for its offset among every work and offset; so does a repeat:
    it needs the landmarks' votes at its offset (``voted``, work offsets in items,
    within :data:`_NEAR`) and that bar, or the full audio rule.
    """

    rule: AudioRule
    landmark_llr: float | None = None
    voted: tuple[int, ...] = ()
    # The match passed the BER test, so its passage's 16-bit halves come through and vote
    # for its repeats; under a voice (the LLR test, the landmarks) they rarely do.
    keyed: bool = True

    def accepts(self, ber: float, llr: float, span: int, moving: int, offset: int) -> bool:
        if self.rule.accepts(ber, llr, span, moving):
            return True
        return (
            self.landmark_llr is not None
            and self.rule.judgeable(span, moving)
            and llr >= self.landmark_llr
            and any(abs(offset - v) <= _NEAR for v in self.voted)
        )

    def effective_ber(self, ber: float, llr: float, span: int) -> float:
        """The match score's scale (:meth:`AudioRule.effective_ber`) for this test."""
        return self.rule.effective_ber(ber, llr, span, self.landmark_llr)


@dataclass(frozen=True)
class Position:
    """The passage at one work offset (items): its BER, mean LLR per item and effective BER."""

    work_offset: int
    ber: float
    llr: float
    effective_ber: float

    @property
    def score(self) -> float:
        """1 - 2 x the effective BER, as the match's score."""
        return max(0.0, 1 - 2 * self.effective_ber)


class PositionFinder(ABC):
    """Finds every position of a passage in one work (see the module doc)."""

    def __init__(self, model: ItemModel | None = None) -> None:
        self.model = model or default_model()

    def positions(
        self, ref: np.ndarray, passage: np.ndarray, test: PositionTest, item_s: float
    ) -> list[Position]:
        """The positions of ``passage`` in ``ref`` passing ``test``, best first (module doc)."""
        ref = np.asarray(ref, np.uint32)
        passage = np.asarray(passage, np.uint32)
        last = len(ref) - len(passage)
        if not len(passage) or last < 0:
            return []
        offsets = np.unique(np.clip(self._offsets(ref, passage, test), 0, last))
        windows = sliding_window_view(ref, len(passage))[offsets]
        bers = np.bitwise_count(windows ^ passage).sum(axis=1, dtype=np.int64) / (32 * len(passage))
        llrs = self.model.item_llr(windows, passage).sum(axis=1, dtype=np.float64) / len(passage)
        counts = moving_counts(passage)
        moving = int(counts[-1] - counts[0])
        span = len(passage)
        found = [
            Position(o, b, v, test.effective_ber(b, v, span))
            for o, b, v in zip(offsets.tolist(), bers.tolist(), llrs.tolist(), strict=True)
            if test.accepts(b, v, span, moving, o)
        ]
        found.sort(key=lambda p: (p.effective_ber, -p.llr, p.work_offset))
        apart = max(1, math.ceil(MIN_SEPARATION_S / item_s))
        kept: list[Position] = []
        for p in found:
            if len(kept) >= MAX_POSITIONS:
                break
            if all(abs(p.work_offset - k.work_offset) >= apart for k in kept):
                kept.append(p)
        return kept

    @abstractmethod
    def _offsets(self, ref: np.ndarray, passage: np.ndarray, test: PositionTest) -> np.ndarray:
        """The work offsets to verify (any order, repeats and strays allowed)."""


class LinearPositions(PositionFinder):
    """Every offset of the work: exact, the reference."""

    def _offsets(self, ref: np.ndarray, passage: np.ndarray, test: PositionTest) -> np.ndarray:
        return np.arange(len(ref) - len(passage) + 1, dtype=np.int64)


class VotedPositions(PositionFinder):
    """The peaks of the passage's offset histogram against the work, and the landmarks' offsets."""

    def _offsets(self, ref: np.ndarray, passage: np.ndarray, test: PositionTest) -> np.ndarray:
        if not test.keyed:  # no votes to follow: every offset, as the reference
            return np.arange(len(ref) - len(passage) + 1, dtype=np.int64)
        peaks = _voted(_halves(ref), _halves(passage), len(ref), len(passage))
        around = np.arange(-_NEAR, _NEAR + 1, dtype=np.int64)
        seeds = np.concatenate([peaks, np.asarray(test.voted, np.int64)])
        return (seeds[:, None] + around).ravel()


def _halves(items: np.ndarray) -> np.ndarray:
    """Each item's upper and lower 16 bits as keys (the lower tagged), items' order twice."""
    items = items.astype(np.int64)
    return np.concatenate([items >> 16, (items & 0xFFFF) | (1 << 16)])


def _voted(ref_keys: np.ndarray, keys: np.ndarray, ref_len: int, length: int) -> np.ndarray:
    """The :data:`_PEAKS` most voted offsets (two votes at least) where the passage fits whole.

    A passage key equal to a work key at item j, the passage's item i, votes for
    offset j - i; chance spreads its votes thinly (a 16-bit key meets a 2,400-item
    track about 0.07 times), an occurrence piles them on one offset.
    """
    order = np.argsort(ref_keys, kind="stable")
    sorted_keys = ref_keys[order]
    lo = np.searchsorted(sorted_keys, keys, "left")
    hi = np.searchsorted(sorted_keys, keys, "right")
    n = hi - lo
    if not n.sum():
        return np.zeros(0, np.int64)
    which = np.repeat(np.arange(len(keys)), n)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
    rows = order[starts + np.arange(len(which))] % ref_len
    offsets = rows - which % length
    fits = (offsets >= 0) & (offsets <= ref_len - length)
    votes = np.bincount(offsets[fits], minlength=ref_len - length + 1)
    top = np.argsort(-votes, kind="stable")[:_PEAKS]
    return top[votes[top] >= 2].astype(np.int64)
