"""Per-target statistics from crawl reports and alerts; the scheduler's choice of due targets."""

from __future__ import annotations

from collections.abc import Callable

from tanba.console.crawls import CrawlRun, RunLog, Scheduler
from tanba.console.stats import target_statistics, targets_overview
from tanba.console.targets import ConsoleTargets
from tanba.core import topics
from tanba.core.alerts import Alert, StatusChange
from tanba.core.bus import Record
from tanba.core.clock import FixedClock, iso
from tanba.core.crawl_reports import CrawlReports
from tanba.core.schemas.base import encode
from tanba.core.schemas.crawls import CrawlFinished, TargetReport
from tanba.core.schemas.targets import TargetRecord
from tanba.core.sqlite import Database
from tanba.core.targets import check_target
from tanba.core.wiring import App


def report(crawl_id: str, finished: str, **targets: TargetReport) -> Record:
    event = CrawlFinished(
        crawl_id=crawl_id, started_at=finished, finished_at=finished, targets=targets
    )
    return Record(crawl_id, encode(event))


def test_statistics_per_day_with_matches_confirmed_and_yield(
    app: App, alert_factory: Callable[..., Alert]
) -> None:
    app.bus.publish(
        topics.CRAWLS,
        [
            report(
                "c1",
                "2026-03-01T10:00:00.000Z",
                kino=TargetReport(pages=400, media_published=90, http_errors=3, errors=1),
                other=TargetReport(pages=7),
            ),
            report(
                "c2", "2026-03-01T22:00:00.000Z", kino=TargetReport(pages=100, media_published=10)
            ),
            report("c3", "2026-03-02T10:00:00.000Z", kino=TargetReport(pages=250, errors=2)),
        ],
    )
    day1 = [
        alert_factory(page=f"http://kino.example.kz/{i}", seen="2026-03-01T10:00:00.000Z")
        for i in range(4)
    ]
    day2 = [
        alert_factory(page=f"http://kino.example.kz/x{i}", seen="2026-03-02T10:00:00.000Z")
        for i in range(2)
    ]
    foreign = alert_factory(
        page="http://other.example.kz/1", target="other", seen="2026-03-01T10:00:00.000Z"
    )
    app.store.upsert([*day1, *day2, foreign])
    confirm = StatusChange(status="confirmed", actor="kz", at="2026-03-03T00:00:00.000Z")
    for a in day1[:3] + day2[:1]:
        app.store.change_status(a.id, confirm)
    app.store.change_status(
        day1[0].id, StatusChange(status="notice_sent", actor="kz", at="2026-03-03T01:00:00.000Z")
    )
    app.store.change_status(
        day1[3].id, StatusChange(status="dismissed", actor="kz", at="2026-03-03T00:00:00.000Z")
    )

    reports = CrawlReports(app.bus)
    stats = target_statistics("kino", reports, app.store)
    assert (stats.crawls, stats.pages, stats.media, stats.errors) == (3, 750, 100, 6)
    assert (stats.matches, stats.confirmed) == (6, 4)  # notice_sent still counts as confirmed
    assert stats.yield_per_k == round(4 * 1000 / 750, 2)
    assert [(d.day, d.pages, d.matches, d.confirmed, d.yield_per_k) for d in stats.days] == [
        ("2026-03-01", 500, 4, 3, 6.0),
        ("2026-03-02", 250, 2, 1, 4.0),
    ]
    # New reports are picked up incrementally.
    app.bus.publish(
        topics.CRAWLS, [report("c4", "2026-03-04T10:00:00.000Z", kino=TargetReport(pages=50))]
    )
    again = target_statistics("kino", reports, app.store)
    assert (again.crawls, again.pages, again.last_crawl_at) == (4, 800, "2026-03-04T10:00:00.000Z")
    assert target_statistics("nothing", reports, app.store).yield_per_k == 0.0


class RecordingLauncher:
    """Records what the scheduler starts instead of starting crawls."""

    def __init__(self, runs: RunLog, clock: FixedClock) -> None:
        self.runs = runs
        self.clock = clock
        self.started: list[str] = []

    def start(self, record: TargetRecord, actor: str) -> CrawlRun:
        run = CrawlRun(
            id=f"r{len(self.started)}",
            target=record.id,
            started_at=iso(self.clock.now()),
            started_by=actor,
            command="",
            log="",
            pid=0,
        )
        self.runs.add(run)
        self.started.append(record.name)
        return run


def test_scheduler_starts_targets_whose_interval_has_passed(app: App, clock: FixedClock) -> None:
    db = Database(app.settings.path("console", "console.sqlite3"), "")
    targets, runs = ConsoleTargets(app.targets, allow_private=False), RunLog(db)
    seeds = ["http://kino.example.kz/"]
    for name, extra in (
        ("hourly", {"schedule_hours": 1}),
        ("daily", {"schedule_hours": 24}),
        ("manual", {}),
        ("paused", {"schedule_hours": 1, "paused": True}),
        ("gone", {"schedule_hours": 1}),
    ):
        app.targets.add(check_target({"name": name, "seeds": seeds, **extra}), "ops")
    app.targets.archive("gone", "ops")  # archived targets are never crawled
    launcher = RecordingLauncher(runs, clock)
    scheduler = Scheduler(targets, runs, launcher, clock)
    scheduler.tick()
    assert sorted(launcher.started) == ["daily", "hourly"]  # never run: due at once
    clock.advance(30 * 60)
    scheduler.tick()
    assert len(launcher.started) == 2  # still running (not finished): nothing new
    for name in ("hourly", "daily"):
        last = runs.last(name)
        assert last is not None
        runs.finish(last.id, iso(clock.now()), 0)
    clock.advance(31 * 60)
    scheduler.tick()
    assert launcher.started[2:] == ["hourly"]


def test_the_overview_of_many_targets_has_each_ones_totals(
    app: App, alert_factory: Callable[..., Alert]
) -> None:
    app.bus.publish(
        topics.CRAWLS,
        [
            report("c1", "2026-03-01T10:00:00.000Z", kino=TargetReport(pages=400, errors=2)),
            report(
                "c2",
                "2026-03-02T10:00:00.000Z",
                kino=TargetReport(pages=100),
                other=TargetReport(pages=7),
            ),
        ],
    )
    kino = [alert_factory(page=f"http://kino.example.kz/{i}") for i in range(3)]
    app.store.upsert([*kino, alert_factory(page="http://other.example.kz/1", target="other")])
    confirm = StatusChange(status="confirmed", actor="kz", at="2026-03-03T00:00:00.000Z")
    app.store.change_status(kino[0].id, confirm)
    reports = CrawlReports(app.bus)
    overview = targets_overview(["kino", "other", "never"], reports, app.store)
    for target_id in ("kino", "other", "never"):
        single = target_statistics(target_id, reports, app.store)
        got = overview[target_id]
        assert (got.crawls, got.pages, got.errors, got.matches, got.confirmed) == (
            single.crawls,
            single.pages,
            single.errors,
            single.matches,
            single.confirmed,
        )
        assert got.last_crawl_at == single.last_crawl_at
    assert (overview["kino"].pages, overview["kino"].matches, overview["kino"].confirmed) == (
        500,
        3,
        1,
    )
