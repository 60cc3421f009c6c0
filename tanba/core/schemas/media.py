"""Topic ``tanba.media``: media items discovered by the crawlers.

A small file may travel inline (``MediaDiscovered.body``) when the blobs are remote
(object storage): the fingerprint worker then reads it from the event instead of
fetching it back from the store, which cost a distributed pipeline more CPU per
medium (a signed GET, the server's answer, a checked copy) than decoding a
picture's pixels (bench/pipeline_throughput.py). The blob is stored all the same,
before the event is published, so the evidence and the console read it from the
store as before. Why an optional field and no version bump: a worker that does not
know it ignores it (see :mod:`tanba.core.schemas.base`) and reads the store.
"""

from __future__ import annotations

import base64
from typing import Annotated, ClassVar

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from tanba.core.schemas.base import Event
from tanba.core.schemas.common import MediaOccurrence

# The largest body sent inline (most web pictures are smaller): with base64 (4/3) a batch
# of 64 events stays about 20 MB, and one event far under any broker's message limit.
INLINE_MAX_BYTES = 256 << 10


def _from_base64(value: object) -> object:
    """JSON carries the body as base64 text; bytes given in Python pass as they are."""
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


#: Bytes that are base64 text in an event's JSON.
InlineBytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str, when_used="json"),
    # What the JSON holds (pydantic would say "binary"): readers in other languages decode it.
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


class MediaDiscovered(Event):
    """A media file was fetched and stored; its bytes are in the blob store under ``sha256``.

    ``body``: the same bytes, for a file of at most ``INLINE_MAX_BYTES`` crawled into a
    remote blob store (None otherwise); a reader checks them against
    ``occurrence.sha256`` and reads the store when they differ or are missing.
    """

    SCHEMA: ClassVar[str] = "tanba.MediaDiscovered"
    VERSION: ClassVar[int] = 1

    occurrence: MediaOccurrence
    kind_hint: str = ""  # "image" / "audio" from the HTML element or type; the worker sniffs anyway
    body: InlineBytes | None = None
