"""A crawler process: takes crawl jobs from the bus and runs them with Scrapy.

Contract (:func:`tanba.crawlers.runner.crawl` runs one in ``tanba crawl`` and ``tanba run``):

* :class:`CrawlerWorker` (``tanba worker crawler``) is one member of the consumer group
  ``tanba-crawler``. It holds the jobs of its partitions (:class:`~tanba.crawlers.jobs.JobBoard`),
  runs up to ``TANBA_CRAWLER_JOBS`` at once in one Scrapy ``CrawlerProcess`` (never two
  of one site), and for each job, once the spider has closed: publishes the media
  still buffered, then the job's report (``CrawlFinished`` with its one target), and
  only then lets the consumer thread commit its offset. One JSON log line per job
  (``"event": "crawl_job"``). SIGTERM (or SIGINT) stops the running jobs (what they
  found is published; they stay uncommitted and run again elsewhere or next time),
  leaves the group and returns.
* Events go to ``tanba.media`` through a :class:`~tanba.crawlers.publish.BatchPublisher`;
  media bytes to ``blobs``; WARC files to ``<captures spool>/<crawl_id>/<target key>.warc.gz``
  (a re-run job appends to the file its interrupted run left, repaired), each stored in
  ``captures`` (:mod:`tanba.core.captures`: uploaded to object storage when TANBA_BLOBS
  is s3://) when its job ends, and any a killed crawler left at the start and end of the
  next run. With object storage each run of a job writes a file of its own
  (``<target key>.<attempt>.warc.gz``), so a job re-run on another machine never
  replaces the file its killed run left, which that machine uploads when it restarts. When the bus
  cannot take events for now (a :class:`~tanba.core.exceptions.TransientError`, e.g. a
  full disk), they are kept and retried with backoff; nothing is committed meanwhile.

Politeness across processes: jobs are keyed by site, so all of a site's jobs are on one
partition, and a partition belongs to one member of the group at a time; within the
process a site runs one job at a time, so Scrapy's per-domain concurrency and delay
hold for the site across every crawler. A partition moves only to a member after its
owner has given it up: the group uses Kafka's cooperative protocol, and the owner stops
the partition's running jobs in its revocation callback before the move (a killed owner
sends nothing more; its partitions move after the 10 s session timeout).

What was taken from Scrapy Cluster and Frontera (studied before this design):

* Both key the work by host or registered domain, which is what makes politeness
  enforceable; Scrapy Cluster throttles per registered domain, as this does.
* Scrapy Cluster shares per-domain request queues in Redis and coordinates every
  request's throttle there: any spider can take any domain's next URL, at the price of a
  central store on every request, and a spider killed holding popped requests loses
  them (only its retry middleware puts failures back). Here the unit handed out is the
  whole crawl of a site, its frontier stays inside one spider, and nothing is taken off
  the log before it is done: the offset is committed after the media and the report.
* Frontera partitions its spider feed by host in Kafka too, but each spider owns a
  partition fixed in its settings (``SPIDER_PARTITION_ID``): a spider down leaves its
  partition unread (its issue #291, half the spiders idle) and the partition count must
  match the spiders by hand. A consumer group moves a dead crawler's partitions to the
  others instead, and crawlers join or leave without configuration. Frontera's ZeroMQ bus
  dropped messages under load (its issues #24, #109); Kafka's log does not.
* Kept from both: one Scrapy process crawls many sites at once; the partition is only
  the unit of ownership (16 partitions, so up to 16 crawlers share the work), not of
  concurrency.

Why one module of about 580 lines: the consumer thread (poll, commit, revocations) and
the reactor thread (spiders, publishing, reports) share the job board, the running jobs
and one shutdown; split apart, each half would reach into the other's state.

Why a long-lived reactor: Twisted's reactor runs once per process, so a crawler process
keeps one running in the main thread and starts each job's spider on it; the group's
consumer (not thread-safe, and its rebalance callback must wait for spiders to stop)
polls and commits in a thread of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from tanba.core import metrics, topics
from tanba.core.blobs import BlobStore
from tanba.core.bus import Bus, Consumer, Message, Record
from tanba.core.captures import Captures, FileCaptures, open_captures
from tanba.core.clock import Clock, SystemClock, iso
from tanba.core.crawl_jobs import job_target
from tanba.core.exceptions import EventDecodeError, TanbaError, TargetsError, TransientError
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.crawl_jobs import CrawlJobRequested
from tanba.core.schemas.crawls import CrawlFinished
from tanba.core.settings import EMBEDDED, Settings
from tanba.core.targets import Target
from tanba.core.topics import CRAWL_JOBS, CRAWLS, GROUP_CRAWLER, MEDIA
from tanba.core.worker import dead_letter
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.gate import Pausable
from tanba.crawlers.jobs import Held, JobBoard
from tanba.crawlers.publish import BatchPublisher
from tanba.crawlers.resolve import RESOLVE_SETTING, MappedResolver
from tanba.crawlers.settings import LOG_LEVEL, process_settings
from tanba.crawlers.stats import CrawlStats, TargetStats

if TYPE_CHECKING:
    from scrapy.crawler import Crawler, CrawlerProcess

__all__ = ["CrawlerWorker", "WorkerSummary", "new_crawl_id", "snapshot", "until_durable"]

log = logging.getLogger(__name__)
# The crawler's name in dead letters and in the workers' metrics (tanba_consumer_lag{stage}).
STAGE = "crawler"
PROGRESS_INTERVAL_S = 1.0
FLUSH_INTERVAL_S = 0.5
_MAX_BACKOFF_S = 30.0
#: How long a poll waits for jobs, and how often the broker is asked for more while jobs
#: already wait for a slot (a freed slot is filled when the job's end wakes the thread).
_POLL_TIMEOUT_S = 0.5
#: The poll's wait while jobs wait for a slot: short, the slot comes first (never 0: the
#: polls also carry the group's rebalances, as they did at this wait every 0.05 s before).
_BUSY_POLL_TIMEOUT_S = 0.05
#: Threads for blob uploads to object storage (the S3 client's connection pool holds 32).
UPLOAD_THREADS = 32
#: Jobs a crawler holds beyond those running before it stops fetching more (a job is ~1 KB).
_MAX_PENDING = 1000
#: How long a revocation waits for the moving partitions' spiders to close. Past it the
#: partition moves anyway (the group would otherwise expel this member).
_REVOKE_WAIT_S = 8.0
#: How often an idle ``--until-idle`` crawler asks the broker whether the group is done.
_IDLE_CHECK_S = 1.0


def new_crawl_id(clock: Clock) -> str:
    """A crawl id from the clock, ``YYYYmmddTHHMMSSZ`` (sortable, safe in file names)."""
    return clock.now().strftime("%Y%m%dT%H%M%SZ")


@dataclass
class _Running:
    """A job on the reactor: its crawler, its counters, when it started."""

    held: Held
    crawler: Crawler
    stats: TargetStats
    started_at: str
    started: float


@dataclass
class WorkerSummary:
    """What a crawler did, for its last line."""

    done: int = 0
    interrupted: int = 0
    dead_lettered: int = 0
    sites: set[str] = field(default_factory=set)


class CrawlerWorker:
    """One crawler of the group (see the module doc); :meth:`run` blocks in the main thread."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        blobs: BlobStore,
        *,
        captures: Captures | None = None,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[CrawlStats], None] | None = None,
        watch: str = "",
        expect: list[Target] | None = None,
    ) -> None:
        """``watch``/``expect``: the crawl whose running stats ``progress`` gets, and its targets."""
        self.settings = settings
        self.bus = bus
        self.blobs = blobs
        self.captures = captures or open_captures(settings)
        self.clock = clock or SystemClock()
        self.stop = stop or threading.Event()
        self.progress = progress
        self.watch = watch
        self.board = JobBoard(max_running=max(1, settings.crawler_jobs))
        self.summary = WorkerSummary()
        self.stopped_early = False  # stopped by a signal, not by running out of jobs
        self._crawls: dict[str, CrawlStats] = {}
        if watch:
            self._crawls[watch] = CrawlStats(
                crawl_id=watch, names={t.key: t.name for t in expect or []}
            )
        self._running: dict[int, _Running] = {}  # by id(held)
        self._lock = threading.Lock()  # guards _crawls and _running
        self._publisher = BatchPublisher(bus, MEDIA, max_records=32, max_delay_s=FLUSH_INTERVAL_S)
        self._process: CrawlerProcess | None = None
        self._ended = threading.Condition()  # notified when a job ends (revocations wait on it)
        self._shutting_down = False

    # --- the crawl statistics ---------------------------------------------------------------

    def stats_of(self, crawl_id: str) -> CrawlStats:
        """A copy of the statistics of the jobs of ``crawl_id`` run here (running ones included)."""
        self._sync()
        with self._lock:
            return snapshot(self._crawls.get(crawl_id) or CrawlStats(crawl_id=crawl_id))

    def _sync(self) -> None:
        with self._lock:
            running = list(self._running.values())
        for r in running:
            sync_stats = getattr(r.crawler.spider, "sync_stats", None)
            if sync_stats is not None:
                sync_stats()

    # --- the process ---------------------------------------------------------------------------

    def run(self, until_idle: bool = False) -> WorkerSummary:
        """Crawl jobs until stopped (SIGTERM, SIGINT, ``stop``), or until the group has none left."""
        from scrapy.crawler import CrawlerProcess

        with self._exclusive():
            # Housekeeping (temporary blob files, multipart uploads a kill left): a store
            # that refuses it now must not stop the crawler.
            try:
                swept = self.blobs.sweep()
            except TanbaError as exc:
                log.warning("could not sweep what interrupted blob writes left: %s", exc)
                swept = 0
            if swept:
                log.info("removed %d temporary blob files left by an interrupted run", swept)
            # WARC files of a crawler killed before it stored them (object storage only).
            _publish_pending(self.captures)
            self._process = CrawlerProcess(process_settings(self.settings, {}))
            # Install the reactor Scrapy asks for (asyncio) before anything imports one:
            # importing twisted.internet.reactor first would install Twisted's default.
            from scrapy.utils.reactor import install_reactor, is_reactor_installed

            if not is_reactor_installed():
                install_reactor(self._process.settings["TWISTED_REACTOR"])
            if self.blobs.remote:
                _upload_threads()
            # Scrapy sets its logger to DEBUG when it configures logging; keep it at WARNING.
            logging.getLogger("scrapy").setLevel(LOG_LEVEL)
            from twisted.internet import reactor
            from twisted.internet.interfaces import IReactorCore
            from twisted.internet.task import LoopingCall

            core = cast(IReactorCore, reactor)
            main = threading.current_thread() is threading.main_thread()
            if main:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, self._on_signal)
            consumer_thread = threading.Thread(
                target=self._consume, args=(until_idle,), name="tanba-crawler-jobs", daemon=True
            )
            loops = [LoopingCall(self._flush_tick), LoopingCall(self._progress_tick)]
            core.callWhenRunning(loops[0].start, FLUSH_INTERVAL_S, False)
            core.callWhenRunning(loops[1].start, PROGRESS_INTERVAL_S, False)
            core.callWhenRunning(consumer_thread.start)
            self._process.start(stop_after_crawl=False, install_signal_handlers=False)
            for loop in loops:
                if loop.running:
                    loop.stop()
            self.stop.set()
            if consumer_thread.is_alive():
                consumer_thread.join()
            until_durable(
                self._publisher.flush,
                lambda: f"{self._publisher.pending} crawl events wait in memory",
            )
            _publish_pending(self.captures)
            self._progress_tick()
        return self.summary

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """On the embedded bus, one crawler per home at a time (it has one partition and no
        group assignment: two members would both run every job). A second waits its turn;
        meanwhile the first also runs the second's jobs, which it sees on the topic."""
        if self.settings.bus != EMBEDDED:
            yield
            return
        path = self.settings.path("crawler.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("another crawler runs in %s; waiting for it to finish", path.parent)
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        self.stopped_early = True
        self.stop.set()
        cast(Any, reactor).callFromThread(self._shutdown)

    def _shutdown(self) -> None:
        """(Reactor) Stop every running job, then the reactor."""
        from twisted.internet import reactor

        if self._shutting_down or self._process is None:
            return
        self._shutting_down = True
        with self._lock:
            for r in self._running.values():
                r.held.stopping = True
        process = self._process
        process.stop().addBoth(lambda _: process.join()).addBoth(
            lambda _: cast(Any, reactor).stop()
        )

    # --- the consumer thread ---------------------------------------------------------------------

    def _consume(self, until_idle: bool) -> None:
        consumer = self.bus.consumer(GROUP_CRAWLER, [CRAWL_JOBS], on_revoked=self._on_revoked)
        metrics.stage_started(STAGE)
        for outcome in metrics.JOB_OUTCOMES:
            metrics.CRAWL_JOBS.labels(outcome)
        report_lag = metrics.LagReporter(STAGE)
        last_idle_check = 0.0
        last_poll = -math.inf
        try:
            while not self.stop.is_set():
                self._commit(consumer)
                report_lag(consumer)
                ends = self.board.ends()  # a job ending after this wakes the wait below
                for held in self.board.start_next():
                    self._call_in_reactor(self._start, held)
                counts = self.board.counts()
                consumer.pause(counts["pending"] >= _MAX_PENDING)
                action, seconds = next_step(counts, time.monotonic() - last_poll)
                if action == "wait":
                    self.board.wait_for_end(ends, seconds)
                    continue
                last_poll = time.monotonic()
                batch = consumer.poll(self.settings.batch_size, seconds)
                for message in batch:
                    self._hold(message)
                if not until_idle or batch or counts["pending"] or counts["running"]:
                    continue
                if counts["interrupted"] or time.monotonic() - last_idle_check < _IDLE_CHECK_S:
                    continue
                last_idle_check = time.monotonic()
                if self._caught_up():
                    break
        finally:
            self._finish_consuming(consumer)

    def _finish_consuming(self, consumer: Consumer) -> None:
        """Stop the jobs, commit what is done, leave the group, stop the reactor."""
        self.stop.set()
        self._call_in_reactor(self._shutdown)
        with self._ended:
            self._ended.wait_for(lambda: not self._running_jobs(), timeout=60)
        try:
            self._commit(consumer)
        except TransientError as exc:  # the next owner redoes those jobs
            log.warning("crawler: the last commit failed: %s", exc)
        consumer.close()

    def _running_jobs(self) -> bool:
        with self._lock:
            return bool(self._running)

    def _caught_up(self) -> bool:
        try:
            lag = self.bus.group_lag(GROUP_CRAWLER, [CRAWL_JOBS])
        except TransientError as exc:
            log.warning("crawler: cannot tell whether every job is done (%s); polling on", exc)
            return False
        return lag == 0

    def _hold(self, message: Message) -> None:
        """Decode a polled job; one that cannot be crawled goes to the dead letters, done."""
        try:
            job = decode(message.value, CrawlJobRequested)
            job_target(job)  # a spec that breaks a rule fails here, not in the reactor
        except (EventDecodeError, TargetsError) as exc:
            self._dead_letter(message, f"{type(exc).__name__}: {exc}")
            self.board.add(Held(message, None))
            return
        self.board.add(Held(message, job))

    def _dead_letter(self, message: Message, error: str) -> None:
        letter = dead_letter(STAGE, message, error, 1, iso(self.clock.now()))
        log.error("crawler: job %s cannot be run: %s", _pos(message), error)
        until_durable(
            lambda: self.bus.publish(topics.DEAD_LETTER, [Record(message.topic, encode(letter))]),
            lambda: "a dead letter",
        )
        self.summary.dead_lettered += 1
        metrics.CRAWL_JOBS.labels("dead_lettered").inc()

    def _commit(self, consumer: Consumer) -> None:
        done = self.board.committable()
        if done:
            until_durable(partial(consumer.commit, done), lambda: "the commit of finished jobs")

    def _on_revoked(self, partitions: list[tuple[str, int]]) -> None:
        """(Consumer thread, inside poll) Partitions leave: stop their jobs before they move."""
        running = self.board.revoke(set(partitions))
        log.info(
            "crawler: partitions %s leave this crawler; stopping %d jobs", partitions, len(running)
        )
        for held in running:
            held.stopping = True
            self._call_in_reactor(self._stop_job, held)
        deadline = time.monotonic() + _REVOKE_WAIT_S
        with self._ended:
            self._ended.wait_for(
                lambda: all(h.state != "running" for h in running),
                timeout=max(0.0, deadline - time.monotonic()),
            )

    def _call_in_reactor(self, fn: Callable[..., object], *args: object) -> None:
        from twisted.internet import reactor

        cast(Any, reactor).callFromThread(fn, *args)

    # --- the reactor thread: jobs ------------------------------------------------------------------

    def _start(self, held: Held) -> None:
        """(Reactor) Start one job's spider."""
        from tanba.crawlers.spiders.site import SiteSpider

        job = held.job
        assert job is not None and self._process is not None
        if self._shutting_down or held.stopping:
            self._ended_job(held, None, interrupted=True)
            return
        target = job_target(job)
        _extend_resolver(job.resolve)
        spidercls = SiteSpider.for_target(target, self.settings)
        spidercls.custom_settings = {
            **(spidercls.custom_settings or {}),
            RESOLVE_SETTING: job.resolve,
        }
        crawler = self._process.create_crawler(spidercls)
        tally = TargetStats()
        with self._lock:
            stats = self._crawls.setdefault(job.crawl_id, CrawlStats(crawl_id=job.crawl_id))
            stats.targets[target.key] = tally
            stats.names[target.key] = target.name
            running = _Running(held, crawler, tally, iso(self.clock.now()), time.monotonic())
            self._running[id(held)] = running
            metrics.CRAWL_JOBS_RUNNING.set(len(self._running))
        target_crawl = TargetCrawl(
            target=target,
            settings=self.settings,
            crawl_id=job.crawl_id,
            blobs=self.blobs,
            sink=self._publisher,
            captures_dir=self.captures.spool,
            captures=self.captures,
            clock=self.clock,
            tally=tally,
            engine=partial(_engine_of, crawler),
            # In object storage each run of a job writes a WARC file of its own (a shared
            # file system is the store itself: a re-run appends to the one file).
            attempt="" if isinstance(self.captures, FileCaptures) else secrets.token_hex(4),
        )
        d = self._process.crawl(crawler, target_crawl=target_crawl)
        d.addErrback(
            lambda failure: log.error("crawl job %s failed: %s", job.job_id, failure.value)
        )
        d.addBoth(lambda _: self._ended_job(held, running, interrupted=held.stopping))

    def _stop_job(self, held: Held) -> None:
        """(Reactor) Stop a running job's spider (its partition is moving)."""
        with self._lock:
            running = self._running.get(id(held))
        if running is not None:
            running.crawler.stop()

    def _ended_job(self, held: Held, running: _Running | None, *, interrupted: bool) -> None:
        """(Reactor) A job's spider closed: make its media and report durable, then release it."""
        if running is not None:
            sync_stats = getattr(running.crawler.spider, "sync_stats", None)
            if sync_stats is not None:
                sync_stats()
        if interrupted or running is None:
            self._release(held, running, done=False)
            return
        self._make_durable(held, running, delay=1.0)

    def _make_durable(self, held: Held, running: _Running, delay: float) -> None:
        """(Reactor) Publish the buffered media, then the report; retried while the bus is away."""
        from twisted.internet import reactor

        job = held.job
        assert job is not None
        try:
            self._publisher.flush()
            target = job_target(job)
            report = CrawlFinished(
                crawl_id=job.crawl_id,
                started_at=running.started_at,
                finished_at=iso(self.clock.now()),
                targets={target.key: running.stats.report(target.name)},
            )
            self.bus.publish(CRAWLS, [Record(job.crawl_id, encode(report))])
        except TransientError as exc:
            if self._shutting_down:  # not done: whoever runs the job next redoes it
                self._release(held, running, done=False)
                return
            log.error("%s; job %s waits, retrying in %.0f s", exc, job.job_id, delay)
            cast(Any, reactor).callLater(
                delay, self._make_durable, held, running, min(delay * 2, _MAX_BACKOFF_S)
            )
            return
        self._release(held, running, done=True)

    def _release(self, held: Held, running: _Running | None, *, done: bool) -> None:
        self.board.finish(held, done)
        with self._lock:
            self._running.pop(id(held), None)
            metrics.CRAWL_JOBS_RUNNING.set(len(self._running))
        job = held.job
        assert job is not None
        if done:
            self.summary.done += 1
            self.summary.sites.add(job.site)
        else:
            self.summary.interrupted += 1
        stats = running.stats if running is not None else TargetStats()
        seconds = time.monotonic() - running.started if running is not None else 0.0
        metrics.crawl_job_ended(
            "done" if done else "interrupted",
            pages=stats.pages,
            media=stats.media_published,
            failures=stats.failures,
            seconds=seconds,
        )
        log.info(
            json.dumps(
                {
                    "event": "crawl_job",
                    "job": job.job_id,
                    "site": job.site,
                    "target": job.target_id or job.name,
                    "outcome": "done" if done else "interrupted",
                    "pages": stats.pages,
                    "media": stats.media_published,
                    "failures": stats.failure_count(),
                    "at": _pos(held.message),
                    "ms": round(seconds * 1000),
                },
                sort_keys=True,
            )
        )
        with self._ended:
            self._ended.notify_all()

    # --- the reactor thread: ticks -----------------------------------------------------------------

    _backoff_delay = 0.0
    _backoff_until = 0.0

    def _flush_tick(self) -> None:
        # After a failed publish the ticks back off (doubling up to _MAX_BACKOFF_S), so a bus
        # that is down costs a log line per try, not two a second.
        if time.monotonic() < self._backoff_until:
            return
        try:
            self._publisher.tick()
            self._backoff_delay = 0.0
        except Exception as exc:  # kept for the next tick and the job's end
            self._backoff_delay = min(max(2 * self._backoff_delay, 1.0), _MAX_BACKOFF_S)
            self._backoff_until = time.monotonic() + self._backoff_delay
            log.warning(
                "%d crawl events kept in memory, next try in %.0f s: %s",
                self._publisher.pending,
                self._backoff_delay,
                exc,
            )

    def _progress_tick(self) -> None:
        if self.progress is None or not self.watch:
            return
        try:
            self.progress(self.stats_of(self.watch))
        except Exception:  # a broken progress display must not stop the crawl
            log.exception("progress callback failed")


def _upload_threads() -> None:
    """Blob uploads run in the event loop's default executor (``asyncio.to_thread``), whose
    ``min(32, cores + 4)`` threads (6 on 2 cores) queued the pictures of 8 sites fetched 4 at
    a time behind each other's network round trips; give it as many as the S3 client's
    connection pool (``max_pool_connections``)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="tanba-put"))


def next_step(counts: dict[str, int], since_poll_s: float) -> tuple[str, float]:
    """What the consumer thread does next, given the board's counts and the time since it
    last asked the broker for jobs: ``("poll", timeout)`` asks (waiting at most
    ``timeout`` for a job), ``("wait", seconds)`` waits at most that long for a running
    job to end (the end wakes the thread, which starts the next job at once).

    While jobs wait (pending) for a slot or for their site's running job, a slot is
    freed only by a job's end, and more jobs can wait: the broker is asked at most every
    ``_POLL_TIMEOUT_S``, waiting briefly. It used to be asked every 0.05 s meanwhile so
    that a freed slot was filled within that (a job's end was seen at the loop's next
    turn): 26 ms of CPU a second in an idle consumer's polls, for the whole crawl.
    """
    if not counts.get("pending", 0):
        return ("poll", _POLL_TIMEOUT_S)
    if since_poll_s < _POLL_TIMEOUT_S:
        return ("wait", _POLL_TIMEOUT_S - since_poll_s)
    return ("poll", _BUSY_POLL_TIMEOUT_S)


def _engine_of(crawler: Crawler) -> Pausable | None:
    """The crawler's engine, once Scrapy has made it (the write gate pauses it)."""
    return crawler.engine


def _extend_resolver(mapping: dict[str, str]) -> None:
    """Add a job's ``--resolve`` entries to the process's resolver (installed once per process)."""
    from twisted.internet import reactor

    resolver = getattr(reactor, "resolver", None)
    if isinstance(resolver, MappedResolver):
        resolver.mapping.update({k.lower(): v for k, v in mapping.items()})


def _publish_pending(captures: Captures) -> None:
    """Store every WARC file no live crawl writes that is not stored yet (retried while down)."""
    until_durable(
        lambda: _log_published(captures.publish_pending()),
        lambda: "WARC captures wait on this machine",
    )


def _log_published(count: int) -> None:
    if count:
        log.info("stored %d WARC capture files left unpublished", count)


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


def snapshot(stats: CrawlStats) -> CrawlStats:
    """A copy, so a progress callback that keeps it does not see it change."""
    return CrawlStats(
        crawl_id=stats.crawl_id,
        targets={k: v.copy() for k, v in stats.targets.items()},
        names=dict(stats.names),
    )


def _pos(m: Message) -> str:
    return f"{m.topic}/{m.partition}@{m.offset}"
