"""Topic ``tanba.media``: media items discovered by the crawlers."""

from __future__ import annotations

from typing import ClassVar

from tanba.core.schemas.base import Event
from tanba.core.schemas.common import MediaOccurrence


class MediaDiscovered(Event):
    """A media file was fetched and stored; its bytes are in the blob store under ``sha256``."""

    SCHEMA: ClassVar[str] = "tanba.MediaDiscovered"
    VERSION: ClassVar[int] = 1

    occurrence: MediaOccurrence
    kind_hint: str = ""  # "image" / "audio" from the HTML element or type; the worker sniffs anyway
