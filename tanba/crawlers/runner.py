"""Run a crawl: every non-paused target at once, in one Scrapy CrawlerProcess.

Contract: :func:`crawl` blocks in the calling thread (it should be the main
thread, so Ctrl-C stops the crawl gracefully) until every target's spider has
finished, calls ``progress`` about once a second with the running
:class:`CrawlStats`, publishes the last batch of events, and returns the
final stats. Events go to ``tanba.media`` through a
:class:`~tanba.crawlers.publish.BatchPublisher`; media bytes to ``blobs``; WARC
files to ``settings.home/captures/<crawl_id>/<target key>.warc.gz``, each stored in
``captures`` (:mod:`tanba.core.captures`: uploaded to object storage when
TANBA_BLOBS is s3://) when its target ends, and any a killed crawl left at the
start and end of the next one; statistics and
reports are keyed by each target's :attr:`~tanba.core.targets.Target.key` (its id). When the
bus cannot take the last events or the crawl report for now (a
:class:`~tanba.core.exceptions.TransientError`, e.g. a full disk), the crawl logs
why and retries with backoff until they are durable (Ctrl-C gives up; the
next crawl finds the same media again); any other failure raises.

Scrapy's logs go to its ``scrapy`` logger at WARNING, without a root handler:
the caller's logging configuration decides where they end up. (Scrapy logs a
few start-up lines at INFO while the CrawlerProcess is built, before the level
can be lowered; a caller that wants none gives its handlers level WARNING.)

Why one process per crawl and no restart: Twisted's reactor cannot be started
twice in one process, so :func:`crawl` can run once per process. Tests (and
anything else needing several crawls) run it in a subprocess, e.g.
``tanba --home DIR crawl TARGETS.yaml --json``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from tanba.core.blobs import BlobStore
from tanba.core.bus import Bus, Record
from tanba.core.captures import Captures, open_captures
from tanba.core.clock import Clock, SystemClock, iso
from tanba.core.exceptions import TanbaError, TransientError
from tanba.core.schemas.base import encode
from tanba.core.schemas.crawls import CrawlFinished
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.core.topics import CRAWLS, MEDIA
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.gate import Pausable
from tanba.crawlers.publish import BatchPublisher
from tanba.crawlers.settings import LOG_LEVEL, process_settings
from tanba.crawlers.stats import CrawlStats, TargetStats

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["CrawlStats", "TargetStats", "crawl", "new_crawl_id", "until_durable"]

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 1.0
FLUSH_INTERVAL_S = 0.5
_MAX_BACKOFF_S = 30.0


def new_crawl_id(clock: Clock) -> str:
    """A crawl id from the clock, ``YYYYmmddTHHMMSSZ`` (sortable, safe in file names)."""
    return clock.now().strftime("%Y%m%dT%H%M%SZ")


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
) -> CrawlStats:
    """Crawl ``targets`` (paused ones are skipped) and return the crawl's statistics."""
    clock = clock or SystemClock()
    started_at = iso(clock.now())
    crawl_id = crawl_id or new_crawl_id(clock)
    active = [t for t in targets if not t.paused]
    stats = CrawlStats(
        crawl_id=crawl_id,
        targets={t.key: TargetStats() for t in active},
        names={t.key: t.name for t in active},
    )
    if not active:
        if progress is not None:
            progress(_snapshot(stats))
        return stats

    # Imported here: importing Scrapy's crawler machinery is slow and touches the reactor.
    from scrapy.crawler import CrawlerProcess

    from tanba.crawlers.spiders.site import SiteSpider

    # Temporary files of blob writes a kill cut short (older than an hour, so never one
    # another process is writing now).
    # (Object storage: multipart uploads a killed crawl left.) Housekeeping: a store
    # that refuses it now must not stop the crawl.
    try:
        swept = blobs.sweep()
    except TanbaError as exc:
        log.warning("could not sweep what interrupted blob writes left: %s", exc)
        swept = 0
    if swept:
        log.info("removed %d temporary blob files left by an interrupted run", swept)
    captures = captures or open_captures(settings)
    # WARC files of a crawl killed before it stored them (object storage only).
    _publish_pending(captures)
    publisher = BatchPublisher(bus, MEDIA, max_records=32, max_delay_s=FLUSH_INTERVAL_S)
    process = CrawlerProcess(process_settings(settings, resolve))
    # Scrapy sets its logger to DEBUG when it configures logging; keep it at WARNING so
    # a caller whose root logger is at DEBUG is not flooded.
    logging.getLogger("scrapy").setLevel(LOG_LEVEL)
    crawlers: list[Crawler] = []
    for target in active:
        crawler = process.create_crawler(SiteSpider.for_target(target, settings))
        crawlers.append(crawler)
        target_crawl = TargetCrawl(
            target=target,
            settings=settings,
            crawl_id=crawl_id,
            blobs=blobs,
            sink=publisher,
            captures_dir=captures.spool,
            captures=captures,
            clock=clock,
            tally=stats.targets[target.key],
            engine=partial(_engine_of, crawler),
        )
        process.crawl(crawler, target_crawl=target_crawl)

    # The reactor is installed by the first create_crawler (Scrapy picks the asyncio one);
    # importing it earlier would install Twisted's default reactor instead.
    from twisted.internet import reactor
    from twisted.internet.interfaces import IReactorCore
    from twisted.internet.task import LoopingCall

    def sync() -> None:
        for c in crawlers:
            sync_stats = getattr(c.spider, "sync_stats", None)
            if sync_stats is not None:
                sync_stats()

    # After a failed publish the ticks back off (doubling up to _MAX_BACKOFF_S), so a bus
    # that is down costs a log line per try, not two a second.
    backoff = {"delay": 0.0, "until": 0.0}

    def flush_tick() -> None:
        if time.monotonic() < backoff["until"]:
            return
        try:
            publisher.tick()
            backoff["delay"] = 0.0
        except Exception as exc:  # kept for the next tick and the final flush
            backoff["delay"] = min(max(2 * backoff["delay"], 1.0), _MAX_BACKOFF_S)
            backoff["until"] = time.monotonic() + backoff["delay"]
            log.warning(
                "%d crawl events kept in memory, next try in %.0f s: %s",
                publisher.pending,
                backoff["delay"],
                exc,
            )

    def progress_tick() -> None:
        sync()
        if progress is not None:
            try:
                progress(_snapshot(stats))
            except Exception:  # a broken progress display must not stop the crawl
                log.exception("progress callback failed")

    loops = [LoopingCall(flush_tick), LoopingCall(progress_tick)]
    # The module is the installed reactor; Twisted types it this way itself (task.LoopingCall).
    core = cast(IReactorCore, reactor)
    core.callWhenRunning(loops[0].start, FLUSH_INTERVAL_S, False)
    core.callWhenRunning(loops[1].start, PROGRESS_INTERVAL_S, False)
    process.start(install_signal_handlers=threading.current_thread() is threading.main_thread())
    for loop in loops:
        if loop.running:
            loop.stop()

    until_durable(publisher.flush, lambda: f"{publisher.pending} crawl events wait in memory")
    _publish_pending(captures)
    sync()
    finished_at = iso(clock.now())
    until_durable(lambda: _report(bus, stats, started_at, finished_at), lambda: "the crawl report")
    if progress is not None:
        progress(_snapshot(stats))
    return stats


