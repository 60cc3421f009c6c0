"""End to end on the embedded default: real Scrapy over a loopback web, real decoding, real Chromaprint.

The demo web (tanba.app.demo.site) holds resized, recompressed and cropped copies
of real photos, a 20 s MP3 excerpt of a real track, a 10 s MP4 excerpt of a real
cartoon film (Planet Blupi's) in a ``<video>`` player, a licensee's copy, broken
media and a page robots.txt forbids. Each test runs the real ``tanba`` command
in a subprocess and checks the exact set of alerts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import KINO, PARTNER, DemoSite, build
from tests.support.cli import json_lines, ok, tanba


@pytest.fixture(scope="module")
def demo() -> DemoSite:
    return build()


def alert_keys(home: Path) -> list[tuple[str, str, str, str]]:
    rows = json_lines(ok(tanba(home, "alerts", "list", "--json")))
    return [(r["work_id"], r["page_url"], r["media_url"], r["jurisdiction"]) for r in rows]


def prepare(home: Path, demo: DemoSite, server: SiteServer) -> list[str]:
    ok(tanba(home, "works", "import", str(demo.write_manifest(home / "works.csv"))))
    targets = demo.write_targets(home / "targets.yaml", server.port)
    return ["run", str(targets), *server.resolve_args()]


def test_run_raises_exactly_the_expected_alerts(tmp_path: Path, demo: DemoSite) -> None:
    home = tmp_path / "home"
    with SiteServer(demo.sites) as server:
        summary = ok(tanba(home, *prepare(home, demo, server))).splitlines()
        port = server.port
        fetched = list(server.requests[KINO])
    keys = alert_keys(home)
    assert sorted(keys) == sorted(demo.alert_keys(port))
    # The run's summary counts what the matcher wrote (one fresh run: no replays).
    matches = len(demo.expected) + len(demo.licensed)
    assert (
        f"  matches {matches}: alerts {len(demo.expected)}, suppressed {len(demo.licensed)}"
        in summary
    )

    rows = {r["media_url"]: r for r in json_lines(ok(tanba(home, "alerts", "list", "--json")))}
    clip = rows[f"http://{KINO}:{port}/audio/clip.mp3"]
    assert clip["media"] == "audio" and abs(clip["offset_s"] - 60) <= 1.0
    # The film's excerpt (10 s from its 5th second, smaller, re-encoded) in a <video> player.
    film = rows[f"http://{KINO}:{port}/video/blupi.mp4"]
    assert film["media"] == "video" and abs(film["offset_s"] - 5) <= 1.0
    assert film["match"]["evidence"] == "both"
    assert all(0 < r["score"] <= 1 and r["status"] == "new" for r in rows.values())
    assert all(r["first_seen"] and r["last_seen"] for r in rows.values())

    # robots.txt forbids /private/: never fetched.
    assert not [p for p in fetched if p.startswith("/private/")]

    # The licensee's copy matched but raised no alert, and the reason is recorded.
    suppressed = json_lines(ok(tanba(home, "suppressions", "--json")))
    assert [(s["work_id"], s["reason"]) for s in suppressed] == [("photo-a", "licensed")]
    assert PARTNER in suppressed[0]["page_url"]

    # Every broken file is quarantined with a reason that says what is wrong.
    quarantined = {
        q["media_url"].split(str(port))[1]: q["reason"]
        for q in json_lines(ok(tanba(home, "quarantine", "--json")))
    }
    assert sorted(quarantined) == sorted(demo.broken)
    assert "empty file" in quarantined["/img/empty.jpg"]
    assert "HTML page served as image/jpeg" in quarantined["/img/page.jpg"]
    assert "corrupt or truncated" in quarantined["/img/corrupt.jpg"]
    assert "truncated" in quarantined["/audio/truncated.mp3"]


def _media_published(home: Path) -> int:
    try:
        with sqlite3.connect(home / "bus.sqlite3", timeout=5) as db:
            return db.execute(
                "SELECT COUNT(*) FROM messages WHERE topic = 'tanba.media'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killing_the_run_midway_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, demo: DemoSite
) -> None:
    home = tmp_path / "home"
    with SiteServer(demo.sites) as server:
        args = prepare(home, demo, server)
        command = [sys.executable, "-m", "tanba.app.cli", "--home", str(home), *args]
        env = {**os.environ, "TANBA_CRAWL_DELAY_S": "0.2"}
        victim = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while _media_published(home) < 4 and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.05)
        assert victim.poll() is None, "the run ended before it could be killed midway"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        partial = alert_keys(home)
        assert len(partial) < len(demo.expected)
        ok(tanba(home, *args))
        ok(tanba(home, *args))  # and a third run over the same web changes nothing
        port = server.port
    keys = alert_keys(home)
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(demo.alert_keys(port))
