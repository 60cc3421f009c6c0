"""Crawl statistics: what each target's crawl did, for the CLI, progress and tests.

Contract: :class:`TargetStats` holds plain counters that the spider and the
address guard increment as they go; :class:`CrawlStats` groups them per target
for one crawl, and :meth:`CrawlStats.total` sums them. Both are plain
dataclasses so ``dataclasses.asdict`` gives the JSON the CLI prints.

Counters:
``pages`` HTML pages fetched and parsed; ``media_found`` (page, media URL) pairs
found on them; ``media_downloaded`` distinct media fetched with status 200;
``media_published`` MediaDiscovered events published; ``robots_disallowed``
requests robots.txt forbade; ``blocked_private`` requests refused by the
private-address guard; ``too_large`` downloads cut at the size cap;
``http_errors`` responses with an error status (and non-200 media);
``errors`` other failures (DNS, timeouts, refused connections, bugs);
``traps`` links not followed as crawler traps (a looping path, or a URL shape
past its share of ``max_pages``); ``throttled`` requests the server answered
with 429 (or 503 and ``Retry-After``) that were retried after the wait it
asked for; ``paused`` times the crawl paused because a write failed (disk
full) until it could write again.

Why a module of its own: the spider fills these in and the runner reports
them; keeping them apart avoids an import cycle between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class TargetStats:
    """Counters of one target's crawl (see the module doc for each)."""

    pages: int = 0
    media_found: int = 0
    media_downloaded: int = 0
    media_published: int = 0
    robots_disallowed: int = 0
    blocked_private: int = 0
    too_large: int = 0
    http_errors: int = 0
    errors: int = 0
    traps: int = 0
    throttled: int = 0
    paused: int = 0
    # URLs of the pages parsed: a later crawl that fetched a page but not an alert's
    # copy on it is evidence the copy was taken down (see matcher.lifecycle).
    page_urls: list[str] = field(default_factory=list, repr=False)

    def add(self, other: TargetStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
