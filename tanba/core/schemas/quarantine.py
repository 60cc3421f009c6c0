"""Topic ``tanba.quarantine``: media that could not be fingerprinted, with the reason."""

from __future__ import annotations

from typing import ClassVar

from tanba.core.schemas.base import Event
from tanba.core.schemas.common import MediaOccurrence


class MediaQuarantined(Event):
    """A media file was set aside; ``reason`` says why in words an operator can act on."""

    SCHEMA: ClassVar[str] = "tanba.MediaQuarantined"
    VERSION: ClassVar[int] = 1

    occurrence: MediaOccurrence
    stage: str
    reason: str
    quarantined_at: str
