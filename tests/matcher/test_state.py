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
from tanba.core.schemas.common import AUDIO, IMAGE, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import CHROMAPRINT, ITEM_S, AudioPrint
from tanba.core.signals.image import DESCRIPTOR_LENGTH, ImagePrint
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.matcher.state import MatcherState, StateBusy, WorkShelf
from tanba.matcher.worker import MatcherStage


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
