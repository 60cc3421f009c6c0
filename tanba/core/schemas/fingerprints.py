"""Topic ``tanba.fingerprints``: fingerprints of discovered media, ready to match."""

from __future__ import annotations

from typing import ClassVar

from tanba.core.schemas.base import Event
from tanba.core.schemas.common import Fingerprint, MediaOccurrence


class FingerprintComputed(Event):
    """The fingerprint of one media occurrence; carries the occurrence so the matcher needs no join."""

    SCHEMA: ClassVar[str] = "tanba.FingerprintComputed"
    VERSION: ClassVar[int] = 1

    occurrence: MediaOccurrence
    fingerprint: Fingerprint
