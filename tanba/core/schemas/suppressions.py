"""Topic ``tanba.suppressions``: matches that raised no alert, and why (the audit trail)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from tanba.core.schemas.base import Event


class MatchSuppressed(Event):
    """A copy matched a work but no alert was raised; ``reason`` is one of the REASONS codes."""

    SCHEMA: ClassVar[str] = "tanba.MatchSuppressed"
    VERSION: ClassVar[int] = 1

    alert_id: str  # the id the alert would have had
    work_id: str
    page_url: str
    media_url: str
    jurisdiction: str
    reason: str  # "licensed", "outside_territories", "term_expired"
    detail: str
    at: str
    # The crawl that found the copy (optional: events before it have none). A crawl job run
    # twice (its crawler killed) suppresses the same match twice in one crawl; readers keep
    # one per (alert_id, crawl_id, reason): see tanba.core.schemas.suppressions.once_per_crawl.
    crawl_id: str = ""


def once_per_crawl(events: Iterable[MatchSuppressed]) -> list[MatchSuppressed]:
    """The events, each (alert id, crawl, reason) once (the first), in their order."""
    seen: set[tuple[str, str, str]] = set()
    out: list[MatchSuppressed] = []
    for event in events:
        key = (event.alert_id, event.crawl_id, event.reason)
        if not event.crawl_id or key not in seen:
            seen.add(key)
            out.append(event)
    return out
