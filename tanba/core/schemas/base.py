"""The event envelope: JSON ``{"schema": NAME, "version": N, "data": {...}}``.

Every event type names its schema and version as class constants. Decoding checks
both before validating the data, so a consumer never acts on a message it does
not understand; unknown extra fields are ignored so that a producer may add an
optional field without a version bump (removing or retyping one needs a bump).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tanba.core.exceptions import EventDecodeError


class Model(BaseModel):
    """Base of all schema models: immutable, lenient about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(Model):
    """A message on a topic; subclasses set SCHEMA and VERSION."""

    SCHEMA: ClassVar[str]
    VERSION: ClassVar[int]


E = TypeVar("E", bound=Event)


def encode(event: Event) -> bytes:
    """Serialise an event to its envelope; deterministic (sorted keys) so replays are byte-equal."""
    envelope = {
        "schema": event.SCHEMA,
        "version": event.VERSION,
        "data": event.model_dump(mode="json"),
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(raw: bytes, *types: type[E]) -> E:
    """Parse an envelope into one of ``types``, or raise :class:`EventDecodeError` saying why."""
    try:
        envelope: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventDecodeError(f"message is not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not {"schema", "version", "data"} <= envelope.keys():
        raise EventDecodeError("message is not an event envelope (schema, version, data)")
    by_name = {t.SCHEMA: t for t in types}
    kind = by_name.get(envelope["schema"])  # type: ignore[call-overload]
    if kind is None:
        raise EventDecodeError(
            f"schema {envelope['schema']!r} is not one of {sorted(by_name)}: "
            "is a producer newer than this worker?"
        )
    if envelope["version"] != kind.VERSION:
        raise EventDecodeError(
            f"{kind.SCHEMA} version {envelope['version']!r} is not supported "
            f"(this worker reads version {kind.VERSION}); upgrade the worker"
        )
    try:
        return kind.model_validate(envelope["data"])
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {kind.SCHEMA} event: {exc}") from exc
