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

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from tanba.core.schemas.crawls import (
    MAX_FAILURES_LISTED,
    MAX_FAILURES_PER_REPORT,
    MAX_URL_LISTED,
    MIN_FAILURES_LISTED,
    CrawlCounters,
    FetchFailure,
    TargetReport,
)


@dataclass
class TargetStats(CrawlCounters):
    """Counters of one target's crawl (see :class:`CrawlCounters` for each).

    ``failures`` counts failed fetches by reason; ``failed`` keeps the first
    :data:`~tanba.core.schemas.crawls.MAX_FAILURES_LISTED` of them (:meth:`fail`).
    """

    # URLs of the pages parsed: a later crawl that fetched a page but not an alert's
    # copy on it is evidence the copy was taken down (see tanba.matcher.lifecycle).
    page_urls: list[str] = field(default_factory=list, repr=False)
    failures: dict[str, int] = field(default_factory=dict)
    failed: list[FetchFailure] = field(default_factory=list, repr=False)

    def fail(self, failure: FetchFailure) -> None:
        """Count one failed fetch under its reason, and list it while the list has room."""
        self.failures[failure.reason] = self.failures.get(failure.reason, 0) + 1
        if len(self.failed) < MAX_FAILURES_LISTED:
            cut = {
                name: value[: MAX_URL_LISTED - 1] + "…"
                for name in ("url", "referrer")
                if len(value := getattr(failure, name)) > MAX_URL_LISTED
            }
            self.failed.append(failure.model_copy(update=cut) if cut else failure)

    def failure_count(self) -> int:
        return sum(self.failures.values())

    def add(self, other: TargetStats) -> None:
        for name in self.counter_names():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.page_urls += other.page_urls
        self.failures = dict(Counter(self.failures) + Counter(other.failures))
        self.failed += other.failed

    def copy(self) -> TargetStats:
        """A copy whose lists and counts do not change with this one."""
        return replace(
            self,
            page_urls=list(self.page_urls),
            failures=dict(self.failures),
            failed=list(self.failed),
        )

    def report(self, name: str = "", listed: int = MAX_FAILURES_LISTED) -> TargetReport:
        """The counters as the crawl report publishes them (a frozen copy), with the first
        ``listed`` failed fetches."""
        return TargetReport(
            name=name,
            page_urls=list(self.page_urls),
            failures=dict(self.failures),
            failed=self.failed[:listed],
            **self.counters(),
        )


@dataclass
class CrawlStats:
    """The counters of every target of one crawl, by target key (id, else name).

    ``names`` gives each key's target name (for people; keys are what reports use).
    """

    crawl_id: str
    targets: dict[str, TargetStats] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def total(self) -> TargetStats:
        total = TargetStats()
        for stats in self.targets.values():
            total.add(stats)
        return total

    def name_of(self, key: str) -> str:
        return self.names.get(key, key)

    def listed_per_target(self) -> int:
        """Failed fetches each target's report lists, so the crawl report stays one message."""
        share = MAX_FAILURES_PER_REPORT // max(1, len(self.targets))
        return max(MIN_FAILURES_LISTED, min(MAX_FAILURES_LISTED, share))

    def reports(self) -> dict[str, TargetReport]:
        """Every target's report, by key, as the crawl report publishes them."""
        listed = self.listed_per_target()
        return {key: t.report(self.name_of(key), listed) for key, t in self.targets.items()}

    def as_json(self) -> dict[str, Any]:
        """``{"crawl_id", "targets": {key: counters + name}, "total": counters}`` (``crawl --json``)."""
        return {
            "crawl_id": self.crawl_id,
            "targets": {
                key: t.report(self.name_of(key)).model_dump(mode="json")
                for key, t in self.targets.items()
            },
            "total": self.total().report().model_dump(mode="json"),
        }
