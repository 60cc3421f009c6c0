"""Crawl statistics: what each target's crawl did, for the CLI, progress and tests.

Contract: :class:`TargetStats` holds the counters that the spider, the
address guard and the throttle middleware increment as they go; :class:`CrawlStats`
groups them per target for one crawl, and :meth:`CrawlStats.total` sums them.
Both are plain dataclasses; :meth:`CrawlStats.as_json` is the JSON ``tanba crawl
--json`` prints; :meth:`TargetStats.report` is what the crawl report publishes.

The counters themselves (and what each one means) are declared once, in
:class:`tanba.core.schemas.crawls.CrawlCounters`, which both :class:`TargetStats` and
the published :class:`~tanba.core.schemas.crawls.TargetReport` inherit: a new
counter added there is counted, reported and summed without a second list.

Why a module of its own: the spider fills these in and the runner reports
them; keeping them apart avoids an import cycle between the two.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tanba.core.schemas.crawls import CrawlCounters, TargetReport


@dataclass
class TargetStats(CrawlCounters):
    """Counters of one target's crawl (see :class:`CrawlCounters` for each)."""

    # URLs of the pages parsed: a later crawl that fetched a page but not an alert's
    # copy on it is evidence the copy was taken down (see tanba.matcher.lifecycle).
    page_urls: list[str] = field(default_factory=list, repr=False)

    def add(self, other: TargetStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def report(self) -> TargetReport:
        """The counters as the crawl report publishes them (a frozen copy)."""
        return TargetReport(**asdict(self))


@dataclass
class CrawlStats:
    """The counters of every target of one crawl."""

    crawl_id: str
    targets: dict[str, TargetStats] = field(default_factory=dict)

    def total(self) -> TargetStats:
        total = TargetStats()
        for stats in self.targets.values():
            total.add(stats)
        return total

    def as_json(self) -> dict[str, Any]:
        """``{"crawl_id": ..., "targets": {name: counters}, "total": counters}`` (``tanba crawl --json``)."""
        return {
            "crawl_id": self.crawl_id,
            "targets": {name: asdict(t) for name, t in self.targets.items()},
            "total": asdict(self.total()),
        }
