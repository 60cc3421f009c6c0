"""A video work registered with ``tanba works add`` and a clip of it matched with ``tanba match``."""

from __future__ import annotations

from pathlib import Path

from tanba.core.settings import Settings
from tanba.core.signals.video import OLDER_PDQ_FRAMES, PDQ_FRAMES
from tanba.core.wiring import App
from tests.support.cli import json_lines, ok, tanba
from tests.support.video import LOOP_S, excerpt, film, looping, unrelated


def test_a_clip_cut_from_a_registered_video_is_matched_with_its_position(
    tmp_path: Path, tracks: list[Path]
) -> None:
    home, movie = tmp_path / "home", film(tmp_path, tracks[0])
    added = json_lines(ok(tanba(home, "works", "add", str(movie), "--owner", "Studio",
                                "--work-id", "film-1", "--json")))  # fmt: skip
    assert added[0]["media"] == "video"
    listed = json_lines(ok(tanba(home, "works", "list", "--media", "video", "--json")))
    assert [w["work_id"] for w in listed] == ["film-1"]
    clip = excerpt(tmp_path, movie, "middle", ["-vf", "scale=240:180"], start=33.0)
    muted = excerpt(tmp_path, movie, "muted", ["-an"], start=12.0)
    rows = json_lines(
        ok(
            tanba(
                home, "match", str(clip), str(muted), str(unrelated(tmp_path, "cellauto")), "--json"
            )
        )
    )
    assert [(r["work_id"], r["media"], Path(r["file"]).name) for r in rows] == [
        ("film-1", "video", "middle.mp4"),
        ("film-1", "video", "muted.mp4"),
    ]
    middle, silent = rows
    assert abs(middle["offset_s"] - middle["query_offset_s"] - 33.0) <= 1.0
    assert middle["evidence"] == "both" and middle["duration_s"] >= 8 and middle["score"] > 0.5
    assert abs(silent["offset_s"] - silent["query_offset_s"] - 12.0) <= 1.0
    assert silent["evidence"] == "picture"
    # The picture alone, of a film that does not repeat it: one position, in its figures (the
    # clip with sound lists the sound's positions: its music repeats passages).
    assert "positions" not in silent


def test_a_muted_clip_of_a_repeated_picture_is_printed_with_every_position(
    tmp_path: Path,
) -> None:
    home, loop = tmp_path / "home", looping(tmp_path)
    ok(tanba(home, "works", "add", str(loop), "--owner", "Studio", "--work-id", "loop"))
    clip = excerpt(tmp_path, loop, "repeated", ["-an"], start=1.0, seconds=6.0)
    [row] = json_lines(ok(tanba(home, "match", str(clip), "--json")))
    positions = row["positions"]
    starts = sorted(round(p["offset_s"] - p["query_offset_s"]) for p in positions)
    assert starts == [1, 1 + LOOP_S]
    assert positions[0]["offset_s"] == row["offset_s"]  # the match's own first
    assert all(p["evidence"] == "picture" and p["frames"] >= 6 for p in positions)


def test_a_film_printed_by_an_older_version_is_listed_and_printed_again(
    tmp_path: Path, tracks: list[Path]
) -> None:
    home, movie = tmp_path / "home", film(tmp_path, tracks[0])
    ok(tanba(home, "works", "add", str(movie), "--owner", "Studio", "--work-id", "film-1",
             "--territory", "KZ"))  # fmt: skip
    app = App(Settings.from_env({}, home=home))
    today = app.works.get("film-1")
    assert today.fingerprint.video is not None
    older_id = next(iter(OLDER_PDQ_FRAMES))
    old_video = today.fingerprint.video.model_copy(update={"algorithm": older_id})
    older = today.fingerprint.model_copy(update={"video": old_video})
    app.works.register([today.model_copy(update={"fingerprint": older})])

    listed = tanba(home, "works", "reprint", "--dry-run")
    assert listed.returncode == 0 and listed.stdout.startswith("film-1: its picture is printed")
    assert "1 works would be printed again" in listed.stderr
    done = tanba(home, "works", "reprint")
    assert done.returncode == 0, done.stderr
    assert "1 of 1 outdated works printed again" in done.stderr
    again = App(Settings.from_env({}, home=home)).works.get("film-1")
    assert again.fingerprint.video is not None and again.fingerprint.video.algorithm == PDQ_FRAMES
    assert again.territories == ["KZ"] and again.registered_at == today.registered_at
    assert "0 works would be printed again" in tanba(home, "works", "reprint", "--dry-run").stderr
