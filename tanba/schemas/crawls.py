"""Topic ``tanba.crawls``: one report per finished crawl, per target (for operators' statistics)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tanba.schemas.base import Event, Model


class TargetReport(Model):
    """Counters of one target in one crawl (see crawlers.stats for their meaning)."""

    pages: int = 0
    media_found: int = 0
    media_downloaded: int = 0
    media_published: int = 0
    robots_disallowed: int = 0
    blocked_private: int = 0
    too_large: int = 0
    http_errors: int = 0
    errors: int = 0
    page_urls: list[str] = Field(default_factory=list)  # pages parsed, for take-down checks


class CrawlFinished(Event):
    """A crawl ended (completely or interrupted); its counters per target."""

    SCHEMA: ClassVar[str] = "tanba.CrawlFinished"
    VERSION: ClassVar[int] = 1

    crawl_id: str
    started_at: str
    finished_at: str
    targets: dict[str, TargetReport]
