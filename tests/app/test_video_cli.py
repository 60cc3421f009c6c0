"""A video work registered with ``tanba works add`` and a clip of it matched with ``tanba match``."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import json_lines, ok, tanba
from tests.support.video import excerpt, film, unrelated


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