def _publish_pending(captures: Captures) -> None:
    """Store every WARC file no live crawl writes that is not stored yet (retried while down)."""
    until_durable(
        lambda: _log_published(captures.publish_pending()),
        lambda: "WARC captures wait on this machine",
    )


def _log_published(count: int) -> None:
    if count:
        log.info("stored %d WARC capture files left unpublished", count)


def _engine_of(crawler: Crawler) -> Pausable | None:
    """The crawler's engine, once Scrapy has made it (the write gate pauses it)."""
    return crawler.engine


def until_durable(write: Callable[[], None], waiting: Callable[[], str]) -> None:
    """Run ``write`` until it succeeds, backing off while it raises TransientError.

    Each failure is logged with ``waiting()`` (what is kept meanwhile); Ctrl-C gives up.
    """
    delay = 1.0
    while True:
        try:
            write()
            return
        except TransientError as exc:
            log.error("%s; %s, retrying in %.0f s", exc, waiting(), delay)
            time.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF_S)


def _report(bus: Bus, stats: CrawlStats, started_at: str, finished_at: str) -> None:
    """Publish the crawl's final counters on ``tanba.crawls`` for operators' statistics."""
    report = CrawlFinished(
        crawl_id=stats.crawl_id,
        started_at=started_at,
        finished_at=finished_at,
        targets=stats.reports(),
    )
    bus.publish(CRAWLS, [Record(stats.crawl_id, encode(report))])


def _snapshot(stats: CrawlStats) -> CrawlStats:
    """A copy, so a progress callback that keeps it does not see it change."""
    return CrawlStats(
        crawl_id=stats.crawl_id,
        targets={k: v.copy() for k, v in stats.targets.items()},
        names=dict(stats.names),
    )
