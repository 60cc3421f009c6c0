"""A passage a work repeats is listed at every position, ranked; one heard once, at one.

The works are built from real music (:mod:`tests.support.repeated_song`): a
passage of one track placed twice, at known times, between stretches of other
tracks, so the only repeat is the one made here. Both position finders
(the voted one the matcher uses and the linear reference) run the same cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.audio_alterations import encode
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.audio import AudioPrint
from tanba.fingerprint.audio import audio_print
from tanba.matcher.audio_positions import (
    MIN_SEPARATION_S,
    LinearPositions,
    PositionFinder,
    PositionTest,
    VotedPositions,
)
from tanba.matcher.audio_score import AudioRule
from tanba.matcher.audio_signal import AudioSignal, audio_rule
from tests.support.repeated_song import (
    EXCERPT_START_S,
    FIRST_S,
    ONCE_S,
    SECOND_S,
    excerpt,
    songs,
)

FINDERS = [VotedPositions, LinearPositions]


def _print_of(tmp_path: Path, name: str, mp3: bytes) -> Fingerprint:
    path = tmp_path / f"{name}.mp3"
    path.write_bytes(mp3)
    audio = audio_print(path, max_seconds=900, timeout_s=60)
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=audio)


@pytest.fixture(scope="module")
def works(tracks: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fingerprint]:
    folder = tmp_path_factory.mktemp("repeats")
    passage, repeated, once = songs(tuple(tracks))
    return {
        "repeated": _print_of(folder, "repeated", encode(repeated)),
        "once": _print_of(folder, "once", encode(once)),
        "plain": _print_of(folder, "plain", excerpt(passage, voice=False)),
        "voice": _print_of(folder, "voice", excerpt(passage, voice=True)),
    }


def _signal(finder: PositionFinder, work: Fingerprint) -> AudioSignal:
    signal = AudioSignal(Settings.from_env({}), positions=finder)
    signal.add("work", work)
    return signal


def _starts(signal: AudioSignal, query: Fingerprint) -> list[float]:
    """Where each listed position puts the copy's start in the work, in seconds, best first."""
    (match,) = signal.match(query)
    assert match.work_id == "work"
    return [p.offset_s - p.query_offset_s for p in match.detail.positions]


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("copy", ["plain", "voice"])
def test_a_passage_the_work_repeats_is_listed_at_both_places(
    works: dict[str, Fingerprint], finder: type[PositionFinder], copy: str
) -> None:
    signal = _signal(finder(), works["repeated"])
    starts = _starts(signal, works[copy])
    assert len(starts) == 2, starts
    assert sorted(starts) == pytest.approx(
        [FIRST_S + EXCERPT_START_S, SECOND_S + EXCERPT_START_S], abs=0.5
    )
    (match,) = signal.match(works[copy])
    positions = match.detail.positions
    # The match's own offset and score first, then the others by score.
    assert positions[0].offset_s == match.detail.offset_s
    assert positions[0].score == match.score
    scores = [p.score for p in positions[1:]]
    assert None not in scores and scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("copy", ["plain", "voice"])
def test_a_passage_heard_once_is_listed_once(
    works: dict[str, Fingerprint], finder: type[PositionFinder], copy: str
) -> None:
    starts = _starts(_signal(finder(), works["once"]), works[copy])
    assert starts == pytest.approx([ONCE_S + EXCERPT_START_S], abs=0.5)


def _items(fingerprint: Fingerprint) -> tuple[np.ndarray, AudioPrint]:
    assert fingerprint.audio is not None
    return fingerprint.audio.items(), fingerprint.audio


def test_a_position_must_pass_the_rule_the_match_passed(works: dict[str, Fingerprint]) -> None:
    ref, work = _items(works["repeated"])
    items, _ = _items(works["plain"])
    passage = items[4:60]
    rule = audio_rule(Settings.from_env({}))
    for finder in (VotedPositions(), LinearPositions()):
        assert len(finder.positions(ref, passage, PositionTest(rule), work.item_s)) == 2
        # A rule nothing passes: no position, however the votes pile up.
        strict = PositionTest(AudioRule(0.0, rule.min_items, rule.full_span_items))
        assert finder.positions(ref, passage, strict, work.item_s) == []


def test_landmark_votes_let_a_position_through_only_where_they_voted(
    works: dict[str, Fingerprint],
) -> None:
    """Under the landmark path's lower LLR bar, a position needs the landmarks' votes."""
    ref, work = _items(works["repeated"])
    items, _ = _items(works["voice"])
    passage = items[:60]
    rule = AudioRule(0.0, 16, 64)  # the audio rule itself accepts nothing
    first = round((FIRST_S + EXCERPT_START_S) / work.item_s)
    for finder in (VotedPositions(), LinearPositions()):
        found = finder.positions(ref, passage, PositionTest(rule, 0.5, (first,)), work.item_s)
        assert [p.work_offset for p in found] == pytest.approx([first], abs=2)


def test_positions_closer_than_the_separation_are_one() -> None:
    """A passage of one repeated item agrees at every offset: one position per separation."""
    ref = np.full(400, 0x12345678, np.uint32)
    ref[::2] ^= np.uint32(0xFF00FF)  # moving, so the rule can judge it
    passage = ref[100:180].copy()
    rule = AudioRule(0.22, 16, 64)
    item_s = 0.1238
    for finder in (VotedPositions(), LinearPositions()):
        found = finder.positions(ref, passage, PositionTest(rule), item_s)
        offsets = sorted(p.work_offset for p in found)
        assert len(found) > 1
        assert min(np.diff(offsets)) >= MIN_SEPARATION_S / item_s
