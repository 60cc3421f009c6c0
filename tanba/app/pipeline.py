"""``tanba run``: crawl, fingerprint and match in one process on one machine.

The crawl runs in the main thread (Scrapy's reactor wants it); the fingerprint
and matcher stages run as workers in threads beside it, on the same bus and the
same code as when each stage is its own process. When the crawl ends, each
stage drains what its upstream left and stops, then a summary is printed.
Anything left on the bus by a killed run is picked up first, since workers
resume from their committed offsets.

When a stage is drained (:func:`start_stages`): its upstream has finished (the
crawl for the fingerprint stage, the fingerprint worker for the matcher) and its
consumer group has no lag on its input topics, i.e. committed offsets equal end
offsets on every partition (see :meth:`tanba.core.worker.Worker.run`). An empty poll
alone is not enough: on Kafka it also happens during a rebalance or while a
fetch is in flight, and the run would end with messages never processed.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TextIO

from tanba.app.output import failure_lines
from tanba.core import topics
from tanba.core.clock import Every, iso
from tanba.core.exceptions import SettingsError, TransientError
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawls import CrawlFinished
from tanba.core.settings import Settings
from tanba.core.shards import Shard
from tanba.core.store import AlertQuery
from tanba.core.targets import Target
from tanba.core.wiring import App
from tanba.core.worker import Worker
from tanba.crawlers.runner import CrawlStats, crawl
from tanba.fingerprint.worker import FingerprintStage
from tanba.matcher.lifecycle import Reconciled, reconcile
from tanba.matcher.segments import Tuning
from tanba.matcher.state import MatcherState, StateBusy
from tanba.matcher.worker import MatcherStage

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one ``tanba run`` did."""

    crawl: CrawlStats | None = None
    fingerprinted: int = 0
    quarantined: int = 0
    alerts: int = 0
    suppressed: int = 0
    alerts_by_jurisdiction: dict[str, int] = field(default_factory=dict)
    started_at: str = ""
    reconciled: Reconciled | None = None

    def lines(self) -> list[str]:
        """The summary ``tanba run`` prints, one line per item."""
        out: list[str] = []
        if self.crawl is not None:
            t = self.crawl.total()
            out += [
                f"crawl {self.crawl.crawl_id}",
                f"  pages {t.pages}, media {t.media_published}"
                f" (refused by robots.txt {t.robots_disallowed}, HTTP errors {t.http_errors},"
                f" too large {t.too_large}, blocked private addresses {t.blocked_private})",
                f"  traps avoided {t.traps}, throttled (429/503 Retry-After) {t.throttled},"
                f" paused (disk full) {t.paused}",
                *failure_lines(self.crawl),
            ]
        matches = self.alerts + self.suppressed
        counts = ", ".join(f"{k} {v}" for k, v in self.alerts_by_jurisdiction.items())
        out += [
            f"  fingerprinted {self.fingerprinted}, quarantined {self.quarantined}",
            f"  matches {matches}: alerts {self.alerts}, suppressed {self.suppressed}",
            f"  alerts per jurisdiction: {counts or 'none'}",
        ]
        r = self.reconciled
        if r is not None and r.missed + r.persists:
            out.append(
                f"  after notices: {r.persists} persist, {r.missed} not found, {r.removed} removed"
            )
        return out


def fingerprint_stage(app: App) -> FingerprintStage:
    return FingerprintStage(app.settings, app.bus, app.blobs, app.clock)


def crawl_targets(
    app: App,
    targets: list[Target],
    resolve: dict[str, str],
    *,
    crawl_id: str | None = None,
    progress: Callable[[CrawlStats], None] | None = None,
) -> CrawlStats:
    """Crawl ``targets`` with ``app``'s settings, bus, blobs and clock (``tanba crawl``, ``run``)."""
    return crawl(
        targets,
        settings=app.settings,
        bus=app.bus,
        blobs=app.blobs,
        captures=app.captures,
        resolve=resolve,
        clock=app.clock,
        crawl_id=crawl_id,
        progress=progress,
    )


def matcher_stage(app: App, shard: Shard | None = None) -> MatcherStage:
    """The matcher over ``app``; ``shard`` (default: the setting) limits the works it holds.

    It keeps its state (catalogue, works, replay positions) in ``TANBA_MATCHER_STATE``
    or under the home; if another process holds that directory, this one runs from
    memory and says so (two ``tanba run`` in one home at once).
    """
    settings = app.settings
    shard = shard or Shard.parse(settings.matcher_shard)
    state = None
    if settings.matcher_state != "off":
        directory = (
            Path(settings.matcher_state)
            if settings.matcher_state
            else settings.home / "matcher" / f"shard-{shard.index}-of-{shard.count}"
        )
        try:
            state = MatcherState(directory, Tuning(probe_bits=settings.image_probe_bits))
        except (StateBusy, TransientError, OSError) as exc:  # in use, or a full disk
            log.warning("matcher state unavailable, working from memory: %s", exc)
    return MatcherStage(
        settings,
        app.bus,
        app.store,
        app.clock,
        app.jurisdictions,
        app.ip_lookup,
        shard=shard,
        state=state,
        blobs=app.blobs,
    )


