"""Topic ``tanba.deadletter``: messages that failed repeatedly, kept with the error."""

from __future__ import annotations

from typing import ClassVar

from tanba.core.schemas.base import Event


class DeadLetter(Event):
    """A message a stage gave up on after ``attempts`` tries; ``payload`` is the original bytes."""

    SCHEMA: ClassVar[str] = "tanba.DeadLetter"
    VERSION: ClassVar[int] = 1

    stage: str
    topic: str
    partition: int
    offset: int
    key: str | None
    payload_b64: str
    error: str
    attempts: int
    failed_at: str
