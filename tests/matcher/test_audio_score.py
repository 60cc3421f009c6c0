"""The audio match rule (BER or LLR test) and the LLR model's lookup tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tanba.matcher.audio_score import (
    MODEL_FILE,
    AudioRule,
    ItemModel,
    aligned,
    best_aligned,
    default_model,
    moving_counts,
)


def test_the_ber_limit_is_flat_without_a_full_span_and_lower_on_short_spans() -> None:
    assert AudioRule(0.22, 16).ber_limit(10) == 0.22
    rule = AudioRule(0.22, 16, full_span_items=64)
    assert rule.ber_limit(64) == rule.ber_limit(500) == 0.22
    assert rule.ber_limit(16) == pytest.approx(0.11)


def test_the_llr_limit_rises_on_short_spans_and_is_off_below_its_minimum() -> None:
    rule = AudioRule(0.22, 16, full_span_items=64, min_llr=3.5, llr_min_items=32)
    assert rule.llr_limit(64) == rule.llr_limit(300) == 3.5
    assert rule.llr_limit(32) == pytest.approx(3.5 * math.sqrt(2))
    assert math.isinf(rule.llr_limit(31))
    assert math.isinf(AudioRule(0.22, 16, 64).llr_limit(100))  # no min_llr: test off


def test_either_test_accepts_and_the_span_must_be_long_enough() -> None:
    rule = AudioRule(0.22, 16, full_span_items=64, min_llr=3.5, llr_min_items=32)
    assert rule.accepts(0.20, -5.0, 64, 64)  # BER test
    assert rule.accepts(0.33, 3.6, 64, 64)  # LLR test
    assert not rule.accepts(0.33, 3.4, 64, 64)
    assert not rule.accepts(0.33, 9.0, 20, 20)  # too short for the LLR test
    assert not rule.accepts(0.0, 9.0, 15, 15)  # too short for any
    assert not rule.accepts(0.0, 9.0, 64, 25)  # long, but too little of it moving
    assert rule.accepts(0.0, 9.0, 64, 26)


def test_the_effective_ber_puts_an_llr_at_its_limit_on_the_ber_limit() -> None:
    rule = AudioRule(0.22, 16, full_span_items=64, min_llr=3.5, llr_min_items=32)
    assert rule.effective_ber(0.33, 3.5, 64) == pytest.approx(0.22)
    assert rule.effective_ber(0.33, 7.0, 64) == pytest.approx(0.11)
    assert rule.effective_ber(0.05, 7.0, 64) == 0.05  # the BER when it is better
    assert rule.effective_ber(0.40, -2.0, 64) == 0.40


def _codes(items: np.ndarray) -> np.ndarray:
    return (items[:, None] >> np.arange(30, -1, -2, dtype=np.uint32)) & 3


def test_byte_tables_sum_the_sixteen_classifiers_of_the_model_file() -> None:
    data = json.loads(MODEL_FILE.read_text())
    llr = np.array(data["llr"])
    assert llr.shape == (16, 4, 4)
    assert sorted(data["robust_bits"]) == list(range(32))
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2**32, size=500, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 2**32, size=500, dtype=np.uint64).astype(np.uint32)
    direct = llr[np.arange(16), _codes(a), _codes(b)].sum(axis=1)
    np.testing.assert_allclose(default_model().item_llr(a, b), direct, rtol=1e-5, atol=1e-4)


def test_identical_codes_score_high_and_extreme_levels_low() -> None:
    # A toy model: agreeing codes +1, disagreeing -1 in every classifier.
    llr = np.where(np.eye(4, dtype=bool), 1.0, -1.0)[None].repeat(16, axis=0)
    model = ItemModel.from_llr(llr, list(range(32)))
    items = np.array([0x12345678, 0xFFFFFFFF], np.uint32)
    np.testing.assert_allclose(model.item_llr(items, items), [16, 16])
    # 0x55555555 has code 01 in every classifier, 0 has 00: all 16 disagree.
    assert model.item_llr(np.array([0], np.uint32), np.array([0x55555555], np.uint32))[0] == -16
    a = aligned(items, items, 0, model)
    assert (a.ber, a.llr, a.span) == (0.0, 16.0, 2)
    assert math.isnan(aligned(items, items, 0).llr)  # no model: BER only


def test_moving_items_are_those_that_change_two_bits_or_more() -> None:
    items = np.array([0b0, 0b0, 0b11, 0b10, 0b1101, 0b1101], np.uint32)
    # item 0 has no predecessor; then 0 bits, 2 bits, 1 bit, 3 bits, 0 bits.
    assert moving_counts(items).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert moving_counts(np.zeros(0, np.uint32)).tolist() == [0]


@pytest.mark.parametrize("seed", range(6))
def test_the_best_of_many_shifts_is_the_one_aligning_each_in_turn_finds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 2**32, size=int(rng.integers(30, 200)), dtype=np.uint64).astype(np.uint32)
    start = int(rng.integers(0, len(ref) - 20))
    query = ref[start : start + int(rng.integers(20, 80))].copy()
    query[::2] ^= np.uint32(0x0F0F0F0F)  # damaged, so the shifts score apart
    model = default_model()
    # Shifts around the true one, and ones past either end (no overlap at all).
    for centre in (start, start - 1, -len(query) - 3, len(ref) + 5):
        shifts = centre + np.arange(-2, 3)
        want = max((aligned(ref, query, int(s), model) for s in shifts), key=lambda a: a.llr)
        got = best_aligned(ref, query, shifts, model)
        assert (got.work_offset, got.query_offset, got.span) == (
            want.work_offset,
            want.query_offset,
            want.span,
        )
        if want.span:
            assert got.ber == pytest.approx(want.ber) and got.llr == pytest.approx(
                want.llr, abs=1e-5
            )
