"""The segmented image catalogue: descriptors kept with hashes, merges, and snapshots on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tanba.core.signals.image import DESCRIPTOR_LENGTH, ImageHash
from tanba.matcher.index import LinearImageIndex
from tanba.matcher.segments import MANIFEST, SegmentedImageIndex, Tuning


def _work(rng: np.random.Generator, n: int = 5) -> tuple[list[ImageHash], np.ndarray]:
    values = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    hashes = [
        ImageHash(algorithm="phash64", variant=f"v{j}", value=f"{int(v):016x}")
        for j, v in enumerate(values)
    ]
    return hashes, rng.integers(-127, 128, size=(n, DESCRIPTOR_LENGTH), dtype=np.int8)


def _catalogue(seed: int, works: int) -> dict[str, tuple[list[ImageHash], np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {f"work-{i:04d}": _work(rng) for i in range(works)}


def _hits(index: SegmentedImageIndex | LinearImageIndex, hashes: list[ImageHash]) -> list:
    return [(h.work_id, h.variant, h.distance) for h in index.candidates(hashes, 7)]


def test_each_hit_carries_the_descriptor_of_its_window() -> None:
    index = SegmentedImageIndex(tuning=Tuning(freeze_rows=7, background=False))
    catalogue = _catalogue(1, 6)
    for work_id, (hashes, rows) in catalogue.items():
        index.add(work_id, hashes, rows)
    hashes, rows = catalogue["work-0003"]
    (hit,) = index.candidates([hashes[2]], 0)
    assert (hit.work_id, hit.variant) == ("work-0003", "v2")
    assert hit.reference is not None and np.array_equal(hit.reference, rows[2])
    assert index.stats()["segments"] >= 1  # the hit came from a frozen segment


def test_merges_keep_removals_and_replacements() -> None:
    index = SegmentedImageIndex(
        tuning=Tuning(freeze_rows=25, background=False, merge_factor=3, tables_from=0)
    )
    linear = LinearImageIndex()
    catalogue = _catalogue(2, 60)
    for k, (work_id, (hashes, rows)) in enumerate(catalogue.items()):
        for target in (index, linear):
            target.add(work_id, hashes, rows)
        if k % 7 == 3:  # removed after landing in a segment or the delta
            victim = f"work-{k - 2:04d}"
            index.remove(victim)
            linear.remove(victim)
    moved = catalogue["work-0005"][0]
    index.add("work-0010", moved)  # work-0010 now holds work-0005's print
    linear.add("work-0010", moved)
    everything = [h for hashes, _ in catalogue.values() for h in hashes]
    assert _hits(index, everything) == _hits(linear, everything)
    stats = index.stats()
    assert stats["works"] == 60 - 9 and stats["segments"] < 6  # merged: 12 deltas were frozen


def test_a_saved_catalogue_opens_with_its_positions_and_dead_works(tmp_path: Path) -> None:
    index, extra = SegmentedImageIndex.open(
        tmp_path, Tuning(freeze_rows=12, background=False, tables_from=0)
    )
    assert extra == {}
    catalogue = _catalogue(3, 20)
    for work_id, (hashes, rows) in catalogue.items():
        index.add(work_id, hashes, rows)
    index.remove("work-0001")
    index.save({"works": {"0": 41}})
    index.add("late", *_work(np.random.default_rng(9)))  # after the save: not in the snapshot
    reopened, extra = SegmentedImageIndex.open(tmp_path, Tuning(background=False))
    assert extra == {"works": {"0": 41}}
    everything = [h for hashes, _ in catalogue.values() for h in hashes]
    expected = [hit for hit in _hits(index, everything) if hit[0] != "late"]
    assert _hits(reopened, everything) == expected
    assert "work-0001" not in {hit[0] for hit in expected}
    assert reopened.stats()["works"] == 19


def test_segments_no_longer_in_the_manifest_are_deleted(tmp_path: Path) -> None:
    index, _ = SegmentedImageIndex.open(tmp_path, Tuning(freeze_rows=5, background=False))
    for work_id, (hashes, rows) in _catalogue(4, 12).items():
        index.add(work_id, hashes, rows)
        index.save({})
    segments = {p.name for p in (tmp_path / "segments").iterdir()}
    listed = {s["name"] for s in json.loads((tmp_path / MANIFEST).read_text())["segments"]}
    assert segments == listed and len(listed) < 12


def test_a_background_merge_keeps_works_removed_while_it_ran(tmp_path: Path) -> None:
    index, _ = SegmentedImageIndex.open(
        tmp_path, Tuning(freeze_rows=150, background=True, tables_from=0)
    )
    linear = LinearImageIndex()
    catalogue = _catalogue(5, 200)
    for k, (work_id, (hashes, rows)) in enumerate(catalogue.items()):
        index.add(work_id, hashes, rows)
        linear.add(work_id, hashes, rows)
        if k % 3 == 0:
            index.remove(f"work-{k // 2:04d}")
            linear.remove(f"work-{k // 2:04d}")
    index.wait()
    everything = [h for hashes, _ in catalogue.values() for h in hashes]
    assert _hits(index, everything) == _hits(linear, everything)
