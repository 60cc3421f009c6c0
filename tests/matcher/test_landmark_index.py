"""Landmark indexes: one contract, run on the linear reference and the sorted table."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tanba.core.signals.audio import Landmarks, landmark_key
from tanba.matcher.audio_segments import AudioTuning, SegmentedLandmarkIndex
from tanba.matcher.landmark_index import (
    _PREFILTER,
    PER_WORK,
    WINDOW_FRAMES,
    LandmarkIndex,
    LinearLandmarkIndex,
    SortedLandmarkIndex,
    vote,
)

INDEXES: dict[str, Callable[[], LandmarkIndex]] = {
    "linear": LinearLandmarkIndex,
    "sorted": SortedLandmarkIndex,
    "segmented": SegmentedLandmarkIndex,
    # Every few works a segment, merged as they come.
    "segments-merged": lambda: SegmentedLandmarkIndex(
        tuning=AudioTuning(freeze_tracks=3, background=False)
    ),
}


@pytest.fixture(params=list(INDEXES))
def index(request: pytest.FixtureRequest) -> LandmarkIndex:
    return INDEXES[request.param]()


def _valid(values: np.ndarray) -> np.ndarray:
    """Any integers as peak-pair hashes a print can hold (one per value below 357 x 48 x 97)."""
    v = np.asarray(values, np.int64)
    f, rest = v % 357, v // 357
    dt, df = 1 + rest % 48, (rest // 48) % 97 - 48
    return (f << 16) | ((df + 128) << 8) | dt


def _marks(values: np.ndarray, frames: np.ndarray) -> Landmarks:
    """Landmarks in time order; ``values`` below 2 ** 32 made valid hashes, hashes kept."""
    order = np.argsort(frames, kind="stable")
    v = np.asarray(values, np.int64)
    hashes = np.where(v >= 1 << 32, v - (1 << 32), _valid(v)).astype(np.uint32)
    return Landmarks(hashes[order], np.asarray(frames, np.uint32)[order])


def _kept(hashes: np.ndarray) -> np.ndarray:
    """Hashes of a print, passed through :func:`_marks` as they are."""
    return hashes.astype(np.int64) + (1 << 32)


def _random_work(rng: np.random.Generator, n: int, frames: int = 20_000) -> Landmarks:
    return _marks(rng.integers(0, 1 << 25, size=n), rng.integers(0, frames, size=n))


def test_votes_are_summed_over_neighbouring_offsets_and_ties_go_to_the_earliest() -> None:
    owner = np.zeros(7, np.int64)
    frame = np.zeros(7, np.int64)
    offset = np.array([10, 10, 11, 11, 50, 50, 50])
    # 10: 2 + 2 (from 11) = 4; 11: 2 + 2 = 4; 50: 3. The earliest of the tie wins, and
    # its neighbour 11 is the same passage; 50 is another one.
    assert vote(owner, frame, offset, 4) == [(0, 4, 10, 0)]
    assert vote(owner, frame, offset, 3) == [(0, 4, 10, 0), (0, 3, 50, 0)]
    assert vote(owner, frame, offset, 5) == []
    assert vote(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), 1) == []


def test_votes_far_apart_in_the_copy_do_not_add_up() -> None:
    """Ten votes at one offset, spread over minutes of a copy, are chance, not a passage."""
    frame = np.arange(10) * 3 * WINDOW_FRAMES
    assert vote(np.zeros(10, np.int64), frame, np.full(10, 7), 2) == []
    close = np.arange(10) * (WINDOW_FRAMES // 20)
    assert vote(np.zeros(10, np.int64), close, np.full(10, 7), 10) == [(0, 10, 7, 0)]


def test_a_passage_on_a_window_edge_is_counted_whole_on_the_shifted_grid() -> None:
    frame = WINDOW_FRAMES - 50 + np.arange(100)  # straddles the edge of the first grid
    ((_, votes, _, start),) = vote(np.zeros(100, np.int64), frame, np.full(100, 3), 100)
    assert votes == 100 and start == WINDOW_FRAMES // 2


def test_a_planted_copy_is_found_at_its_offset(index: LandmarkIndex) -> None:
    rng = np.random.default_rng(1)
    works = {f"w{i}": _random_work(rng, 4000) for i in range(5)}
    for work_id, marks in works.items():
        index.add(work_id, marks)
    h, f = works["w3"].hashes, works["w3"].frames.astype(np.int64)
    keep = (f >= 5000) & (f < 5300) & (rng.random(len(f)) < 0.5)  # half the hashes lost
    noise = rng.integers(0, 1 << 25, size=200), rng.integers(0, 300, size=200)
    query = _marks(
        np.concatenate([_kept(h[keep]), noise[0]]),
        np.concatenate([f[keep] - 5000 + rng.integers(0, 2, size=int(keep.sum())), noise[1]]),
    )
    hits = index.query(query, 12)
    assert [h.work_id for h in hits] == ["w3"]
    assert abs(hits[0].offset - 5000) <= 1 and hits[0].votes >= int(keep.sum()) - 2
    assert hits[0].start == 0 and hits[0].end == WINDOW_FRAMES


def test_remove_and_replace(index: LandmarkIndex) -> None:
    rng = np.random.default_rng(2)
    first = _random_work(rng, 500, frames=300)
    index.add("w", first)
    index.add("w", _random_work(rng, 500, frames=300))  # replaces
    assert index.query(first, 20) == []
    index.add("w", first)
    assert [h.work_id for h in index.query(first, 20)] == ["w"]
    index.remove("w")
    index.remove("unknown")
    assert index.query(first, 20) == []


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["sorted", "segments-merged"])
def test_the_fast_indexes_return_the_linear_references_hits(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    linear, fast = LinearLandmarkIndex(), INDEXES[kind]()
    # A small hash alphabet, so chance hits pile up and thresholds are crossed both ways;
    # more works than the sorted index keeps aside, added and removed between queries, so
    # both its table and its list of recent works answer.
    works = {
        f"w{i}": _marks(rng.integers(0, 3000, 2000), rng.integers(0, 5000, 2000)) for i in range(40)
    }
    for k, (work_id, marks) in enumerate(works.items()):
        linear.add(work_id, marks)
        fast.add(work_id, marks)
        if k in (5, 39):
            assert fast.query(marks, 8) == linear.query(marks, 8)
    for k in range(10):
        if k == 4:
            linear.remove("w3")
            fast.remove("w3")
        marks = works[f"w{k % 8}"]
        f = marks.frames.astype(np.int64)
        start = int(rng.integers(0, 4000))
        keep = (f >= start) & (f < start + 400) & (rng.random(len(f)) < k / 10)
        query = _marks(
            np.concatenate([_kept(marks.hashes[keep]), rng.integers(0, 3000, size=300)]),
            np.concatenate([f[keep] - start, rng.integers(0, 400, size=300)]),
        )
        for min_votes in (3, 8, 16):
            hits = fast.query(query, min_votes)
            assert hits == linear.query(query, min_votes)
            per_work = [h.work_id for h in hits]
            assert all(per_work.count(w) <= PER_WORK for w in per_work)


def test_a_copy_among_millions_of_chance_hits_keeps_the_votes_the_reference_gives_it() -> None:
    # A small hash alphabet over many works: a query's hashes hit millions of rows, so the
    # segmented index counts only the busiest offsets exactly; the planted copy's cell is
    # one of them, with the votes the linear reference counts.
    rng = np.random.default_rng(9)
    works = {
        f"w{i}": _marks(rng.integers(0, 60, 4000), rng.integers(0, 20_000, 4000)) for i in range(60)
    }
    linear, fast = LinearLandmarkIndex(), SegmentedLandmarkIndex()
    for work_id, marks in works.items():
        linear.add(work_id, marks)
        fast.add(work_id, marks)
    h, f = works["w7"].hashes, works["w7"].frames.astype(np.int64)
    keep = (f >= 9000) & (f < 9600)
    query = _marks(_kept(h[keep]), f[keep] - 9000)
    want = next(h for h in linear.query(query, 40) if h.work_id == "w7")
    got = fast.query(query, 40)
    assert got[0] == want and abs(want.offset - 9000) <= 1
    ((segment, _),) = fast.store.searchable()
    hits, _ = segment.table.lookup(landmark_key(query.hashes))
    assert len(hits) > _PREFILTER  # the busiest offsets alone were counted
