"""Audio matching end to end on real music: short, degraded excerpts found at their offset."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest

from tanba.app.demo.media import audio_excerpt
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import AudioPrint, Landmarks
from tanba.fingerprint.audio import audio_print
from tanba.matcher.audio_score import AudioRule
from tanba.matcher.audio_signal import AudioSignal
from tanba.matcher.match import Match, Matcher
from tests.support.media import track_print


def _print(path: Path) -> AudioPrint:
    return audio_print(path, max_seconds=900, timeout_s=60)


def _fingerprint(audio: AudioPrint) -> Fingerprint:
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=audio)


def _query(tmp_path: Path, mp3: bytes) -> Fingerprint:
    """The fingerprint of ``mp3``, a found copy, as the fingerprint stage computes it."""
    clip = tmp_path / "query.mp3"
    clip.write_bytes(mp3)
    return _fingerprint(_print(clip))


def _assert_aligned(match: Match, work_id: str, offset_s: float) -> None:
    """``match`` is of ``work_id`` and places the query's start at ``offset_s`` in it (±1 s)."""
    assert match.work.work_id == work_id
    detail = match.detail
    assert detail.offset_s is not None and detail.query_offset_s is not None
    assert abs(detail.offset_s - detail.query_offset_s - offset_s) < 1.0


def matcher_of(tracks: list[Path], **changes: float) -> Matcher:
    """A matcher with the first three ``tracks`` registered (``changes``: settings)."""
    m = Matcher(Settings.from_env({}).with_(**changes))
    for i, track in enumerate(tracks[:3]):
        m.add(
            Work(
                work_id=f"t{i}",
                owner="o",
                media=AUDIO,
                sha256="0" * 64,
                registered_at="2026-01-01T00:00:00Z",
                fingerprint=_fingerprint(track_print(track)),
            )
        )
    return m


@pytest.fixture(scope="module")
def matcher(tracks: list[Path]) -> Matcher:
    return matcher_of(tracks)


@pytest.mark.parametrize(("seconds", "bitrate"), [(5, "64k"), (10, "64k"), (20, "128k")])
def test_an_excerpt_is_found_at_its_offset(
    matcher: Matcher, tracks: list[Path], tmp_path: Path, seconds: int, bitrate: str
) -> None:
    excerpt = audio_excerpt(tracks[0], start_s=100, seconds=seconds, bitrate=bitrate)
    (match,) = matcher.match(_query(tmp_path, excerpt))
    _assert_aligned(match, "t0", 100)
    assert match.score > 0.6


def test_an_excerpt_of_an_unregistered_track_matches_nothing(
    matcher: Matcher, tracks: list[Path], tmp_path: Path
) -> None:
    for start in (20, 60, 100):
        excerpt = audio_excerpt(tracks[3], start_s=start, seconds=10)
        assert matcher.match(_query(tmp_path, excerpt)) == []


def test_short_spans_need_a_lower_bit_error_rate() -> None:
    rule = AudioRule(0.22, 1, 64)
    assert rule.ber_limit(64) == rule.ber_limit(200) == 0.22
    assert rule.ber_limit(16) == pytest.approx(0.11)


def _voice_over(track: Path, start_s: float, seconds: float) -> bytes:
    """An MP3 excerpt with a Russian voice (espeak-ng) over it at the music's loudness."""
    from bench.audio_alterations import decode, encode, speech

    music = decode(track, start_s, seconds)
    voice = speech(len(music))
    rms = float(np.sqrt(np.mean(np.square(music, dtype=np.float64))))
    return encode(
        music + voice * (rms / float(np.sqrt(np.mean(np.square(voice, dtype=np.float64)))))
    )


def _sharing_indexes(matcher: Matcher, **changes: float) -> Matcher:
    """A matcher with other settings over the same registered works and indexes."""
    settings = matcher.settings.with_(**changes)
    shared = cast(AudioSignal, matcher.signals[AUDIO])
    other = Matcher(settings, {AUDIO: AudioSignal(settings, shared.index, shared.landmarks)})
    other.works = matcher.works
    return other


def test_a_voice_over_at_equal_loudness_is_found_by_the_llr_test(
    matcher: Matcher, tracks: list[Path], tmp_path: Path
) -> None:
    # From 200 s: this track loops its theme, and under a voice a repeat of the passage can
    # score as well as the passage itself (from 100 s, the best place is 11 s later).
    query = _query(tmp_path, _voice_over(tracks[0], 200, 20))
    (match,) = matcher.match(query)
    # Over the BER test's limit, so the LLR test found it.
    assert match.detail.ber is not None and match.detail.ber > matcher.settings.audio_max_ber
    _assert_aligned(match, "t0", 200)
    # The same query under the BER test alone: nothing.
    ber_only = _sharing_indexes(matcher, audio_min_llr=0.0, audio_landmark_min_votes=0)
    assert ber_only.match(query) == []


def test_a_five_second_voice_over_is_found_through_the_landmarks(
    matcher: Matcher, tracks: list[Path], tmp_path: Path
) -> None:
    query = _query(tmp_path, _voice_over(tracks[2], 40, 5))
    (match,) = matcher.match(query)
    assert match.detail.algorithm == "peakpairs1+chromaprint2-raw"
    votes = match.detail.votes
    assert votes is not None and votes >= matcher.settings.audio_landmark_min_votes
    _assert_aligned(match, "t2", 40)
    # Without the landmark path the clip is too short for the LLR test: nothing.
    assert _sharing_indexes(matcher, audio_landmark_min_votes=0).match(query) == []


def test_a_landmark_candidate_that_chromaprint_contradicts_is_no_match(
    tracks: list[Path], tmp_path: Path
) -> None:
    """Music that shares peaks (a drum loop) but not chroma with a work gets votes, not alerts."""
    own, other = track_print(tracks[1]), track_print(tracks[3])
    chimera = other.model_copy(
        update={"landmarks": own.landmarks, "landmarks_b64": own.landmarks_b64}
    )
    settings = Settings.from_env({})
    signal = AudioSignal(settings)
    m = Matcher(settings, {AUDIO: signal})
    for work_id, audio in (("chimera", chimera), ("t3", other)):
        m.add(
            Work(
                work_id=work_id,
                owner="o",
                media=AUDIO,
                sha256="0" * 64,
                registered_at="2026-01-01T00:00:00Z",
                fingerprint=_fingerprint(audio),
            )
        )
    query = _query(tmp_path, audio_excerpt(tracks[1], start_s=40, seconds=5))
    marks = signal.landmarks.query(Landmarks.unpack(query.audio.landmarks_b64), 12)  # type: ignore[union-attr]
    assert [h.work_id for h in marks][:1] == ["chimera"]  # the landmarks point at it
    assert m.match(query) == []  # and Chromaprint says no


def test_a_whole_unregistered_track_matches_nothing(matcher: Matcher, tracks: list[Path]) -> None:
    for track in (tracks[3], tracks[4]):  # an IndexError, not a pass, with fewer tracks
        assert matcher.match(_fingerprint(track_print(track))) == [], track.name
