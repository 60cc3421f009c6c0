"""``tanba match --json`` lists every position of a passage the work repeats, best first."""

from __future__ import annotations

from pathlib import Path

from bench.audio_alterations import encode
from tests.support.cli import json_lines, ok, tanba
from tests.support.repeated_song import EXCERPT_START_S, FIRST_S, ONCE_S, SECOND_S, excerpt, songs


def test_match_json_lists_both_places_of_a_repeated_passage_and_one_of_a_single_one(
    tmp_path: Path, tracks: list[Path]
) -> None:
    passage, repeated, once = songs(tuple(tracks))
    home = tmp_path / "home"
    for name, pcm in (("repeated", repeated), ("once", once)):
        song = tmp_path / f"{name}.mp3"
        song.write_bytes(encode(pcm))
        ok(tanba(home, "works", "add", str(song), "--owner", "Label", "--work-id", name))
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(excerpt(passage, voice=False))
    rows = {r["work_id"]: r for r in json_lines(ok(tanba(home, "match", str(clip), "--json")))}
    assert sorted(rows) == ["once", "repeated"]
    for work_id, starts in (("repeated", [FIRST_S, SECOND_S]), ("once", [ONCE_S])):
        row = rows[work_id]
        positions = row["positions"]
        # Today's single offset stays, and is the first (best) position.
        assert row["offset_s"] == positions[0]["offset_s"]
        assert row["score"] == positions[0]["score"]
        found = sorted(p["offset_s"] - p["query_offset_s"] - EXCERPT_START_S for p in positions)
        assert len(found) == len(starts)
        assert all(abs(f - s) <= 0.5 for f, s in zip(found, starts, strict=True)), found
        assert {"offset_s", "query_offset_s", "duration_s", "ber", "score"} <= positions[0].keys()