def one_matcher(settings: Settings) -> None:
    """Refuse a sharded setting where one process matches: a shard would only answer, for
    a gather stage that process does not run (``tanba run``)."""
    if Shard.parse(settings.matcher_shard).count > 1:
        raise SettingsError(
            f"tanba run matches in one process against every work, but TANBA_MATCHER_SHARD is "
            f"{settings.matcher_shard}: unset it, or run 'tanba worker matcher --shard I/N' "
            "for each shard beside 'tanba worker gather'"
        )


def run(
    app: App,
    targets: list[Target],
    resolve: dict[str, str],
    *,
    out: TextIO = sys.stderr,
    stop: threading.Event | None = None,
) -> RunSummary:
    """Crawl ``targets`` and process everything to alerts; returns when the queues are drained."""
    one_matcher(app.settings)
    stop = stop or threading.Event()
    summary = RunSummary(started_at=iso(app.clock.now()))
    crawl_done = threading.Event()
    fp_stage, match_stage = fingerprint_stage(app), matcher_stage(app)
    fingerprinter = Worker(fp_stage, app.bus, app.settings, stop=stop, clock=app.clock)
    matcher = Worker(match_stage, app.bus, app.settings, stop=stop, clock=app.clock)
    threads = start_stages([fingerprinter, matcher], crawl_done.is_set)

    interactive = out.isatty()
    lines = Every(10)

    def progress(stats: CrawlStats) -> None:
        # A terminal gets one line rewritten in place; a log file gets a line every 10 s.
        if not (interactive or lines.turn()):
            return
        total = stats.total()
        line = (
            f"crawl: {total.pages} pages, {total.media_published} media"
            f" | fingerprinted {fingerprinter.stats.messages} | matched {matcher.stats.messages}"
            f" | matches {matcher.stats.effects}"
        )
        out.write(f"\r{line}   " if interactive else f"{line}\n")
        out.flush()

    try:
        summary.crawl = crawl_targets(app, targets, resolve, progress=progress)
    finally:
        crawl_done.set()
        _wait(threads, stop, lambda: progress(summary.crawl) if summary.crawl else None)
        if interactive:
            out.write("\n")
    if summary.crawl is not None and not stop.is_set():
        report = crawl_report(app, summary.crawl.crawl_id)
        if report is not None:
            summary.reconciled = reconcile(app.store, report, app.clock)
    summary.fingerprinted, summary.quarantined = fp_stage.fingerprinted, fp_stage.quarantined
    summary.alerts, summary.suppressed = match_stage.alerts, match_stage.suppressed
    summary.alerts_by_jurisdiction = app.store.count_by(
        "jurisdiction", AlertQuery(since=summary.started_at)
    )
    return summary


def crawl_report(app: App, crawl_id: str = "") -> CrawlFinished | None:
    """The report of crawl ``crawl_id`` (the latest crawl when empty) from ``tanba.crawls``.

    A crawl is reported job by job (one message per target, a re-run job's replacing its
    earlier one), so its reports are merged into one, each target's latest.
    """
    reports: list[CrawlFinished] = []
    for message in app.bus.replay(topics.CRAWLS):
        report = decode(message.value, CrawlFinished)
        if not crawl_id and (not reports or reports[-1].crawl_id != report.crawl_id):
            reports = []
        if not crawl_id or report.crawl_id == crawl_id:
            reports.append(report)
    if not reports:
        return None
    targets = {key: t for r in reports for key, t in r.targets.items()}
    return CrawlFinished(
        crawl_id=reports[0].crawl_id,
        started_at=min(r.started_at for r in reports),
        finished_at=max(r.finished_at for r in reports),
        targets=targets,
    )


def start_stages(
    workers: Sequence[Worker], upstream_done: Callable[[], bool]
) -> list[threading.Thread]:
    """Run ``workers`` in threads, a chain in which each drains after the one before it.

    The first worker may stop once ``upstream_done()`` is true, each later one once
    the worker before it has finished; each also waits until its group has no lag
    (see the module doc). Returns the started threads, in the order of ``workers``.
    """
    threads: list[threading.Thread] = []
    before = upstream_done
    for worker in workers:
        threads.append(_thread(worker.stage.name, partial(worker.run, drained=before)))
        before = worker.finished.is_set
    for t in threads:
        t.start()
    return threads


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    return threading.Thread(target=target, name=f"tanba-{name}", daemon=True)


def _wait(threads: list[threading.Thread], stop: threading.Event, tick: Callable[[], None]) -> None:
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=1.0)
            tick()
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        raise
