"""Landmark indexes: the sorted-table index returns the linear reference's hits; real music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import landmarks
from bench.landmark_index import (
    DEFAULT_MIN_VOTES,
    LandmarkIndex,
    LinearLandmarkIndex,
    SortedLandmarkIndex,
    best_offsets,
)

INDEXES = [LinearLandmarkIndex, SortedLandmarkIndex]


@pytest.fixture(params=INDEXES, ids=lambda c: c.__name__)
def index(request: pytest.FixtureRequest) -> LandmarkIndex:
    return request.param()


def test_votes_are_summed_over_neighbouring_offsets_and_ties_go_to_the_earliest() -> None:
    work = np.zeros(7, np.int64)
    offset = np.array([10, 10, 11, 11, 50, 50, 50])
    # 10: 2 + 2 (from 11) = 4; 11: 2 + 2 = 4; 50: 3. The earliest of the tie wins.
    assert best_offsets(work, offset, 4) == [(0, 4, 10)]
    assert best_offsets(work, offset, 5) == []
    assert best_offsets(np.zeros(0, np.int64), np.zeros(0, np.int64), 1) == []


def _random_work(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 1 << 22, size=n), np.sort(rng.integers(0, 20_000, size=n))


def test_a_planted_copy_is_found_at_its_offset(index: LandmarkIndex) -> None:
    rng = np.random.default_rng(1)
    works = {f"w{i}": _random_work(rng, 4000) for i in range(5)}
    for work_id, (h, f) in works.items():
        index.add(work_id, h, f)
    h, f = works["w3"]
    keep = (f >= 5000) & (f < 5600) & (rng.random(len(f)) < 0.3)  # 70% of the hashes lost
    noise_h, noise_f = rng.integers(0, 1 << 22, size=200), rng.integers(0, 600, size=200)
    query_h = np.concatenate([h[keep], noise_h])
    query_f = np.concatenate([f[keep] - 5000 + rng.integers(0, 2, size=int(keep.sum())), noise_f])
    hits = index.query(query_h, query_f, DEFAULT_MIN_VOTES)
    assert [h.work_id for h in hits] == ["w3"]
    assert abs(hits[0].offset - 5000) <= 1 and hits[0].votes >= int(keep.sum()) - 2


def test_remove_and_replace(index: LandmarkIndex) -> None:
    rng = np.random.default_rng(2)
    h, f = _random_work(rng, 500)
    index.add("w", h, f)
    index.add("w", *_random_work(rng, 500))  # replaces
    assert index.query(h, f, 20) == []
    index.add("w", h, f)
    index.remove("w")
    index.remove("unknown")
    assert index.query(h, f, 20) == []


@pytest.mark.parametrize("seed", range(4))
def test_the_sorted_index_returns_the_linear_references_hits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    linear, fast = LinearLandmarkIndex(), SortedLandmarkIndex()
    # A small hash alphabet, so chance hits pile up and thresholds are crossed both ways.
    works = {
        f"w{i}": (rng.integers(0, 3000, size=2000), np.sort(rng.integers(0, 5000, size=2000)))
        for i in range(8)
    }
    for work_id, (h, f) in works.items():
        linear.add(work_id, h, f)
        fast.add(work_id, h, f)
    for k in range(10):
        h, f = works[f"w{k % 8}"]
        start = int(rng.integers(0, 4000))
        keep = (f >= start) & (f < start + 400) & (rng.random(len(f)) < k / 10)
        query_h = np.concatenate([h[keep], rng.integers(0, 3000, size=300)])
        query_f = np.concatenate([f[keep] - start, rng.integers(0, 400, size=300)])
        for min_votes in (3, 8, 16):
            assert fast.query(query_h, query_f, min_votes) == linear.query(
                query_h, query_f, min_votes
            )


def test_silence_and_a_too_short_clip_have_no_landmarks() -> None:
    assert len(landmarks.landmarks(np.zeros(landmarks.RATE * 5, np.float32)).hashes) == 0
    assert len(landmarks.landmarks(np.ones(100, np.float32)).hashes) == 0


def _voice_over(track: Path, start_s: float, seconds: float) -> bytes:
    from bench.audio_alterations import decode, encode, speech

    music = decode(track, start_s, seconds)
    voice = speech(len(music))
    gain = np.sqrt(np.mean(np.square(music, dtype=np.float64)) / np.mean(np.square(voice)))
    return encode(music + voice * gain)


def test_a_five_second_voice_over_is_found_among_real_tracks(
    tracks: list[Path], tmp_path: Path
) -> None:
    index = SortedLandmarkIndex()
    for i, track in enumerate(tracks[:4]):
        marks = landmarks.landmarks(landmarks.decode(track, max_seconds=900, timeout_s=60))
        index.add(f"t{i}", marks.hashes, marks.frames)
    clip = tmp_path / "voice.mp3"
    clip.write_bytes(_voice_over(tracks[1], 40, 5))
    marks = landmarks.landmarks(landmarks.decode(clip, max_seconds=900, timeout_s=60))
    hits = index.query(marks.hashes, marks.frames, DEFAULT_MIN_VOTES)
    assert [h.work_id for h in hits] == ["t1"]
    assert abs(hits[0].offset * landmarks.FRAME_S - 40) < 1.0
    other = tmp_path / "other.mp3"
    other.write_bytes(_voice_over(tracks[5], 40, 5))
    marks = landmarks.landmarks(landmarks.decode(other, max_seconds=900, timeout_s=60))
    assert index.query(marks.hashes, marks.frames, DEFAULT_MIN_VOTES) == []


def test_a_sped_up_copy_is_found_once_slowed_back(tracks: list[Path], tmp_path: Path) -> None:
    from bench.audio_alterations import decode, encode

    index = SortedLandmarkIndex()
    marks = landmarks.landmarks(landmarks.decode(tracks[2], max_seconds=900, timeout_s=60))
    index.add("t2", marks.hashes, marks.frames)
    clip = tmp_path / "fast.mp3"
    clip.write_bytes(encode(decode(tracks[2], 30, 10 * 1.02), speed=1.02))  # 2% faster
    pcm = landmarks.decode(clip, max_seconds=900, timeout_s=60)
    fast = landmarks.landmarks(pcm)
    assert index.query(fast.hashes, fast.frames, DEFAULT_MIN_VOTES) == []
    slowed = landmarks.landmarks(landmarks.at_speed(pcm, 1.02))
    (hit,) = index.query(slowed.hashes, slowed.frames, DEFAULT_MIN_VOTES)
    assert abs(hit.offset * landmarks.FRAME_S - 30) < 1.0
