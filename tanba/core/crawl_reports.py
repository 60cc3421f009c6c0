"""The crawl reports of ``tanba.crawls``, read incrementally and looked up per target.

Contract: :class:`CrawlReports` replays the topic (only what is new on each
:meth:`~CrawlReports.refresh`) and keeps every report (for each target and crawl the
latest: a crawl job run twice reports twice), so :meth:`for_target`
gives one target's crawls, oldest first, and :meth:`crawl` one of them with its
counters and the failed fetches it listed. Reports are keyed by target id
(:mod:`tanba.core.target_registry`); reports written before targets had ids are
keyed by name, which is the id of those targets.

Why in the core: ``tanba targets show``, ``tanba run``'s reconciliation and the
console all read the same reports.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tanba.core import topics
from tanba.core.bus import Bus
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawls import CrawlFinished, TargetReport


@dataclass(frozen=True)
class TargetCrawl:
    """One crawl's counters for one target."""

    crawl_id: str
    started_at: str
    finished_at: str
    report: TargetReport


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
                for key, counters in report.targets.items():
                    crawls = self._by_target[key]
                    # A re-run crawl job (its crawler was killed after reporting, before
                    # committing) reports the same crawl again: the latest replaces it.
                    crawls[:] = [c for c in crawls if c.crawl_id != report.crawl_id]
                    crawls.append(
                        TargetCrawl(
                            report.crawl_id, report.started_at, report.finished_at, counters
                        )
                    )

    def for_target(self, target_id: str) -> list[TargetCrawl]:
        """The target's crawls, oldest first."""
        return self.by_target([target_id])[target_id]

    def by_target(self, target_ids: Iterable[str]) -> dict[str, list[TargetCrawl]]:
        """Each target's crawls, oldest first, after one refresh (not one per target)."""
        self.refresh()
        with self._lock:
            return {
                t: sorted(self._by_target.get(t, []), key=lambda c: c.finished_at)
                for t in target_ids
            }

    def crawl(self, target_id: str, crawl_id: str = "") -> TargetCrawl | None:
        """The target's crawl ``crawl_id`` (its latest when empty), or None."""
        crawls = self.for_target(target_id)
        if not crawl_id:
            return crawls[-1] if crawls else None
        return next((c for c in reversed(crawls) if c.crawl_id == crawl_id), None)
