"""Copies played faster or slower (pitch and tempo together) are found, and placed, by the landmarks.

Real music, sped up by ffmpeg as a re-upload would be (``asetrate``): the copy's
landmarks put back at the right speed meet the work's (``at_speed``), where at
speed 1 they hardly meet at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.signals.audio import Landmarks, at_speed
from tanba.fingerprint.audio import audio_print
from tanba.fingerprint.landmarks import landmarks
from tanba.matcher.match import Matcher
from tests.matcher.test_audio_match import matcher_of


def _fingerprint(path: Path) -> Fingerprint:
    return Fingerprint(
        media=AUDIO, sha256="0" * 64, audio=audio_print(path, max_seconds=900, timeout_s=60)
    )


def _sped(tmp_path: Path, track: Path, start_s: float, seconds: float, speed: float) -> Path:
    """An MP3 of ``seconds`` of the track from ``start_s``, played ``speed`` times as fast."""
    from bench.audio_alterations import decode, encode

    out = tmp_path / f"sped-{speed}.mp3"
    out.write_bytes(encode(decode(track, start_s, seconds * speed), speed=speed))
    return out


@pytest.fixture(scope="module")
def matcher(tracks: list[Path]) -> Matcher:
    return matcher_of(tracks, audio_speed_min_votes=15)  # the bar of --calibrate-speed


@pytest.mark.parametrize(("speed", "seconds"), [(1.04, 10), (0.97, 5), (25 / 24, 20)])
def test_a_sped_up_excerpt_is_found_at_its_offset_and_speed(
    matcher: Matcher, tracks: list[Path], tmp_path: Path, speed: float, seconds: float
) -> None:
    (match,) = matcher.match(_fingerprint(_sped(tmp_path, tracks[0], 100, seconds, speed)))
    assert match.work.work_id == "t0"
    detail = match.detail
    assert detail.scale is not None and abs(detail.scale - speed) <= 0.006
    assert detail.offset_s is not None and detail.query_offset_s is not None
    # The copy's start sits at 100 s of the work; from there it runs `scale` times as fast.
    assert abs(detail.offset_s - detail.scale * detail.query_offset_s - 100) < 0.5
    assert detail.votes is not None and detail.votes >= matcher.settings.audio_speed_min_votes


def test_without_the_speed_search_a_sped_up_excerpt_is_missed(
    tracks: list[Path], tmp_path: Path
) -> None:
    off = matcher_of(tracks)  # the default: the search is off
    assert off.match(_fingerprint(_sped(tmp_path, tracks[0], 100, 10, 1.04))) == []


@pytest.mark.parametrize("speed", [0.95, 1.03])
def test_unregistered_music_at_another_speed_matches_nothing(
    matcher: Matcher, tracks: list[Path], tmp_path: Path, speed: float
) -> None:
    for start in (20, 60, 100):
        copy = _sped(tmp_path, tracks[3], start, 10, speed)
        assert matcher.match(_fingerprint(copy)) == []


def test_landmarks_put_back_at_speed_one_are_unchanged(tracks: list[Path]) -> None:
    from bench.audio_alterations import decode

    marks = landmarks(decode(tracks[1], 30, 5)[::4])  # about 11 kHz
    same = at_speed(marks, 1.0)
    assert np.array_equal(same.hashes, marks.hashes)
    assert np.array_equal(same.frames, marks.frames)


def test_a_pair_put_back_at_speed_has_the_originals_bins_and_frames() -> None:
    # A pair from bin 103 (hash frequency 100) to bin 123, 20 frames later, at frame 500 of
    # a copy played 1.05 times as fast: the original's pair ran from bin 98 to 117 over
    # 21 frames, at frame 525.
    copy = Landmarks(np.array([100 << 16 | (20 + 128) << 8 | 20], np.uint32), np.array([500]))
    back = at_speed(copy, 1.05)
    h = int(back.hashes[0])
    assert (h >> 16, ((h >> 8) & 0xFF) - 128, h & 0xFF) == (95, 19, 21)
    assert int(back.frames[0]) == 525
