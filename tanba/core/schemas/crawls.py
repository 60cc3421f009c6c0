"""Topic ``tanba.crawls``: one report per finished crawl, per target (for operators' statistics).

The counters are declared once, in :class:`CrawlCounters`: the crawler's
running tally (:class:`tanba.crawlers.stats.TargetStats`) and the published
:class:`TargetReport` both inherit them, so a new counter is one line here
and reaches the crawl, the report, the ``tanba run`` summary and the console.

Versioning: a new counter is an optional field with a default, so reports
written before it decode as 0 and older readers ignore it (see
:mod:`tanba.core.schemas.base`); that needs no version bump, and bumping would make
every report already on the topic unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, Literal

from pydantic import Field

from tanba.core.schemas.base import Event, Model


@dataclass
class CrawlCounters:
    """The counters of one target's crawl, each an int starting at 0.

    ``pages`` HTML pages fetched and parsed; ``media_found`` (page, media URL)
    pairs found on them; ``media_downloaded`` distinct media fetched with status
    200; ``media_published`` MediaDiscovered events published;
    ``robots_disallowed`` requests robots.txt forbade; ``blocked_private``
    requests refused by the private-address guard; ``too_large`` downloads cut at
    the size cap; ``http_errors`` responses with an error status (and non-200
    media); ``errors`` other failures (DNS, timeouts, refused connections, bugs);
    ``traps`` links not followed as crawler traps (a looping path, or a URL shape
    past its share of ``max_pages``); ``throttled`` requests the server answered
    with 429 (or 503 and ``Retry-After``) that were retried after the wait it
    asked for; ``paused`` times the crawl paused because a write failed (disk
    full) until it could write again; ``players`` player pages fetched from a
    page's frames (also counted in ``pages``); ``streams`` streams (HLS, DASH)
    sampled into a file.

    A plain dataclass so that the crawler increments it in place; pydantic
    models inherit its fields as validated model fields.
    """

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
    players: int = 0
    streams: int = 0

    @classmethod
    def counter_names(cls) -> tuple[str, ...]:
        """The counters' names, in declaration order."""
        return tuple(f.name for f in fields(CrawlCounters))

    def counters(self) -> dict[str, int]:
        """The counters by name (without any field a subclass adds)."""
        return {name: getattr(self, name) for name in self.counter_names()}


#: Why a fetch failed, by code; the code is what reports, the CLI and the console use (the
#: console says it in the user's language: keys "failure.<code>" of its translations).
FAILURE_REASONS: dict[str, str] = {
    "dns": "the host name does not resolve (DNS)",
    "refused": "the server refused the connection",
    "tls": "the TLS (HTTPS) handshake failed",
    "timeout": "no complete answer in time",
    "connection_lost": "the connection broke off before a complete answer",
    "robots": "robots.txt forbids it",
    "private_address": "refused by the network guard: the address is not public",
    "http_status": "the server answered with an error status",
    "too_large": "larger than the size limit",
    "off_site": "redirected outside the target's allowed domains",
    "other": "another error",
}
FailureReason = Literal[
    "dns",
    "refused",
    "tls",
    "timeout",
    "connection_lost",
    "robots",
    "private_address",
    "http_status",
    "too_large",
    "off_site",
    "other",
]
#: Failed fetches a report lists per target (every one is counted in ``failures``): enough to
#: see each kind and fix it, without a site of a million broken links filling the topic.
MAX_FAILURES_LISTED = 100
#: ... and in all, over the targets of one crawl (each still lists at least
#: MIN_FAILURES_LISTED): a crawl report is one message, and Kafka takes 8 MiB at most.
MAX_FAILURES_PER_REPORT = 2000
MIN_FAILURES_LISTED = 10
#: A listed failure's URL and referrer are cut here (with "…"), so 2,000 of them stay far
#: under that limit whatever the URLs.
MAX_URL_LISTED = 1000


class FetchFailure(Model):
    """One request of a crawl that gave no usable answer, and why."""

    url: str
    reason: FailureReason
    detail: str = ""  # what the crawler saw: "HTTP 404", "DNS lookup failed: ..."
    kind: Literal["page", "media"] = "page"
    referrer: str = ""  # the page that led to it ("" for a seed)
    at: str = ""  # ISO 8601, UTC

    @property
    def reason_text(self) -> str:
        return FAILURE_REASONS[self.reason]


class TargetReport(Model, CrawlCounters):
    """Counters of one target in one crawl (see :class:`CrawlCounters` for their meaning).

    ``failures`` counts every failed fetch by reason (:data:`FAILURE_REASONS`);
    ``failed`` lists the first :data:`MAX_FAILURES_LISTED` of them with URL and reason
    (fewer when the crawl had many targets, see :data:`MAX_FAILURES_PER_REPORT`).
    """

    name: str = ""  # the target's name when it was crawled (reports are keyed by target id)
    page_urls: list[str] = Field(default_factory=list)  # pages parsed, for take-down checks
    failures: dict[str, int] = Field(default_factory=dict)
    failed: list[FetchFailure] = Field(default_factory=list)

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())


class CrawlFinished(Event):
    """A crawl ended (completely or interrupted); its counters per target id."""

    SCHEMA: ClassVar[str] = "tanba.CrawlFinished"
    VERSION: ClassVar[int] = 1

    crawl_id: str
    started_at: str
    finished_at: str
    targets: dict[str, TargetReport]
