"""``tanba run`` over a loopback site with a crawler trap and a 429: the counters reach the report.

One real run (Scrapy, the fingerprint and matcher workers, the embedded bus) in a
subprocess, since Twisted's reactor runs once per process. The site has a
relative-link loop (``/a/`` → ``/a/a/`` → ...), whose fourth ``/a/`` is not
followed (a trap), and a page answered ``429`` with ``Retry-After: 0`` the first
time (one throttled retry, no wait). The counters must appear in the
``CrawlFinished`` event on ``tanba.crawls`` and in the run summary.
"""

from __future__ import annotations

from pathlib import Path

from tanba.app.demo import media
from tanba.core import topics
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawls import CrawlFinished
from tests.reliability.hostile_web import HostileServer, dynamic, sequence, static, too_many
from tests.support.cli import tanba

HOST = "counters.example.kz"


def html(body: str) -> bytes:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>".encode()


def loop_page(path: str) -> bytes:
    return html('<a href="a/">deeper</a>')


def test_traps_and_throttled_requests_reach_the_crawl_report_and_the_summary(
    tmp_path: Path,
) -> None:
    photo = media.photos()[0].read_bytes()
    routes = {
        (HOST, "/"): static(
            html('<a href="/a/">loop</a> <a href="/busy.html">busy</a> <img src="/p.jpg">')
        ),
        (HOST, "/a/*"): dynamic(loop_page),
        (HOST, "/busy.html"): sequence(too_many(retry_after="0"), static(html("served"))),
        (HOST, "/p.jpg"): static(photo, "image/jpeg"),
    }
    home = tmp_path / "home"
    home.mkdir()
    with HostileServer(routes) as site:
        targets = home / "targets.yaml"
        targets.write_text(
            "targets:\n"
            "  - name: counters\n"
            f'    seeds: ["http://{HOST}:{site.port}/"]\n'
            "    max_depth: 20\n"
            "    allow_private_addresses: true\n",
            encoding="utf-8",
        )
        done = tanba(home, "run", str(targets), *site.resolve_args())
        busy_hits = len(site.hits(HOST, "/busy.html"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert busy_hits == 2  # the 429, then the page after the (zero) wait

    bus = EmbeddedBus(home / "bus.sqlite3")
    try:
        [report] = [decode(m.value, CrawlFinished) for m in bus.replay(topics.CRAWLS)]
    finally:
        bus.close()
    counters = report.targets["counters"]
    assert counters.throttled == 1 and counters.http_errors == 0
    assert counters.traps >= 1  # the loop's fourth /a/ at least
    assert counters.paused == 0 and counters.media_published == 1
    # Every counter the crawler keeps is in the report (one definition for both).
    assert set(counters.counters()) >= {"traps", "throttled", "paused"}

    lines = done.stdout.splitlines()
    assert lines[0] == f"crawl {report.crawl_id}"
    assert (
        f"  traps avoided {counters.traps}, throttled (429/503 Retry-After) 1, paused (disk full) 0"
        in lines
    )
    assert "  fingerprinted 1, quarantined 0" in lines
