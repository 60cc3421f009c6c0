"""A film's HLS stream in an embedded player, end to end: crawled, sampled, matched by its soundtrack.

Until visual prints land, a crawled video is matched by its sound: the work is a
real track (Debian's frozen-bubble music), the film an HLS stream of a test
picture over that track, played by a player page on another host that the
site's page embeds. ``tanba run`` must raise one alert that names the page, the
player, and which stretches of the stream the matched file was joined from.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

from tanba.app.demo import media
from tanba.app.demo.server import SiteServer
from tests.support.cli import json_lines, ok, tanba


def test_a_stream_in_a_player_is_sampled_and_matched_with_both_pages_on_the_alert(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    track = media.music()[0]
    ok(tanba(home, "works", "add", str(track), "--owner", "Kazakhfilm", "--work-id", "theme"))
    hls = tmp_path / "cdn" / "film"
    hls.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-i", str(track), "-t", "120", "-map", "0:v", "-map", "1:a",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-b:a", "96k",
         "-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod",
         "-hls_segment_filename", "s%03d.ts", "index.m3u8"],
        cwd=hls, check=True, timeout=300,
    )  # fmt: skip
    sites: dict[str, object] = {
        "kino.example.kz": {},
        "player.example.ru": {},
        "cdn.example.ru": hls.parent,
    }
    with SiteServer(sites) as server:  # type: ignore[arg-type]
        player = server.url("player.example.ru", "/embed/7")
        sites["kino.example.kz"]["/"] = (  # type: ignore[index]
            f'<html lang="kk"><title>Фильм</title><iframe src="{player}"></iframe></html>'
        ).encode()
        sites["player.example.ru"]["/embed/7"] = (  # type: ignore[index]
            f'<html><video><source src="{server.url("cdn.example.ru", "/film/index.m3u8")}">'
            "</video></html>"
        ).encode()
        targets = tmp_path / "targets.yaml"
        targets.write_text(
            f'targets:\n  - name: kino\n    seeds: ["{server.url("kino.example.kz")}"]\n'
            "    allow_private_addresses: true\n"
        )
        ok(tanba(home, "run", str(targets), *server.resolve_args()))

    (alert,) = json_lines(ok(tanba(home, "alerts", "list", "--json")))
    assert alert["work_id"] == "theme" and alert["media"] == "audio"
    assert alert["page_url"] == server.url("kino.example.kz") and alert["site"] == "kino.example.kz"
    assert alert["player_url"] == player and alert["player_site"] == "player.example.ru"
    assert alert["media_url"] == server.url("cdn.example.ru", "/film/index.m3u8")
    stream = alert["stream"]
    assert stream["protocol"] == "hls" and stream["segments_listed"] == 20
    pieces = stream["pieces"]
    assert len(pieces) == 12 and sum(p["duration_s"] for p in pieces) == 72
    # The match says where in the stream the passage is (not where in the joined file):
    # inside one of the sampled pieces, and, since the film's soundtrack is the track
    # from its start, at the work's own offset.
    query = alert["match"]["query_offset_s"]
    assert any(p["stream_start_s"] <= query < p["stream_start_s"] + p["duration_s"] for p in pieces)
    assert abs(query - alert["match"]["offset_s"]) <= 1.0, alert["match"]
    assert stream["bytes_fetched"] < sum(f.stat().st_size for f in hls.iterdir())

    # The evidence package's web archive holds the page, the player, the playlist and
    # every segment the match was made from.
    package = tmp_path / "case.zip"
    ok(tanba(home, "evidence", "export", alert["id"], "-o", str(package), "--no-recapture"))
    with (
        zipfile.ZipFile(package) as z,
        zipfile.ZipFile(io.BytesIO(z.read("web-archive.wacz"))) as w,
    ):
        index = w.read("indexes/index.cdx").decode().splitlines()
    archived = {json.loads(line.split(" ", 2)[2])["url"] for line in index}
    segments = {url for p in pieces for url in p["urls"]}
    assert len(segments) == 12
    assert {alert["page_url"], player, alert["media_url"], *segments} <= archived
