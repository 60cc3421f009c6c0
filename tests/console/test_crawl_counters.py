"""Traps avoided, throttled requests and pauses on a target's statistics: sums, API and page."""

from __future__ import annotations

from collections.abc import Callable

from tanba.console.context import Console
from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.schemas.base import encode
from tanba.core.schemas.crawls import CrawlFinished, TargetReport
from tanba.core.wiring import App
from tests.console.conftest import Session


def publish(app: App, crawl_id: str, finished: str, report: TargetReport) -> None:
    event = CrawlFinished(
        crawl_id=crawl_id, started_at=finished, finished_at=finished, targets={"kino": report}
    )
    app.bus.publish(topics.CRAWLS, [Record(crawl_id, encode(event))])


def test_the_counters_are_summed_per_day_and_shown_on_the_target_page(
    app: App, console: Console, login: Callable[[str], Session]
) -> None:
    console.targets.add({"name": "kino", "seeds": ["http://kino.example.kz/"]}, [], "admin")
    publish(app, "c1", "2026-03-01T10:00:00.000Z", TargetReport(pages=9, traps=4, throttled=2))
    publish(app, "c2", "2026-03-01T20:00:00.000Z", TargetReport(pages=1, traps=1, paused=1))
    publish(app, "c3", "2026-03-02T10:00:00.000Z", TargetReport(pages=5, throttled=3))

    ops = login("ops")
    stats = ops.client.get("/api/targets/kino/stats").json()
    assert (stats["traps"], stats["throttled"], stats["paused"]) == (5, 5, 1)
    days = [(d["day"], d["traps"], d["throttled"], d["paused"]) for d in stats["days"]]
    assert days == [("2026-03-01", 5, 2, 1), ("2026-03-02", 0, 3, 0)]

    page = ops.client.get("/targets/kino").text
    assert '<td class="num" id="total-traps">5</td>' in page
    assert '<td class="num" id="total-throttled">5</td>' in page
    assert '<td class="num" id="total-paused">1</td>' in page
    assert "Traps avoided" in page and "Throttled (429)" in page
