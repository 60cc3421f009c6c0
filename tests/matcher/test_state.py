"""The matcher's saved state: a restarted matcher maps its catalogue and replays only new events."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import numpy as np
import pytest

from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.common import AUDIO, IMAGE, VIDEO, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import CHROMAPRINT, ITEM_S, AudioPrint
from tanba.core.signals.image import DESCRIPTOR_LENGTH, ImagePrint
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.fingerprint.compute import fingerprint_file
from tanba.matcher.match import Match
from tanba.matcher.state import MatcherState, StateBusy, WorkShelf
from tanba.matcher.worker import MatcherStage
from tests.support.video import START, excerpt, ffmpeg, film


def _print(seed: int) -> ImagePrint:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**63, size=6, dtype=np.uint64)
    rows = rng.integers(-127, 128, size=(6, DESCRIPTOR_LENGTH), dtype=np.int8)
    return ImagePrint(
        width=100,
        height=100,
        hashes=[
            {"algorithm": "phash64", "variant": f"v{j}", "value": f"{int(v):016x}"}
            for j, v in enumerate(values)
        ],
        descriptor="dct63-whitened-i8",
        descriptors_b64=base64.b64encode(rows.tobytes()).decode(),
    )


def _work(work_id: str, seed: int) -> Work:
    return Work(
        work_id=work_id,
        owner="studio",
        title=f"title of {work_id}",
        media=IMAGE,
        sha256="0" * 64,
        registered_at="2026-12-06T00:00:00Z",
        fingerprint=Fingerprint(media=IMAGE, sha256="0" * 64, image=_print(seed)),
    )


def _copy(seed: int) -> Fingerprint:
    return Fingerprint(media=IMAGE, sha256="1" * 64, image=_print(seed))


def test_the_shelf_keeps_works_without_memory_and_batches_writes(tmp_path: Path) -> None:
    shelf = WorkShelf(tmp_path / "works.sqlite")
    work = _work("a", 1)
    with shelf.batch():
        shelf["a"] = work
        shelf["b"] = _work("b", 2)
        del shelf["b"]
        assert "a" in shelf and "b" not in shelf  # pending writes are read back
    reopened = WorkShelf(tmp_path / "works.sqlite")
    assert list(reopened) == ["a"] and len(reopened) == 1
    assert reopened["a"] == work
    assert [w.work_id for w in reopened.of_medium(IMAGE)] == ["a"]
    with pytest.raises(KeyError):
        reopened["b"]


def test_one_process_at_a_time_holds_a_state_directory(tmp_path: Path) -> None:
    first = MatcherState(tmp_path / "state")
    with pytest.raises(StateBusy, match="TANBA_MATCHER_STATE"):
        MatcherState(tmp_path / "state")
    first.close()
    MatcherState(tmp_path / "state").close()


def _stage(tmp_path: Path, bus: EmbeddedBus, state: MatcherState) -> MatcherStage:
    store = EmbeddedAlertStore(tmp_path / "alerts.sqlite")
    return MatcherStage(
        Settings.from_env({}),
        bus,
        store,
        FixedClock(),
        JurisdictionRegistry.load(),
        state=state,
    )


def test_a_restarted_matcher_starts_from_its_state_and_replays_only_new_events(
    tmp_path: Path,
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    registry = WorkRegistry(bus)
    registry.register([_work(f"w{i}", i) for i in range(5)])
    registry.remove("w3", "2026-12-06T01:00:00Z")
    state = MatcherState(tmp_path / "state")
    stage = _stage(tmp_path, bus, state)
    stage.before_batch()  # the first replay is saved at once
    saved = dict(stage._works_position)
    state.close()

    registry.register([_work("late", 50)])  # after the save
    state = MatcherState(tmp_path / "state")
    assert state.positions == saved
    assert state.images.stats()["works"] == 4  # w3 was removed before the save
    restarted = _stage(tmp_path, bus, state)
    assert [m.work.work_id for m in restarted.matcher.match(_copy(2))] == ["w2"]
    assert restarted.matcher.match(_copy(3)) == []
    assert restarted.matcher.match(_copy(50)) == []  # not replayed yet
    restarted.before_batch()
    (match,) = restarted.matcher.match(_copy(50))
    assert match.work.work_id == "late" and match.work.title == "title of late"
    assert match.work.fingerprint.image is None  # the print lives in the catalogue only


def _track(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=1200, dtype=np.uint32)


def _audio_print(items: np.ndarray) -> AudioPrint:
    return AudioPrint.from_items(CHROMAPRINT, len(items) * ITEM_S, ITEM_S, items)


def _audio_work(work_id: str, seed: int) -> Work:
    fingerprint = Fingerprint(media=AUDIO, sha256="0" * 64, audio=_audio_print(_track(seed)))
    return _work(work_id, 0).model_copy(update={"media": AUDIO, "fingerprint": fingerprint})


def _excerpt(seed: int) -> Fingerprint:
    return Fingerprint(media=AUDIO, sha256="2" * 64, audio=_audio_print(_track(seed)[300:400]))


def test_a_restarted_matcher_maps_its_audio_catalogue_instead_of_decoding_every_track(
    tmp_path: Path,
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    registry = WorkRegistry(bus)
    registry.register([_audio_work(f"t{i}", 10 + i) for i in range(4)])
    state = MatcherState(tmp_path / "state")
    _stage(tmp_path, bus, state).before_batch()
    state.close()
    shelved = WorkShelf(tmp_path / "state" / "works.sqlite")["t1"].fingerprint.audio
    assert shelved is not None and shelved.items_b64 == "" and shelved.duration_s > 0

    registry.remove("t2", "2026-12-06T01:00:00Z")
    registry.register([_audio_work("late", 50)])
    state = MatcherState(tmp_path / "state")
    restarted = _stage(tmp_path, bus, state)
    assert [m.work.work_id for m in restarted.matcher.match(_excerpt(11))] == ["t1"]
    assert [m.work.work_id for m in restarted.matcher.match(_excerpt(12))] == ["t2"]
    assert restarted.matcher.match(_excerpt(50)) == []  # not replayed yet
    restarted.before_batch()
    assert restarted.matcher.match(_excerpt(12)) == []
    assert [m.work.work_id for m in restarted.matcher.match(_excerpt(50))] == ["late"]


def test_audio_works_shelved_by_an_older_matcher_move_to_the_audio_catalogue(
    tmp_path: Path,
) -> None:
    # A state from before the audio catalogue: its shelf holds the audio works whole.
    state = MatcherState(tmp_path / "state")
    with state.works.batch():
        state.works["old"] = _audio_work("old", 7)
    state.save({})
    state.close()
    shutil.rmtree(tmp_path / "state" / "audio")  # as an older matcher left it: no catalogue

    state = MatcherState(tmp_path / "state")
    stage = _stage(tmp_path, EmbeddedBus(tmp_path / "bus.sqlite"), state)
    assert [m.work.work_id for m in stage.matcher.match(_excerpt(7))] == ["old"]
    shelved = state.works["old"].fingerprint.audio
    assert shelved is not None and shelved.items_b64 == ""


@pytest.fixture(scope="module")
def film_prints(
    tmp_path_factory: pytest.TempPathFactory, tracks: list[Path]
) -> dict[str, Fingerprint]:
    """A 60 s film with a real soundtrack, and three copies of 10 s of it from START: muted,
    its picture replaced (the film's sound under an unrelated picture), and its sound alone."""
    directory = tmp_path_factory.mktemp("film-state")
    made = {"film": film(directory, tracks[0])}
    made["muted"] = excerpt(directory, made["film"], "muted", ["-an"])
    made["new-picture"] = directory / "new-picture.mp4"
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=320x240:r=10", "-ss", str(START), "-t", "10",
           "-i", str(made["film"]), "-map", "0:v", "-map", "1:a", "-t", "10", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", str(made["new-picture"]))  # fmt: skip
    made["sound"] = directory / "sound.m4a"
    ffmpeg("-ss", str(START), "-t", "10", "-i", str(made["film"]), "-vn", "-c:a", "aac",
           str(made["sound"]))  # fmt: skip
    settings = Settings.from_env({})
    return {
        name: fingerprint_file(path, f"{i:064x}", settings, reference=name == "film")
        for i, (name, path) in enumerate(made.items())
    }


def _film_work(work_id: str, fingerprint: Fingerprint) -> Work:
    return _work(work_id, 0).model_copy(
        update={"media": VIDEO, "sha256": fingerprint.sha256, "fingerprint": fingerprint}
    )


def _found_by(matches: list[Match]) -> list[tuple[str, str | None]]:
    return [(m.work.work_id, m.detail.evidence) for m in matches]


def _finds_the_film_by_picture_and_by_sound(
    stage: MatcherStage, prints: dict[str, Fingerprint], work_id: str = "film"
) -> None:
    match = stage.matcher.match
    assert _found_by(match(prints["muted"])) == [(work_id, "picture")]
    # The soundtrack is the only evidence left of these two: the saved state must keep it.
    assert _found_by(match(prints["new-picture"])) == [(work_id, "sound")]
    assert _found_by(match(prints["sound"])) == [(work_id, "sound")]


def test_a_restarted_matcher_keeps_its_films_pictures_and_soundtracks(
    tmp_path: Path, film_prints: dict[str, Fingerprint]
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    WorkRegistry(bus).register([_film_work("film", film_prints["film"])])
    state = MatcherState(tmp_path / "state")
    first = _stage(tmp_path, bus, state)
    first.before_batch()  # the first replay is saved at once
    _finds_the_film_by_picture_and_by_sound(first, film_prints)
    state.close()

    state = MatcherState(tmp_path / "state")
    assert state.video.saved
    # The shelf keeps the film without its frames or its soundtrack: after the restart they
    # come from the saved video catalogue, not from the shelf nor the works topic.
    shelved = state.works["film"].fingerprint
    assert (
        shelved.video is not None and shelved.video.hashes_b64 == "" and shelved.video.frames == 0
    )
    assert shelved.audio is not None and shelved.audio.items_b64 == ""
    assert shelved.video.duration_s > 50
    restarted = _stage(tmp_path, bus, state)
    _finds_the_film_by_picture_and_by_sound(restarted, film_prints)
    state.close()


def test_films_shelved_by_an_older_matcher_are_indexed_once_and_written_at_the_next_save(
    tmp_path: Path, film_prints: dict[str, Fingerprint]
) -> None:
    # A state from before the video catalogue: its shelf holds the film whole, no video part.
    state = MatcherState(tmp_path / "state")
    with state.works.batch():
        state.works["old"] = _film_work("old", film_prints["film"])
    state.save({})
    state.close()
    shutil.rmtree(tmp_path / "state" / "video")

    state = MatcherState(tmp_path / "state")
    assert not state.video.saved
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    stage = _stage(tmp_path, bus, state)
    _finds_the_film_by_picture_and_by_sound(stage, film_prints, "old")
    assert state.works["old"].fingerprint.video.hashes_b64  # type: ignore[union-attr]
    stage.before_batch()  # nothing new on the topic, but the indexed film is saved
    assert state.video.saved
    assert state.works["old"].fingerprint.video.hashes_b64 == ""  # type: ignore[union-attr]
    state.close()

    state = MatcherState(tmp_path / "state")
    _finds_the_film_by_picture_and_by_sound(_stage(tmp_path, bus, state), film_prints, "old")
    state.close()


def test_positions_are_never_saved_ahead_of_the_films(
    tmp_path: Path, film_prints: dict[str, Fingerprint], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The video catalogue is written before the positions: when it cannot be (a full disk),
    no position claims the film, and the next start replays its event."""
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    WorkRegistry(bus).register([_film_work("film", film_prints["film"])])
    state = MatcherState(tmp_path / "state")

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state.video, "save", full_disk)
    _stage(tmp_path, bus, state).before_batch()  # the save fails, is logged, is tried later
    state.close()

    state = MatcherState(tmp_path / "state")
    assert state.positions == {} and not state.video.saved
    restarted = _stage(tmp_path, bus, state)
    restarted.before_batch()
    _finds_the_film_by_picture_and_by_sound(restarted, film_prints)
    state.close()
