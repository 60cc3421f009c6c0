"""The signal-index contract: the same cases on every medium's index, linear and fast behind it.

Each case registers real prints (photos from ukui-wallpapers, tracks from
frozen-bubble-data) and asks what a :class:`SignalIndex` promises: a copy finds
its work, a removed or replaced work is forgotten, unrelated media and prints of
another medium match nothing, and matches come best first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tanba.app.demo.media import audio_excerpt, web_jpeg
from tanba.core.schemas.common import AUDIO, IMAGE, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.fingerprint.audio import audio_print
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.matcher.audio_signal import AudioSignal
from tanba.matcher.image_signal import ImageSignal
from tanba.matcher.index import LinearAudioIndex, LinearImageIndex
from tanba.matcher.landmark_index import LinearLandmarkIndex
from tanba.matcher.match import Matcher
from tanba.matcher.signal import SignalIndex
from tests.support.media import track_print, web_photo

SETTINGS = Settings.from_env({})
MAX_PIXELS = 10**9


@dataclass(frozen=True)
class Medium:
    """Three registered works' prints, a copy of work 0, and an unrelated file's print."""

    works: list[Fingerprint]
    copy: Fingerprint
    unrelated: Fingerprint


def _image(data: bytes, variants: str = "query") -> Fingerprint:
    image = image_print(data, max_pixels=MAX_PIXELS, variants=variants)
    return Fingerprint(media=IMAGE, sha256="0" * 64, image=image)


def _audio(path: Path) -> Fingerprint:
    audio = audio_print(path, max_seconds=900, timeout_s=60)
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=audio)


def _track(track: Path) -> Fingerprint:
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=track_print(track))


@pytest.fixture(scope="module")
def images(photos: list[Path]) -> Medium:
    works = [_image(web_jpeg(p, width=1024, quality=95), REFERENCE) for p in photos[:3]]
    return Medium(
        works, _image(web_jpeg(photos[0], width=480, crop=0.05)), _image(web_photo(photos[5]))
    )


@pytest.fixture(scope="module")
def sounds(tracks: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Medium:
    clip = tmp_path_factory.mktemp("signal") / "clip.mp3"
    clip.write_bytes(audio_excerpt(tracks[0], start_s=60, seconds=15, bitrate="96k"))
    return Medium([_track(t) for t in tracks[:3]], _audio(clip), _track(tracks[4]))


SIGNALS: dict[str, Callable[[], SignalIndex]] = {
    "image-linear": lambda: ImageSignal(SETTINGS, LinearImageIndex()),
    "image-fast": lambda: ImageSignal(SETTINGS),
    "audio-linear": lambda: AudioSignal(SETTINGS, LinearAudioIndex(), LinearLandmarkIndex()),
    "audio-fast": lambda: AudioSignal(SETTINGS),
}


@pytest.fixture(params=list(SIGNALS))
def case(
    request: pytest.FixtureRequest, images: Medium, sounds: Medium
) -> tuple[SignalIndex, Medium, Medium]:
    signal = SIGNALS[request.param]()
    own, other = (images, sounds) if signal.kind == IMAGE else (sounds, images)
    for i, fp in enumerate(own.works):
        signal.add(f"w{i}", fp)
    return signal, own, other


def test_a_copy_finds_its_work_and_unrelated_media_nothing(
    case: tuple[SignalIndex, Medium, Medium],
) -> None:
    signal, own, _ = case
    (match,) = signal.match(own.copy)
    assert match.work_id == "w0" and 0 < match.score <= 1
    assert signal.match(own.unrelated) == []


def test_a_removed_work_is_forgotten_and_unknown_ids_are_ignored(
    case: tuple[SignalIndex, Medium, Medium],
) -> None:
    signal, own, _ = case
    signal.remove("w0")
    signal.remove("never-registered")
    assert signal.match(own.copy) == []
    assert [m.work_id for m in signal.match(own.works[1])][:1] == ["w1"]


def test_adding_a_work_again_replaces_its_print(case: tuple[SignalIndex, Medium, Medium]) -> None:
    signal, own, _ = case
    signal.add("w0", own.works[2])  # w0 now holds w2's print
    assert {m.work_id for m in signal.match(own.copy)} == set()
    assert {m.work_id for m in signal.match(own.works[2])} == {"w0", "w2"}


def test_prints_of_another_medium_are_neither_indexed_nor_matched(
    case: tuple[SignalIndex, Medium, Medium],
) -> None:
    signal, own, other = case
    signal.add("elsewhere", other.works[0])
    assert signal.match(other.copy) == []
    assert "elsewhere" not in {m.work_id for m in signal.match(own.copy)}


def test_matches_come_best_first(case: tuple[SignalIndex, Medium, Medium]) -> None:
    signal, own, _ = case
    signal.add("twin", own.works[0])
    found = signal.match(own.copy)
    assert [m.work_id for m in found] == ["twin", "w0"]  # equal scores: by work id
    assert found[0].score == found[1].score


def test_the_matcher_hands_each_print_to_the_index_of_its_medium(
    images: Medium, sounds: Medium
) -> None:
    matcher = Matcher(SETTINGS)
    for medium, name in ((images, "picture"), (sounds, "track")):
        matcher.add(
            Work(
                work_id=name,
                owner="o",
                media=medium.works[0].media,
                sha256="0" * 64,
                registered_at="2026-01-01T00:00:00Z",
                fingerprint=medium.works[0],
            )
        )
    assert [m.work.work_id for m in matcher.match(images.copy)] == ["picture"]
    assert [m.work.work_id for m in matcher.match(sounds.copy)] == ["track"]
    matcher.remove("picture")
    assert matcher.match(images.copy) == []
    assert [m.work.work_id for m in matcher.match(sounds.copy)] == ["track"]
