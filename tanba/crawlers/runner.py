"""Run crawls as jobs: publish one job per target, then crawl until the jobs are done.

Contract: :func:`crawl` (``tanba crawl``, ``tanba run``) publishes one job per
non-paused target to ``tanba.crawl-jobs`` (:func:`publish_jobs`,
:mod:`tanba.core.crawl_jobs`), then works as a crawler
(:class:`~tanba.crawlers.worker.CrawlerWorker`) until the crawler group has committed
every job on the topic, and returns the crawl's statistics: those of the jobs it ran,
completed from ``tanba.crawls`` for jobs other crawlers ran. In the embedded mode it is
the only crawler, so the same code crawls everything in one process, as before jobs
existed. It blocks in the calling thread (the main thread, so Ctrl-C stops the crawl
gracefully) and runs once per process: Twisted's reactor cannot start twice, so tests
run it in a subprocess (``tanba --home DIR crawl TARGETS.yaml --json``).

:func:`until_durable` retries a write while the bus is away; the crawler worker and the
commands use it.
"""

from __future__ import annotations

from collections.abc import Callable

from tanba.core.blobs import BlobStore
from tanba.core.bus import Bus
from tanba.core.captures import Captures
from tanba.core.clock import Clock, SystemClock, iso
from tanba.core.crawl_jobs import job_for, job_record
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawl_jobs import CrawlJobRequested
from tanba.core.schemas.crawls import CrawlFinished
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.core.topics import CRAWL_JOBS, CRAWLS
from tanba.crawlers.stats import CrawlStats, TargetStats
from tanba.crawlers.worker import CrawlerWorker, new_crawl_id, snapshot, until_durable

__all__ = [
    "CrawlStats",
    "CrawlerWorker",
    "TargetStats",
    "crawl",
    "new_crawl_id",
    "publish_jobs",
    "until_durable",
]


def crawl(
    targets: list[Target],
    *,
    settings: Settings,
    bus: Bus,
    blobs: BlobStore,
    captures: Captures | None = None,
    resolve: dict[str, str] | None = None,
    clock: Clock | None = None,
    crawl_id: str | None = None,
    progress: Callable[[CrawlStats], None] | None = None,
    requested_by: str = "cli",
) -> CrawlStats:
    """Publish a job per target (paused ones skipped), crawl until the jobs are done, return the stats.

    Blocks in the calling thread (the main thread, so Ctrl-C stops the crawl
    gracefully); runs once per process (Twisted's reactor cannot start twice), so
    tests run it in a subprocess (``tanba --home DIR crawl TARGETS.yaml --json``).
    """
    clock = clock or SystemClock()
    crawl_id = crawl_id or new_crawl_id(clock)
    active = [t for t in targets if not t.paused]
    if not active:
        stats = CrawlStats(crawl_id=crawl_id)
        if progress is not None:
            progress(snapshot(stats))
        return stats
    publish_jobs(active, bus, crawl_id, resolve or {}, clock, requested_by)
    worker = CrawlerWorker(
        settings,
        bus,
        blobs,
        captures=captures,
        clock=clock,
        progress=progress,
        watch=crawl_id,
        expect=active,
    )
    worker.run(until_idle=True)
    stats = worker.stats_of(crawl_id)
    missing = [t.key for t in active if t.key not in stats.targets]
    if missing and not worker.stopped_early:
        _complete_from_reports(bus, stats, set(missing))
    if progress is not None:
        progress(snapshot(stats))
    return stats


def publish_jobs(
    targets: list[Target],
    bus: Bus,
    crawl_id: str,
    resolve: dict[str, str],
    clock: Clock,
    requested_by: str,
) -> list[CrawlJobRequested]:
    """Publish one job per target of ``targets`` (retried while the bus is away); the jobs."""
    at = iso(clock.now())
    jobs = [
        job_for(t, crawl_id, resolve, requested_at=at, requested_by=requested_by) for t in targets
    ]
    until_durable(
        lambda: bus.publish(CRAWL_JOBS, [job_record(j) for j in jobs]),
        lambda: f"the {len(jobs)} crawl jobs of crawl {crawl_id}",
    )
    return jobs


def _complete_from_reports(bus: Bus, stats: CrawlStats, missing: set[str]) -> None:
    """Add the reports other crawlers published for ``missing`` targets of ``stats``'s crawl."""
    for message in bus.replay(CRAWLS):
        report = decode(message.value, CrawlFinished)
        if report.crawl_id != stats.crawl_id:
            continue
        for key, counters in report.targets.items():
            if key in missing:
                tally = TargetStats()
                for name, value in counters.counters().items():
                    setattr(tally, name, value)
                tally.page_urls = list(counters.page_urls)
                tally.failures = dict(counters.failures)
                tally.failed = list(counters.failed)
                stats.targets[key] = tally
                stats.names[key] = counters.name or key
