"""The registry of works, kept as the compacted ``tanba.works`` topic.

The topic is the one source of truth: registering publishes a WorkRegistered
event, and a WorkRemoved tombstone deletes. Matchers build their index by
replaying it (latest event per work wins). Lists and searches read the works
catalogue (:mod:`tanba.core.works_catalog`) instead, a read model the registry
keeps current: it folds the topic's new events into it after each registration
and, at most once a second, before a read, so works registered by other
processes appear too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from tanba.core import topics
from tanba.core.bus import Bus, Record
from tanba.core.clock import Every
from tanba.core.exceptions import InputError, NotFound, TransientError
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.works import Work, WorkRegistered, WorkRemoved
from tanba.core.works_catalog import WorkCatalog, WorkEntry, WorkPage, WorkQuery

log = logging.getLogger("tanba.core.registry")

# How stale a read of the catalogue may be: the topic is asked for new events at most this often.
CATCH_UP_EVERY_S = 1.0


class WorkRegistry:
    """Register, list and withdraw works through the bus; list them from the catalogue."""

    def __init__(
        self,
        bus: Bus,
        catalog: WorkCatalog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self._catalog = catalog
        self._catch_ups = Every(CATCH_UP_EVERY_S, clock)

    def register(self, works: Iterable[Work]) -> None:
        """Publish works (new or changed); durable when this returns, listed as soon as the
        catalogue can be written (or at its next catch-up)."""
        records = [Record(w.work_id, encode(WorkRegistered(work=w))) for w in works]
        self.bus.publish(topics.WORKS, records)
        self._catch_up(after_write=True)

    def remove(self, work_id: str, removed_at: str) -> None:
        """Withdraw a work; matchers drop it on their next refresh."""
        exists = (
            self.entry(work_id) is not None if self._catalog is not None else work_id in self.all()
        )
        if not exists:
            raise NotFound(f"no work {work_id!r}; see 'tanba works list'")
        event = WorkRemoved(work_id=work_id, removed_at=removed_at)
        self.bus.publish(topics.WORKS, [Record(work_id, encode(event))])
        self._catch_up(after_write=True)

    def all(self) -> dict[str, Work]:
        """Every current work by id with its print, replayed from the whole topic.

        For the matcher and tests; lists and searches use :meth:`search`, which does not replay.
        """
        works: dict[str, Work] = {}
        for message in self.bus.replay(topics.WORKS):
            apply_work_event(works, message.value)
        return works

    def get(self, work_id: str) -> Work:
        """One work with its print; NotFound at once when the catalogue does not hold it.

        Reads the topic (there is no index from a work to its event), so a page of works
        uses :meth:`entry` and only callers that need the print come here.
        """
        if self._catalog is not None and self.entry(work_id) is None:
            raise NotFound(f"no work {work_id!r}; see 'tanba works list'")
        try:
            return self.all()[work_id]
        except KeyError:
            raise NotFound(f"no work {work_id!r}; see 'tanba works list'") from None

    # --- the catalogue --------------------------------------------------------------------

    @property
    def catalog(self) -> WorkCatalog:
        """The works catalogue, caught up with the topic at most :data:`CATCH_UP_EVERY_S` ago."""
        if self._catalog is None:
            raise InputError("this registry has no works catalogue; open it through the App")
        self._catch_up(after_write=False)
        return self._catalog

    def search(self, query: WorkQuery) -> WorkPage:
        """A page of current works (see :meth:`WorkCatalog.search`)."""
        return self.catalog.search(query)

    def entry(self, work_id: str) -> WorkEntry | None:
        """One current work's listed metadata (no print), or None."""
        return self.catalog.get(work_id)

    def _catch_up(self, *, after_write: bool) -> None:
        """Fold new topic events into the catalogue; after a write always, else when due.

        A catalogue that cannot be written (Elasticsearch down) does not fail a registration,
        which is durable on the topic already: the next catch-up folds it.
        """
        if self._catalog is None:
            return
        due = self._catch_ups.due()
        if not (after_write or due):
            return
        try:
            self._catalog.catch_up(self.bus)
        except TransientError as exc:
            if not after_write:
                raise
            log.warning("the works catalogue is behind the topic until its next catch-up: %s", exc)
            return
        self._catch_ups.took()


def apply_work_event(works: dict[str, Work], raw: bytes) -> str:
    """Fold one works-topic message into ``works``; returns the work id it touched."""
    event = decode(raw, WorkRegistered, WorkRemoved)
    if isinstance(event, WorkRegistered):
        works[event.work.work_id] = event.work
        return event.work.work_id
    assert isinstance(event, WorkRemoved)
    works.pop(event.work_id, None)
    return event.work_id
