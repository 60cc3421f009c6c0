"""Printing again the works an earlier version printed: which, how, and what a re-run does."""

from __future__ import annotations

from pathlib import Path

from tanba.core.schemas.works import Work
from tanba.core.signals.audio import CHROMAPRINT, LANDMARKS, AudioPrint
from tanba.core.signals.image import DESCRIPTOR, REFERENCE_WINDOWS
from tanba.core.signals.versions import outdated
from tanba.core.signals.video import OLDER_PDQ_FRAMES, PDQ_FRAMES, VideoPrint
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tanba.fingerprint.reprint import outdated_works, reprint


def _older(work: Work) -> Work:
    """The work as a version before window descriptors, thumbnails and named window sets
    registered it."""
    image = work.fingerprint.image
    assert image is not None and image.descriptor == DESCRIPTOR
    old = image.model_copy(
        update={
            "descriptor": "",
            "descriptors_b64": "",
            "thumbnail": "",
            "thumbnail_b64": "",
            "windows": "",
        }
    )
    return work.model_copy(
        update={"fingerprint": work.fingerprint.model_copy(update={"image": old})}
    )


def _register(app: App, path: Path, work_id: str, owner: str = "Studio") -> Work:
    spec = WorkSpec(path=path, owner=owner, work_id=work_id, territories=("KZ",))
    return register(app, [spec])[0]


def test_a_work_registered_today_is_current(app: App, small_photos: list[Path]) -> None:
    work = _register(app, small_photos[0], "fresh")
    assert outdated(work.fingerprint) == []
    assert outdated_works(app) == []


def test_an_older_print_is_printed_again_with_its_metadata_and_a_rerun_finds_nothing(
    app: App, small_photos: list[Path]
) -> None:
    today = _register(app, small_photos[0], "poster")
    app.works.register([_older(today)])
    found = outdated_works(app)
    assert [o.work.work_id for o in found] == ["poster"]
    assert any("no window descriptors" in r for r in found[0].reasons)
    assert any("no thumbnail" in r for r in found[0].reasons)
    assert any("older set of windows" in r for r in found[0].reasons)

    tally = reprint(app, found)
    assert (tally.total, tally.reprinted, tally.failed) == (1, 1, [])
    again = app.works.get("poster")
    assert again.fingerprint == today.fingerprint  # the print registering the file makes today
    assert again.model_dump(exclude={"fingerprint"}) == today.model_dump(exclude={"fingerprint"})
    assert outdated_works(app) == []


def test_a_missing_file_is_reported_with_what_to_do_and_the_others_go_on(
    app: App, small_photos: list[Path]
) -> None:
    lost = _register(app, small_photos[0], "lost")
    kept = _register(app, small_photos[1], "kept")
    app.works.register([_older(lost), _older(kept)])
    stored = app.blobs.file(lost.sha256)
    assert stored is not None
    stored.unlink()

    tally = reprint(app, outdated_works(app))
    assert tally.reprinted == 1 and len(tally.failed) == 1
    assert (
        "work lost" in tally.failed[0] and "tanba works add FILE --work-id lost" in tally.failed[0]
    )
    assert [o.work.work_id for o in outdated_works(app)] == ["lost"]  # still old, still listed


def test_filters_removed_works_and_later_events_decide_what_is_listed(
    app: App, small_photos: list[Path]
) -> None:
    a = _register(app, small_photos[0], "a", owner="Studio")
    b = _register(app, small_photos[1], "b", owner="Other")
    c = _register(app, small_photos[2], "c", owner="Studio")
    app.works.register([_older(a), _older(b), _older(c)])
    app.works.remove("c", "2026-12-07T00:00:00Z")
    assert [o.work.work_id for o in outdated_works(app)] == ["a", "b"]
    assert [o.work.work_id for o in outdated_works(app, owner="Other")] == ["b"]
    assert [o.work.work_id for o in outdated_works(app, work_ids=["a"])] == ["a"]
    assert outdated_works(app, media="audio") == []
    app.works.register([a])  # registered again today: its latest event is current
    assert [o.work.work_id for o in outdated_works(app)] == ["b"]


def test_a_picture_hashed_at_an_older_window_set_is_named(
    app: App, small_photos: list[Path]
) -> None:
    today = _register(app, small_photos[0], "x").fingerprint
    assert today.image is not None and today.image.windows == REFERENCE_WINDOWS
    older = today.model_copy(update={"image": today.image.model_copy(update={"windows": ""})})
    reasons = outdated(older)
    assert len(reasons) == 1 and "older set of windows" in reasons[0]


def test_older_sound_and_picture_ids_are_named(app: App, small_photos: list[Path]) -> None:
    base = _register(app, small_photos[0], "x").fingerprint.model_copy(update={"image": None})

    def video(algorithm: str) -> list[str]:
        picture = VideoPrint(
            algorithm=algorithm, duration_s=10.0, width=64, height=48, frame_s=0.5, frames=0
        )
        return outdated(base.model_copy(update={"video": picture}))

    older_id = next(iter(OLDER_PDQ_FRAMES))
    assert len(video(older_id)) == 1 and older_id in video(older_id)[0]
    assert "offsets" in video(older_id)[0]
    assert video(PDQ_FRAMES) == []
    assert "does not compare" in video("pdqf-0")[0]

    def audio(algorithm: str, landmarks: str, blob: str = "") -> list[str]:
        sound = AudioPrint(
            algorithm=algorithm, duration_s=5.0, item_s=0.124, items_b64="",
            landmarks=landmarks, blob=blob,
        )  # fmt: skip
        return outdated(base.model_copy(update={"audio": sound}))

    assert audio(CHROMAPRINT, LANDMARKS) == []
    assert "no landmarks" in audio(CHROMAPRINT, "")[0]
    assert audio(CHROMAPRINT, "", blob="ab" * 32) == []  # a stub: its landmarks are in the blob
    assert "chromaprint1" in audio("chromaprint1", LANDMARKS)[0]
