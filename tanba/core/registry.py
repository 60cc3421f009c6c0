"""The registry of works, kept as the compacted ``tanba.works`` topic.

The topic is the one source of truth: registering publishes a WorkRegistered
event, and reading the registry replays the topic (latest event per work wins,
a WorkRemoved tombstone deletes). Matchers build their index from the same
replay, so the registry and every matcher agree without a second database.
"""

from __future__ import annotations

from collections.abc import Iterable

from tanba.core import topics
from tanba.core.bus import Bus, Record
from tanba.core.exceptions import NotFound
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.works import Work, WorkRegistered, WorkRemoved


class WorkRegistry:
    """Register, list and withdraw works through the bus."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def register(self, works: Iterable[Work]) -> None:
        """Publish works (new or changed); durable when this returns."""
        records = [Record(w.work_id, encode(WorkRegistered(work=w))) for w in works]
        self.bus.publish(topics.WORKS, records)

    def remove(self, work_id: str, removed_at: str) -> None:
        """Withdraw a work; matchers drop it on their next refresh."""
        if work_id not in self.all():
            raise NotFound(f"no work {work_id!r}; see 'tanba works list'")
        event = WorkRemoved(work_id=work_id, removed_at=removed_at)
        self.bus.publish(topics.WORKS, [Record(work_id, encode(event))])

    def all(self) -> dict[str, Work]:
        """Every current work by id, replayed from the topic."""
        works: dict[str, Work] = {}
        for message in self.bus.replay(topics.WORKS):
            apply_work_event(works, message.value)
        return works

    def get(self, work_id: str) -> Work:
        try:
            return self.all()[work_id]
        except KeyError:
            raise NotFound(f"no work {work_id!r}; see 'tanba works list'") from None


def apply_work_event(works: dict[str, Work], raw: bytes) -> str:
    """Fold one works-topic message into ``works``; returns the work id it touched."""
    event = decode(raw, WorkRegistered, WorkRemoved)
    if isinstance(event, WorkRegistered):
        works[event.work.work_id] = event.work
        return event.work.work_id
    assert isinstance(event, WorkRemoved)
    works.pop(event.work_id, None)
    return event.work_id
