"""The console's 'jobs' launcher: a run is a crawl job on the bus, finished by its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.console.crawls import JobLauncher, RunLog, Scheduler
from tanba.console.exceptions import Conflict
from tanba.console.targets import ConsoleTargets
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.crawl_reports import CrawlReports
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.crawl_jobs import CrawlJobRequested
from tanba.core.schemas.crawls import CrawlFinished, TargetReport
from tanba.core.sqlite import Database
from tanba.core.target_registry import TargetRegistry
from tanba.core.targets import Target
from tanba.core.topics import CRAWL_JOBS, CRAWLS


def test_a_started_crawl_is_a_job_keyed_by_site_and_ends_with_its_report(tmp_path: Path) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    clock = FixedClock("2026-06-01T10:00:00Z")
    registry = TargetRegistry(bus, clock)
    record = registry.add(
        Target(name="kino", seeds=("http://www.kino.example.kz/",), schedule_hours=1),
        "op",
        ["www.kino.example.kz:80:127.0.0.1"],
    )
    runs = RunLog(Database(tmp_path / "console.sqlite3", ""))
    launcher = JobLauncher(bus, runs, CrawlReports(bus), clock)

    run = launcher.start(record, "op")
    [message] = list(bus.replay(CRAWL_JOBS))
    job = decode(message.value, CrawlJobRequested)
    assert message.key == job.site == "example.kz"
    assert job.job_id == f"20260601T100000Z/{record.id}"
    assert job.resolve == {"www.kino.example.kz": "127.0.0.1"}
    assert job.requested_by == "op" and run.running and run.pid == 0
    with pytest.raises(Conflict):  # its job is not done yet
        launcher.start(record, "op")
    scheduler = Scheduler(ConsoleTargets(registry, allow_private=True), runs, launcher, clock)
    clock.advance(7200)
    assert scheduler.due() == []  # the last run is still running

    report = CrawlFinished(
        crawl_id="20260601T100000Z",
        started_at="2026-06-01T10:00:01Z",
        finished_at="2026-06-01T10:05:00Z",
        targets={record.id: TargetReport(name="kino", pages=3)},
    )
    bus.publish(CRAWLS, [Record(report.crawl_id, encode(report))])
    assert [r.id for r in scheduler.due()] == [record.id]  # finished, and an hour has passed
    finished = runs.get(run.id)
    assert finished is not None and finished.finished_at == "2026-06-01T10:05:00Z"
    bus.close()
