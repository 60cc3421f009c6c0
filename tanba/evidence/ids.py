"""Deterministic WARC record ids: the same seed gives the same sequence of ``<urn:uuid:...>``.

Why: an evidence export must be byte-identical when repeated with a fixed clock
and key, and warcio would otherwise stamp every record with a random UUID.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

# A fixed namespace of Tanba's own (a UUID4 drawn once), so ids cannot collide with other tools'.
NAMESPACE = uuid.UUID("5b0f3c59-6c2f-4c55-9d53-4c1f0a3c8e21")


def derived_record_ids(seed: str) -> Callable[[], str]:
    """A generator of WARC-Record-IDs numbered from 0 under ``seed`` (e.g. alert id and time)."""
    counter = itertools.count()

    def next_id() -> str:
        return f"<urn:uuid:{uuid.uuid5(NAMESPACE, f'{seed}/{next(counter)}')}>"

    return next_id
