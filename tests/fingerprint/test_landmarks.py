"""Spectral-peak landmarks: golden values, the peak filter, packing, and excerpts vs unrelated music."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import maximum_filter

from tanba.core.signals.audio import FRAME_S, RATE, Landmarks
from tanba.fingerprint import landmarks
from tanba.matcher.landmark_index import LinearLandmarkIndex


def _synthetic(seconds: float) -> np.ndarray:
    """Notes of a fixed random melody with two harmonics: a signal with clear peaks."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        freq = float(rng.choice([220, 262, 294, 330, 392, 440, 523, 587, 659, 784]))
        on = (t >= start) & (t < start + 0.25)
        out[on] += np.sin(2 * np.pi * freq * t[on]) + 0.4 * np.sin(4 * np.pi * freq * t[on])
    return out.astype(np.float32) * 0.3


def _pcm(path: Path, start_s: float = 0.0, seconds: float = 900.0) -> np.ndarray:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(start_s), "-t", str(seconds), "-i", str(path),
         "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.float32)


def test_golden_landmarks_of_a_synthetic_melody() -> None:
    marks = landmarks.landmarks(_synthetic(20.0))
    digest = hashlib.sha256(marks.hashes.tobytes() + marks.frames.tobytes()).hexdigest()[:16]
    # A change here changes every registered work's landmarks: a new ALGORITHM id.
    assert (len(marks.hashes), digest) == (GOLDEN_COUNT, GOLDEN_DIGEST)


GOLDEN_COUNT = 730
GOLDEN_DIGEST = "53d8e485236bea1d"


def test_the_peak_filter_equals_scipys_maximum_filter() -> None:
    rng = np.random.default_rng(3)
    for shape in [(30, 40), (200, 349), (21, 15), (5, 3)]:
        values = rng.random(shape).astype(np.float32)
        values[values < 0.3] = 0.3  # plateaus: ties must come out alike
        expected = maximum_filter(
            values, size=landmarks._NEIGHBOURHOOD, mode="constant", cval=-np.inf
        )
        assert np.array_equal(landmarks._max_filter(values), expected)


def test_pack_round_trips_and_empty_means_none() -> None:
    rng = np.random.default_rng(1)
    marks = Landmarks(
        rng.integers(0, 1 << 25, 1000).astype(np.uint32),
        np.sort(rng.integers(0, 50_000, 1000)).astype(np.uint32),
    )
    back = Landmarks.unpack(marks.pack())
    assert np.array_equal(back.hashes, marks.hashes) and np.array_equal(back.frames, marks.frames)
    assert len(Landmarks.unpack("").hashes) == 0


def test_silence_and_a_too_short_clip_have_no_landmarks() -> None:
    assert len(landmarks.landmarks(np.zeros(RATE * 5, np.float32)).hashes) == 0
    assert len(landmarks.landmarks(np.ones(100, np.float32)).hashes) == 0


@pytest.fixture(scope="module")
def whole_track(tracks: list[Path]) -> LinearLandmarkIndex:
    """An index of one work, the whole of ``tracks[0]``; made once, only queried."""
    index = LinearLandmarkIndex()
    index.add("work", landmarks.landmarks(_pcm(tracks[0])))
    return index


@pytest.mark.parametrize("start", [30.0, 95.5])
def test_an_excerpt_votes_for_its_track_and_offset_and_unrelated_music_does_not(
    whole_track: LinearLandmarkIndex, tracks: list[Path], start: float
) -> None:
    excerpt = landmarks.landmarks(_pcm(tracks[0], start, 5.0))
    (hit,) = whole_track.query(excerpt, 1)[:1]
    assert hit.votes >= 50
    assert abs(hit.offset * FRAME_S - start) < 0.1
    unrelated = landmarks.landmarks(_pcm(tracks[3], start, 5.0))
    assert max((h.votes for h in whole_track.query(unrelated, 1)), default=0) < 12
