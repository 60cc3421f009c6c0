"""Per-target crawl statistics over time, so operators see which targets are worth their budget.

Crawl counters come from the crawl reports on ``tanba.crawls`` (one
:class:`~tanba.core.schemas.crawls.CrawlFinished` per crawl, with counters per
target id, read by :class:`~tanba.core.crawl_reports.CrawlReports`); matches come
from the alert store (alerts carry the id of the ``target`` that found them).
Everything is keyed by the target's id, never its name, so a new target of an
old name starts with no history. Per day:

- pages, media (published), errors (HTTP errors + other failures), failed
  fetches of every reason (DNS, refused, TLS, timeouts, robots.txt, the network
  guard, ...), traps avoided, throttled requests (429/503 with Retry-After) and
  pauses (disk full) of the crawls that finished that day;
- matches: alerts of the target last seen that day; confirmed: those of them
  whose status shows a person confirmed them (confirmed, notice sent, removed,
  persists);
- yield: confirmed alerts per thousand pages.

An alert seen again in a later crawl moves to that crawl's day (the store keeps
``last_seen``, not every sighting), so a day's yield counts each copy once, on
the last day it was found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from tanba.core.crawl_reports import CrawlReports, TargetCrawl
from tanba.core.schemas.crawls import TargetReport
from tanba.core.store import AlertQuery, AlertStore

CONFIRMED_STATUSES: tuple[str, ...] = ("confirmed", "notice_sent", "removed", "persists")


def yield_per_thousand(confirmed: int, pages: int) -> float:
    """Confirmed alerts per 1000 pages; 0 when nothing was crawled."""
    return round(confirmed * 1000 / pages, 2) if pages else 0.0


@dataclass
class Figures:
    """What a target's crawls gave: the counters shown per day and in total."""

    crawls: int = 0
    pages: int = 0
    media: int = 0
    errors: int = 0
    failed: int = 0
    traps: int = 0
    throttled: int = 0
    paused: int = 0
    matches: int = 0
    confirmed: int = 0

    @property
    def yield_per_k(self) -> float:
        return yield_per_thousand(self.confirmed, self.pages)


@dataclass
class TargetDay(Figures):
    """A target's figures on one day (UTC)."""

    day: str = ""


@dataclass
class TargetStatistics(Figures):
    """A target's totals and its figures per day, oldest day first."""

    target: str = ""
    last_crawl_at: str = ""
    days: list[TargetDay] = field(default_factory=list)
    history: list[TargetCrawl] = field(default_factory=list)  # every crawl, newest first


def _add_crawl(figures: Figures, report: TargetReport) -> None:
    """Add one crawl's counters to ``figures``."""
    figures.crawls += 1
    figures.pages += report.pages
    figures.media += report.media_published
    figures.errors += report.http_errors + report.errors
    figures.failed += report.failure_count
    figures.traps += report.traps
    figures.throttled += report.throttled
    figures.paused += report.paused


def target_statistics(target_id: str, reports: CrawlReports, store: AlertStore) -> TargetStatistics:
    """Totals and per-day figures of one target (see the module doc for each figure)."""
    days: dict[str, TargetDay] = {}

    def day(key: str) -> TargetDay:
        return days.setdefault(key, TargetDay(day=key))

    stats = TargetStatistics(target=target_id)
    crawls = reports.for_target(target_id)
    for crawl in crawls:
        _add_crawl(day(crawl.finished_at[:10]), crawl.report)
        stats.last_crawl_at = crawl.finished_at
    for key, n in store.count_by("day", AlertQuery(target=target_id)).items():
        day(key).matches += n
    for status in CONFIRMED_STATUSES:
        for key, n in store.count_by("day", AlertQuery(target=target_id, status=status)).items():
            day(key).confirmed += n
    stats.days = [days[k] for k in sorted(days)]
    stats.history = crawls[::-1]
    for counter in fields(Figures):
        setattr(stats, counter.name, sum(getattr(d, counter.name) for d in stats.days))
    return stats


def targets_overview(
    target_ids: Iterable[str], reports: CrawlReports, store: AlertStore
) -> dict[str, TargetStatistics]:
    """The totals of many targets (no days), for the targets list.

    The alert counts take one query per status over every target (counted by
    target), and the reports one read of the bus, not one of each per target: the
    list of 500 targets on Kafka and Elasticsearch took seconds that way.
    """
    matches = store.count_by("target", AlertQuery())
    confirmed: Counter[str] = Counter()
    for status in CONFIRMED_STATUSES:
        confirmed.update(store.count_by("target", AlertQuery(status=status)))
    out: dict[str, TargetStatistics] = {}
    for target_id, crawls in reports.by_target(target_ids).items():
        stats = TargetStatistics(target=target_id)
        for crawl in crawls:
            _add_crawl(stats, crawl.report)
            stats.last_crawl_at = crawl.finished_at
        stats.matches, stats.confirmed = matches.get(target_id, 0), confirmed[target_id]
        out[target_id] = stats
    return out
