"""Excerpts under a voice the LLR model never heard are matched on their landmark votes alone.

Chromaprint verifies a landmark candidate with a log-likelihood ratio whose model was
measured under one voice; under another (here the German one of bench.quality's
calibration works, at the music's loudness) a real copy's chroma can score below the
bar while its landmarks still vote for the work dozens of times on one offset.
``audio_landmark_alone_votes`` lets such votes decide; 0, the default, leaves it off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.methods import as_work
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.audio import (
    CHROMAPRINT,
    FRAME_S,
    ITEM_S,
    LANDMARKS,
    AudioPrint,
    Landmarks,
)
from tanba.fingerprint.audio import audio_print
from tanba.matcher.landmark_index import sampled
from tanba.matcher.match import Matcher
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


# -- votes alone must lead every rival (synthetic prints: the landmark layer alone) ----------


def _print(items: np.ndarray, marks: Landmarks) -> Fingerprint:
    audio = AudioPrint.from_items(CHROMAPRINT, len(items) * ITEM_S, ITEM_S, items)
    audio = audio.model_copy(update={"landmarks": LANDMARKS, "landmarks_b64": marks.pack()})
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=audio)


def _kept_marks(rng: np.random.Generator, n: int, frames: int) -> Landmarks:
    """``n`` valid peak-pair hashes the index keeps (sampled), at random frames in time order."""
    f = rng.integers(0, 357, 8 * n)
    hashes = (f << 16) | ((rng.integers(-48, 49, 8 * n) + 128) << 8) | rng.integers(1, 49, 8 * n)
    kept = sampled(Landmarks(hashes.astype(np.uint32), np.zeros(8 * n, np.uint32))).hashes[:n]
    return Landmarks(kept, np.sort(rng.integers(0, frames, n)).astype(np.uint32))


def _window(marks: Landmarks, first: int, count: int, at: int) -> Landmarks:
    """The hashes of ``marks`` in frames [first, first + count), moved to start at frame ``at``."""
    inside = (marks.frames >= first) & (marks.frames < first + count)
    return Landmarks(marks.hashes[inside], marks.frames[inside] - first + at)


def _joined(*parts: Landmarks) -> Landmarks:
    hashes = np.concatenate([p.hashes for p in parts])
    frames = np.concatenate([p.frames for p in parts])
    order = np.argsort(frames, kind="stable")
    return Landmarks(hashes[order], frames[order].astype(np.uint32))


@pytest.fixture
def catalogue() -> tuple[Matcher, Landmarks, Landmarks]:
    """Two registered works of a minute (random items, random kept landmarks), and their marks."""
    rng = np.random.default_rng(20)
    matcher = Matcher(Settings.from_env({}).with_(audio_landmark_alone_votes=BAR))
    marks = []
    for work_id in ("w0", "w1"):
        work = _kept_marks(rng, 4000, round(60 / FRAME_S))
        items = rng.integers(0, 1 << 32, round(60 / ITEM_S), dtype=np.uint64).astype(np.uint32)
        matcher.add(as_work(work_id, _print(items, work)))
        marks.append(work)
    return matcher, marks[0], marks[1]


def _copy(*parts: Landmarks) -> Fingerprint:
    """A 10 s copy whose Chromaprint items are noise (so only the votes can decide)."""
    rng = np.random.default_rng(7)
    items = rng.integers(0, 1 << 32, round(10 / ITEM_S), dtype=np.uint64).astype(np.uint32)
    return _print(items, _joined(*parts))


SECOND = round(1 / FRAME_S)


def test_votes_alone_match_a_copy_that_votes_for_one_place(
    catalogue: tuple[Matcher, Landmarks, Landmarks],
) -> None:
    matcher, w0, _ = catalogue
    copy = _copy(_window(w0, 20 * SECOND, 8 * SECOND, SECOND))
    (match,) = matcher.match(copy)
    assert match.work.work_id == "w0" and match.detail.algorithm.endswith("@votes")
    assert match.detail.votes is not None and match.detail.votes >= BAR
    assert match.detail.offset_s is not None and match.detail.query_offset_s is not None
    assert abs(match.detail.offset_s - match.detail.query_offset_s - 19) < 0.5


def test_votes_alone_refuse_a_work_voted_for_on_two_places(
    catalogue: tuple[Matcher, Landmarks, Landmarks],
) -> None:
    """A beat the other music shares with the work: its hashes meet the work's at two offsets."""
    matcher, w0, _ = catalogue
    place = _window(w0, 20 * SECOND, 8 * SECOND, SECOND)
    elsewhere = _window(w0, 40 * SECOND, 8 * SECOND, SECOND)  # as many votes again
    assert [m.work.work_id for m in matcher.match(_copy(place))] == ["w0"]
    assert matcher.match(_copy(place, elsewhere)) == []
    # A passage the work repeats with a few changes (half the votes at the other place)
    # still matches: a copy of a loop votes for each of its places.
    repeat = _window(w0, 40 * SECOND, 4 * SECOND, SECOND)
    assert [m.work.work_id for m in matcher.match(_copy(place, repeat))] == ["w0"]


def test_votes_alone_refuse_music_that_votes_for_two_works(
    catalogue: tuple[Matcher, Landmarks, Landmarks],
) -> None:
    """Album mates: the same sound voted for one work and, over a third as often, for another."""
    matcher, w0, w1 = catalogue
    place = _window(w0, 20 * SECOND, 8 * SECOND, SECOND)
    assert matcher.match(_copy(place, _window(w1, 30 * SECOND, 5 * SECOND, 2 * SECOND))) == []
    # Far fewer votes for the other work (a quarter): the copy leads, it matches.
    few = _window(w1, 30 * SECOND, 2 * SECOND, 2 * SECOND)
    assert [m.work.work_id for m in matcher.match(_copy(place, few))] == ["w0"]
