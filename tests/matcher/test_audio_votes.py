"""Excerpts under a voice the LLR model never heard are matched on their landmark votes alone.

Chromaprint verifies a landmark candidate with a log-likelihood ratio whose model was
measured under one voice; under another (here the German one of bench.quality's
calibration works, at the music's loudness) a real copy's chroma can score below the
bar while its landmarks still vote for the work dozens of times on one offset.
``audio_landmark_alone_votes`` lets such votes decide; 0, the default, leaves it off.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.fingerprint.audio import audio_print
from tests.matcher.test_audio_match import matcher_of

BAR = 15  # the speed search's bar, which --calibrate-speed chose for votes alone


def _voiced(tmp_path: Path, track: Path, start_s: float, voice_index: int) -> Fingerprint:
    """10 s of ``track`` from ``start_s`` under a calibration voice at the music's loudness."""
    from bench.audio_alterations import CALIBRATION_VOICES, _rms, decode, encode, speech

    pcm = decode(track, start_s, 10)
    voice = speech(len(pcm), CALIBRATION_VOICES[voice_index])
    out = tmp_path / f"voiced-{start_s}.mp3"
    out.write_bytes(encode(pcm + voice * (_rms(pcm) / _rms(voice))))
    return Fingerprint(
        media=AUDIO, sha256="0" * 64, audio=audio_print(out, max_seconds=900, timeout_s=60)
    )


def test_a_voice_over_chromaprint_cannot_verify_is_found_on_its_votes(
    tracks: list[Path], tmp_path: Path
) -> None:
    copy = _voiced(tmp_path, tracks[1], 100, 0)
    assert matcher_of(tracks).match(copy) == []  # the LLR test refuses it
    (match,) = matcher_of(tracks, audio_landmark_alone_votes=BAR).match(copy)
    detail = match.detail
    assert match.work.work_id == "t1" and detail.algorithm.endswith("@votes")
    assert detail.votes is not None and detail.votes >= BAR and detail.scale is None
    assert detail.offset_s is not None and detail.query_offset_s is not None
    assert abs(detail.offset_s - detail.query_offset_s - 100) < 0.5


@pytest.mark.parametrize("start_s", [20, 60, 100])
def test_unregistered_music_under_a_voice_matches_nothing_on_votes(
    tracks: list[Path], tmp_path: Path, start_s: float
) -> None:
    matcher = matcher_of(tracks, audio_landmark_alone_votes=BAR)
    assert matcher.match(_voiced(tmp_path, tracks[3], start_s, 1)) == []
