"""Per-target crawl statistics over time, so operators see which targets are worth their budget.

Crawl counters come from the crawl reports on ``tanba.crawls`` (one
:class:`CrawlFinished` per crawl, with counters per target); matches come from
the alert store (alerts carry the ``target`` that found them). Per day:

- pages, media (published), errors (HTTP errors + other failures), traps
  avoided, throttled requests (429/503 with Retry-After) and pauses (disk full)
  of the crawls that finished that day;
- matches: alerts of the target last seen that day; confirmed: those of them
  whose status shows a person confirmed them (confirmed, notice sent, removed,
  persists);
- yield: confirmed alerts per thousand pages.

An alert seen again in a later crawl moves to that crawl's day (the store keeps
``last_seen``, not every sighting), so a day's yield counts each copy once, on
the last day it was found.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field, fields

from tanba.core import topics
from tanba.core.bus import Bus
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawls import CrawlFinished, TargetReport
from tanba.core.store import AlertQuery, AlertStore

CONFIRMED_STATUSES: tuple[str, ...] = ("confirmed", "notice_sent", "removed", "persists")


def yield_per_thousand(confirmed: int, pages: int) -> float:
    """Confirmed alerts per 1000 pages; 0 when nothing was crawled."""
    return round(confirmed * 1000 / pages, 2) if pages else 0.0


@dataclass(frozen=True)
class TargetCrawl:
    """One crawl's counters for one target."""

    crawl_id: str
    finished_at: str
    report: TargetReport


@dataclass
class Figures:
    """What a target's crawls gave: the counters shown per day and in total."""

    crawls: int = 0
    pages: int = 0
    media: int = 0
    errors: int = 0
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


class CrawlReports:
    """The crawl reports, read incrementally from the bus (only new messages on each refresh)."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._after: dict[int, int] = {}
        self._by_target: dict[str, list[TargetCrawl]] = defaultdict(list)
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock:
            for message in self._bus.replay(topics.CRAWLS, self._after or None):
                self._after[message.partition] = message.offset
                report = decode(message.value, CrawlFinished)
                for name, counters in report.targets.items():
                    self._by_target[name].append(
                        TargetCrawl(report.crawl_id, report.finished_at, counters)
                    )

    def for_target(self, name: str) -> list[TargetCrawl]:
        """The target's crawls, oldest first."""
        self.refresh()
        with self._lock:
            return sorted(self._by_target.get(name, []), key=lambda c: c.finished_at)


def target_statistics(name: str, reports: CrawlReports, store: AlertStore) -> TargetStatistics:
    """Totals and per-day figures of one target (see the module doc for each figure)."""
    days: dict[str, TargetDay] = {}

    def day(key: str) -> TargetDay:
        return days.setdefault(key, TargetDay(day=key))

    stats = TargetStatistics(target=name)
    for crawl in reports.for_target(name):
        d = day(crawl.finished_at[:10])
        r = crawl.report
        d.crawls += 1
        d.pages += r.pages
        d.media += r.media_published
        d.errors += r.http_errors + r.errors
        d.traps += r.traps
        d.throttled += r.throttled
        d.paused += r.paused
        stats.last_crawl_at = crawl.finished_at
    for key, n in store.count_by("day", AlertQuery(target=name)).items():
        day(key).matches += n
    for status in CONFIRMED_STATUSES:
        for key, n in store.count_by("day", AlertQuery(target=name, status=status)).items():
            day(key).confirmed += n
    stats.days = [days[k] for k in sorted(days)]
    for counter in fields(Figures):
        setattr(stats, counter.name, sum(getattr(d, counter.name) for d in stats.days))
    return stats
