"""Topic ``tanba.suppressions``: matches that raised no alert, and why (the audit trail)."""

from __future__ import annotations

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
