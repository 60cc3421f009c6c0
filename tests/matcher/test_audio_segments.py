"""The audio catalogue's segments: key tables, merges, and what a restart reads back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tanba.core.signals.audio import LANDMARK_KEY_BITS, Landmarks, landmark_key
from tanba.matcher.audio_index import ChromaprintSegment
from tanba.matcher.audio_score import AudioRule
from tanba.matcher.audio_segments import (
    AudioTuning,
    SegmentedAudioIndex,
    SegmentedLandmarkIndex,
    StateMismatch,
)
from tanba.matcher.key_table import KeyTable
from tanba.matcher.landmark_index import SAMPLE, sampled

RULE = AudioRule(0.22, 16)
NOW = AudioTuning(freeze_tracks=2, background=False)


def _track(seed: int, length: int = 900) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=length, dtype=np.uint32)


def _found(index: SegmentedAudioIndex, seed: int) -> list[tuple[str, float, int, int]]:
    hits = index.query(_track(seed)[100:200], RULE)
    return [(h.work_id, h.ber, h.work_offset, h.span) for h in hits]


@pytest.mark.parametrize("chunk", [1, 7, 1 << 24])
def test_merged_key_tables_equal_one_built_over_the_kept_rows(chunk: int) -> None:
    rng = np.random.default_rng(1)
    keys = [rng.integers(0, 50, size=n) for n in (300, 1, 0, 120)]
    rows = [rng.integers(0, 10_000, size=len(k)) for k in keys]
    tables = [KeyTable.build(k, r, 50) for k, r in zip(keys, rows, strict=True)]
    # Renumber: drop about a third of each table's entries, move the rest.
    dropped = [rng.random(10_000) < 0.3 for _ in tables]

    def renumber(table: int, found: np.ndarray) -> np.ndarray:
        return np.where(dropped[table][found], -1, found.astype(np.int64) + 7 * table)

    merged = KeyTable.merged(tables, renumber, chunk=chunk)
    kept_keys = np.concatenate([t.keys_between(0, len(t.rows)) for t in tables])
    all_new = np.concatenate([renumber(i, t.rows) for i, t in enumerate(tables)])
    expected = KeyTable.build(kept_keys[all_new >= 0], all_new[all_new >= 0], 50)
    assert np.array_equal(merged.starts, expected.starts)
    assert np.array_equal(merged.rows, expected.rows)
    found, which = merged.lookup(np.array([3, 3, 49]))
    assert list(found) == list(merged.rows[merged.starts[3] : merged.starts[4]]) * 2 + list(
        merged.rows[merged.starts[49] : merged.starts[50]]
    )
    assert set(which.tolist()) <= {0, 1, 2}


def test_every_peak_pair_hash_has_its_own_key() -> None:
    f, df, dt = np.meshgrid(np.arange(357), np.arange(-48, 49), np.arange(1, 49), indexing="ij")
    hashes = (f << 16) | ((df + 128) << 8) | dt
    keys = landmark_key(hashes.ravel())
    assert keys.max() < 1 << LANDMARK_KEY_BITS
    assert len(np.unique(keys)) == hashes.size


def test_sampling_keeps_the_same_hashes_on_every_print_and_about_one_in_sample() -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 1 << 25, size=40_000).astype(np.uint32)
    kept = sampled(Landmarks(hashes, np.arange(len(hashes), dtype=np.uint32)))
    assert abs(len(kept.hashes) / len(hashes) - 1 / SAMPLE) < 0.02
    again = sampled(Landmarks(hashes[::-1].copy(), np.zeros(len(hashes), np.uint32)))
    assert set(again.hashes.tolist()) == set(kept.hashes.tolist())


def test_a_saved_catalogue_reopens_with_the_same_tracks_removals_and_replacements(
    tmp_path: Path,
) -> None:
    index = SegmentedAudioIndex(tmp_path, NOW)
    for i in range(7):  # three segments and a delta, merged as they come
        index.add(f"t{i}", _track(i))
    index.remove("t1")  # in a segment
    index.add("t3", _track(33))  # replaced
    index.store.save()
    hits_before = {i: _found(index, i) for i in (0, 1, 3, 6)}

    reopened = SegmentedAudioIndex(tmp_path, NOW)
    assert len(reopened.store) == 6
    for i, hits in hits_before.items():
        assert _found(reopened, i) == hits
    assert [h.work_id for h in reopened.query(_track(0)[100:200], RULE)] == ["t0"]
    assert reopened.query(_track(1)[100:200], RULE) == []
    assert reopened.query(_track(3)[100:200], RULE) == []
    assert [h.work_id for h in reopened.query(_track(33)[100:200], RULE)] == ["t3"]
    items = reopened.items("t6")
    assert items is not None and np.array_equal(items, _track(6))
    assert reopened.items("t1") is None


def test_segments_of_merges_never_saved_are_cleaned_up_at_open(tmp_path: Path) -> None:
    index = SegmentedAudioIndex(tmp_path, NOW)
    index.add("a", _track(1))
    index.store.save()
    for i in range(4):  # frozen and merged, but no save records them
        index.add(f"b{i}", _track(10 + i))
    reopened = SegmentedAudioIndex(tmp_path, NOW)
    assert len(reopened.store) == 1
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_a_catalogue_made_with_other_landmark_sampling_asks_for_a_rebuild(
    tmp_path: Path,
) -> None:
    index = SegmentedLandmarkIndex(tmp_path, NOW)
    index.add("a", Landmarks(np.array([5], np.uint32), np.array([0], np.uint32)))
    index.store.save()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"sample": {SAMPLE}', '"sample": 99'))
    with pytest.raises(StateMismatch, match="delete the matcher state directory"):
        SegmentedLandmarkIndex(tmp_path, NOW)


def test_a_track_removed_or_replaced_while_a_merge_runs_stays_so_and_merged_files_go(
    tmp_path: Path,
) -> None:
    index = SegmentedAudioIndex(tmp_path, NOW)
    store = index.store
    merge = store.kind.merge

    def merge_while_the_catalogue_changes(
        segments: list[ChromaprintSegment], alive: list[np.ndarray]
    ) -> ChromaprintSegment:
        merged = merge(segments, alive)
        index.remove("t0")  # as another thread would, between the merge and the swap
        index.add("t1", _track(41))
        return merged

    store.kind = replace(store.kind, merge=merge_while_the_catalogue_changes)
    for i in range(4):  # two segments of two: merged once
        index.add(f"t{i}", _track(i))
    store.kind = replace(store.kind, merge=merge)
    assert index.query(_track(0)[100:200], RULE) == []
    assert index.query(_track(1)[100:200], RULE) == []
    assert [h.work_id for h in index.query(_track(41)[100:200], RULE)] == ["t1"]
    assert [h.work_id for h in index.query(_track(2)[100:200], RULE)] == ["t2"]
    before = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    index.store.save()
    after = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert len(before - after) == 2  # the two merged segments, once no manifest names them
    reopened = SegmentedAudioIndex(tmp_path, NOW)
    assert sorted(w for w in ("t0", "t1", "t2", "t3") if reopened.items(w) is not None) == [
        "t1",
        "t2",
        "t3",
    ]
