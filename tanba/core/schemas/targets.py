"""Topic ``tanba.targets`` (compacted, key = target id): the crawl targets, one record each.

The latest :class:`TargetRecorded` per target id is the target. Nothing is ever
deleted: removing a target archives it (``archived``), so its crawl reports and
alerts, keyed by its id, keep a name to show them under.

``spec`` holds the target's fields exactly as a targets file writes them
(:func:`tanba.core.targets.target_fields`), so the file format stays the one
schema of a target's settings; readers validate it with
:func:`tanba.core.targets.check_target`. ``resolve`` holds ``--resolve``
entries (``HOST:PORT:ADDR``) recorded with the target, which no file carries.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from tanba.core.schemas.base import Event, Model


class TargetRecord(Model):
    """One crawl target in the registry: its settings, state, and who changed it last."""

    id: str
    name: str
    spec: dict[str, Any]
    resolve: list[str] = Field(default_factory=list)
    archived: bool = False
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str


class TargetRecorded(Event):
    """A target was added, changed, paused, resumed, archived or restored."""

    SCHEMA: ClassVar[str] = "tanba.TargetRecorded"
    VERSION: ClassVar[int] = 1

    record: TargetRecord
