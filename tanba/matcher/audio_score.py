"""How well two aligned Chromaprint item sequences agree, and when that makes a match.

Two tests, either of which accepts an alignment (:class:`AudioRule`):

* **Bit error rate.** Clean, recoded, resampled or noisy copies keep 90-97% of
  their bits, so a BER limit separates them from unrelated music by a wide margin.
* **Log-likelihood ratio over the classifiers' codes.** A voice talking over the
  music at its own loudness flips a third of the bits, and the BER of a true
  copy (0.31-0.38) then overlaps the best chance alignment of unrelated tracks.
  But not all bits suffer alike: each item is 16 classifiers' 2-bit Gray codes of
  a quantised filter response, and under a voice the upper bit of some
  classifiers flips 15% of the time where the lower bit of others flips 42%;
  and Gray code calls the two extreme levels (codes 00 and 10) one bit apart
  when they are the least likely confusion of all. The model scores each
  classifier's (work code, copy code) pair by log P(pair | copy under a voice)
  / P(pair | unrelated), measured on the quality benchmark (``python -m
  bench.quality --calibrate-audio``; the table is ``chromaprint_llr.json``),
  and sums the 16 per item. The mean per item over the span must exceed a
  limit that grows on short spans, where chance alignments score higher.

Either test needs :data:`MOVING_SHARE` of the copy's items in the span to be
*moving*, that is to differ from the item before by :data:`MOVING_BITS` bits
or more: silence and fades repeat one item (digital silence is the same item
in every track), and without this the silent tail of one track matched the
silent intro of another (found by querying whole distractor tracks). In the
silent spans that matched, 0 to 20% of the items moved; in music, over half
move in 99.5% of 19-item windows, and the stillest 5 s excerpt of the
benchmark (dark ambient) has 47% (measured on the benchmark's tracks).

Both index implementations decide with these functions, so they agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("chromaprint_llr.json")
# An item that changes fewer bits than this from the one before is not moving: music
# changes about 5 of 32 bits from item to item, silence and fades 0-1 (measured).
MOVING_BITS = 2
MOVING_SHARE = 0.4  # of a span's items must be moving for it to match
_BYTE_SHIFTS = (24, 16, 8, 0)  # byte b of an item holds classifiers 4b .. 4b+3, first at the top


@dataclass(frozen=True)
class AudioRule:
    """When an aligned span of ``span`` items is a match: low BER, or high LLR per item.

    ``min_llr`` None turns the LLR test off (BER alone, as before it existed);
    ``full_span_items`` None keeps the BER limit flat on short spans. The LLR test
    needs at least ``llr_min_items``: on a 5 s excerpt (about 19 items) the best
    voice-over alignment is no better than chance ones (on the benchmark's held-out
    half it once picked the right work at the wrong offset, 141 s away).
    """

    max_ber: float
    min_items: int
    full_span_items: int | None = None
    min_llr: float | None = None
    llr_min_items: int = 0

    def ber_limit(self, span: int) -> float:
        """``max_ber * sqrt(span / full_span)`` below the full span: few items agree by chance more."""
        if self.full_span_items is None:
            return self.max_ber
        return self.max_ber * min(1.0, span / self.full_span_items) ** 0.5

    def llr_limit(self, span: int) -> float:
        """``min_llr * sqrt(full_span / span)`` below the full span (infinite when the test is off)."""
        if self.min_llr is None or span < self.llr_min_items:
            return math.inf
        full = self.full_span_items or span
        return self.min_llr * max(1.0, full / max(span, 1)) ** 0.5

    def accepts(self, ber: float, llr: float, span: int, moving: int) -> bool:
        """Whether a span of ``span`` items, ``moving`` of them moving in the copy, matches."""
        return self.judgeable(span, moving) and (
            ber <= self.ber_limit(span) or llr >= self.llr_limit(span)
        )

    def judgeable(self, span: int, moving: int) -> bool:
        """Whether a span is long enough, and enough of it moving, for any test to judge it."""
        return span >= self.min_items and moving >= MOVING_SHARE * span

    def effective_ber(
        self, ber: float, llr: float, span: int, llr_limit: float | None = None
    ) -> float:
        """The BER on one scale for both tests: an LLR at the limit counts as a BER at its limit.

        ``min(ber, ber_limit * llr_limit / llr)``; the match score is ``1 - 2`` times it,
        so a stronger voice-robust match ranks higher, and every match scores at least
        ``1 - 2 ber_limit(span)``. ``llr_limit`` is the LLR test's own unless given
        (the landmark path verifies against a lower one).
        """
        limit = self.llr_limit(span) if llr_limit is None else llr_limit
        if llr <= 0 or math.isinf(limit):
            return ber
        return min(ber, self.ber_limit(span) * limit / llr)


@dataclass(frozen=True)
class ItemModel:
    """Per-classifier log-likelihood ratios of code pairs, as byte-pair lookup tables.

    ``tables[b][(work_byte << 8) | copy_byte]`` is the summed LLR of the four classifiers
    in byte ``b``; ``robust_bits`` ranks the item's bits from least to most often
    flipped under a voice (measured with the model; no index keys on them any more).
    """

    tables: np.ndarray  # (4, 65536) float32
    robust_bits: tuple[int, ...]

    @classmethod
    def from_llr(cls, llr: np.ndarray, robust_bits: list[int]) -> ItemModel:
        """Build from ``llr[classifier, work_code, copy_code]`` (16 x 4 x 4)."""
        work, copy = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
        tables = np.zeros((4, 256, 256), np.float32)
        for b in range(4):
            for j in range(4):
                shift = 6 - 2 * j
                tables[b] += llr[4 * b + j][(work >> shift) & 3, (copy >> shift) & 3]
        return cls(tables.reshape(4, 65536), tuple(int(x) for x in robust_bits))

    def item_llr(self, ref: np.ndarray, query: np.ndarray) -> np.ndarray:
        """LLR of each aligned item pair (arrays of equal or broadcastable shape)."""
        total = np.zeros(np.broadcast_shapes(ref.shape, query.shape), np.float32)
        for b, shift in enumerate(_BYTE_SHIFTS):
            pair = ((ref >> np.uint32(shift)) & np.uint32(0xFF)).astype(np.intp) << 8
            pair = pair | ((query >> np.uint32(shift)) & np.uint32(0xFF)).astype(np.intp)
            total += self.tables[b][pair]
        return total


def moving_counts(items: np.ndarray) -> np.ndarray:
    """Running count of moving items: ``counts[j] - counts[i]`` is the number in ``items[i:j]``."""
    changed = np.bitwise_count(np.bitwise_xor(items[1:], items[:-1])) >= MOVING_BITS
    return np.concatenate([[0, 0], np.cumsum(changed)]) if len(items) else np.zeros(1, np.int64)


@cache
def default_model() -> ItemModel:
    """The model in ``chromaprint_llr.json`` (loaded once)."""
    data = json.loads(MODEL_FILE.read_text())
    return ItemModel.from_llr(np.array(data["llr"], dtype=np.float64), data["robust_bits"])


@dataclass(frozen=True)
class Alignment:
    """Query item i aligned with work item i + shift: BER and mean LLR per item over the span.

    The fields are in :class:`tanba.matcher.index.AudioHit`'s order after its work id.
    """

    ber: float
    work_offset: int
    query_offset: int
    span: int
    llr: float


def aligned(
    ref: np.ndarray, query: np.ndarray, shift: int, model: ItemModel | None = None
) -> Alignment:
    """Both scores where query item i lines up with ref item i + shift (the overlap only).

    Without a model the LLR is not computed (NaN): the BER alone is cheaper.
    """
    q_start = max(0, -shift)
    r_start = q_start + shift
    span = min(len(query) - q_start, len(ref) - r_start)
    if span <= 0:
        return Alignment(1.0, r_start, q_start, 0, -math.inf)
    r = ref[r_start : r_start + span]
    q = query[q_start : q_start + span]
    ber = float(np.bitwise_count(np.bitwise_xor(r, q)).sum()) / (32 * span)
    llr = math.nan if model is None else float(model.item_llr(r, q).sum()) / span
    return Alignment(ber, r_start, q_start, span, llr)


def best_aligned(
    ref: np.ndarray, query: np.ndarray, shifts: np.ndarray, model: ItemModel
) -> Alignment:
    """Of :func:`aligned` at each of ``shifts``, the one of highest mean LLR (the first on a tie).

    One gather for all the shifts: the landmark path verifies dozens of candidates a
    query at five shifts each, and the loop over :func:`aligned` cost more than the votes.
    """
    shifts = np.asarray(shifts, np.int64)
    q_start = np.maximum(0, -shifts)
    r_start = q_start + shifts
    span = np.minimum(len(query) - q_start, len(ref) - r_start)
    k = np.arange(max(1, int(span.max(initial=0))), dtype=np.int64)
    inside = k < span[:, None]
    r = (
        ref[np.where(inside, r_start[:, None] + k, 0)]
        if len(ref)
        else np.zeros(inside.shape, np.uint32)
    )
    q = (
        query[np.where(inside, q_start[:, None] + k, 0)]
        if len(query)
        else np.zeros(inside.shape, np.uint32)
    )
    llr = (model.item_llr(r, q) * inside).sum(axis=1, dtype=np.float64)
    errors = (np.bitwise_count(r ^ q) * inside).sum(axis=1)
    mean = np.where(span > 0, llr / np.maximum(span, 1), -math.inf)
    at = int(np.argmax(mean))
    if span[at] <= 0:
        return Alignment(1.0, int(r_start[at]), int(q_start[at]), 0, -math.inf)
    return Alignment(
        float(errors[at]) / (32 * int(span[at])),
        int(r_start[at]),
        int(q_start[at]),
        int(span[at]),
        float(mean[at]),
    )
