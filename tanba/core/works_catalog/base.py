"""The works read model: what lists and searches of works read, without replaying the topic.

The ``tanba.works`` topic stays the one source of truth. A :class:`WorkCatalog`
holds each current work's metadata and a summary of its print (never the print
itself: a work's entry is a few hundred bytes, its print tens of kilobytes), and
the works-topic positions it reflects. :meth:`WorkCatalog.catch_up` folds the
events after those positions, so works registered by another process, or before
the catalogue existed, appear; the registry calls it after every registration
and before reads (:class:`tanba.core.registry.WorkRegistry`).

Deterministic and idempotent: every entry carries its event's topic offset as a
version, and a write never replaces an entry of a later offset (a removed work
keeps a tombstone with its offset), so two processes folding the same events in
any interleaving, or one folding them twice, end in the state the topic says.
A work's events all sit in one partition (the key is its id), so offsets order them.

Lists are sorted by owner, title (case-folded) and work id, the console's order,
and paged by an opaque cursor (the last row's sort key) that seeks through an
index: the page at work 900,000 costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tanba.core import topics
from tanba.core.bus import Bus
from tanba.core.schemas.base import decode
from tanba.core.schemas.works import Work, WorkMetadata, WorkRegistered, WorkRemoved
from tanba.core.store.exceptions import BadCursor

# Events folded per write: one transaction (SQLite) or bulk request (Elasticsearch).
CHUNK = 5_000
MAX_LIMIT = 500
_TITLE_KEY_CHARS = 200
_WORD = re.compile(r"\w+")
_HOW = "follow the list's next link again, or start from the first page without 'after'"


class WorkEntry(WorkMetadata):
    """A registered work as lists show it: its metadata and a summary of its print."""

    # The print's summary: an image's size and indexed windows, a recording's length.
    width: int = 0
    height: int = 0
    windows: int = 0
    duration_s: float = 0.0

    @classmethod
    def of(cls, work: Work) -> WorkEntry:
        fp = work.fingerprint
        data = work.model_dump(exclude={"fingerprint"})
        if fp.image is not None:
            data.update(width=fp.image.width, height=fp.image.height, windows=len(fp.image.hashes))
        if fp.audio is not None:
            data.update(duration_s=fp.audio.duration_s)
        return cls.model_validate(data)

    def title_key(self) -> str:
        """The title as lists sort it (case-folded, bounded)."""
        return self.title.casefold()[:_TITLE_KEY_CHARS]

    def search_text(self) -> str:
        """The words a text search looks in: title, file name and id, lower case."""
        return " ".join(words(f"{self.title} {self.filename} {self.work_id}"))


def words(text: str) -> list[str]:
    """Text split into the lower-case words both catalogues index and search alike."""
    return _WORD.findall(text.casefold())


@dataclass(frozen=True)
class WorkQuery:
    """Filters and paging for :meth:`WorkCatalog.search`; empty fields do not filter.

    ``text``: every word of it must begin a word of the title, file name or work id
    (case-insensitive). ``owners`` and ``work_ids`` are access scopes (None: no scope;
    an empty tuple: nothing). ``after`` is a page's ``next_cursor``.
    """

    owner: str = ""
    media: str = ""
    text: str = ""
    owners: tuple[str, ...] | None = None
    work_ids: tuple[str, ...] | None = None
    after: str = ""
    limit: int = 50


@dataclass(frozen=True)
class WorkPage:
    """One page of entries, how many matched in all, and the cursor of the next page ('' at the end)."""

    works: list[WorkEntry]
    total: int
    next_cursor: str = ""


SortKey = tuple[str, str, str]  # owner, title key, work id


def sort_key(entry: WorkEntry) -> SortKey:
    return entry.owner, entry.title_key(), entry.work_id


def encode_cursor(key: SortKey) -> str:
    raw = json.dumps(["w1", *key], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> SortKey:
    """The sort key in a cursor; BadCursor for one no works list gave out."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(f"the cursor {text[:40]!r} is damaged; {_HOW}") from None
    if not (
        isinstance(data, list)
        and len(data) == 4
        and data[0] == "w1"
        and all(isinstance(v, str) for v in data[1:])
    ):
        raise BadCursor(f"the cursor {text[:40]!r} is not one a works list gave out; {_HOW}")
    return data[1], data[2], data[3]


def check(query: WorkQuery) -> None:
    """InputError for a query no catalogue answers (a bad limit or cursor)."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise BadCursor(f"a page holds 1 to {MAX_LIMIT} works, not {query.limit}")
    if query.after:
        decode_cursor(query.after)


@dataclass
class Change:
    """What one works-topic event does to the catalogue: its version and the entry (None: removed)."""

    work_id: str
    version: int
    entry: WorkEntry | None = None


class WorkCatalog(ABC):
    """Works as lists read them; kept current from the works topic (see the module doc)."""

    @abstractmethod
    def apply(self, changes: Sequence[Change], positions: Mapping[int, int]) -> None:
        """Write ``changes`` (none replaces a later version) and then the positions they reach.

        Durable and visible to searches when this returns; TransientError when the store
        cannot be written (the next catch-up redoes it).
        """

    @abstractmethod
    def positions(self) -> dict[int, int]:
        """The works-topic offset, per partition, of the last event this catalogue reflects."""

    @abstractmethod
    def get(self, work_id: str) -> WorkEntry | None:
        """One current work by id, or None (also for a removed one)."""

    def search(self, query: WorkQuery) -> WorkPage:
        """Works matching ``query`` sorted by owner, title and id; BadCursor for a bad cursor."""
        check(query)
        after = decode_cursor(query.after) if query.after else None
        entries, total = self._page(query, after)
        more = len(entries) > query.limit
        entries = entries[: query.limit]
        cursor = encode_cursor(sort_key(entries[-1])) if more and entries else ""
        return WorkPage(entries, total, cursor)

    @abstractmethod
    def _page(self, query: WorkQuery, after: SortKey | None) -> tuple[list[WorkEntry], int]:
        """Up to ``query.limit + 1`` entries after ``after`` in list order, and the total.

        The one entry more tells :meth:`search` that a next page exists; the query is
        checked and the cursor decoded before this is called.
        """

    @abstractmethod
    def owners(self) -> list[str]:
        """Every owner with at least one current work, sorted."""

    def count(self, query: WorkQuery | None = None) -> int:
        """How many current works match ``query`` (all of them by default)."""
        return self.search(query or WorkQuery(limit=1)).total

    def catch_up(self, bus: Bus) -> int:
        """Fold the works events after :meth:`positions`; returns how many were folded."""
        start = self.positions()
        reached = dict(start)
        pending: dict[str, Change] = {}
        folded = 0
        for message in bus.replay(topics.WORKS, after=start):
            change = change_of(message.value, message.offset)
            pending[change.work_id] = change
            reached[message.partition] = message.offset
            folded += 1
            if len(pending) >= CHUNK:
                self.apply(list(pending.values()), reached)
                pending = {}
        if pending or reached != start:
            self.apply(list(pending.values()), reached)
        return folded

    def drop(self) -> None:  # noqa: B027 - optional hook
        """Delete everything this catalogue holds (tests; a rebuild from the topic)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def change_of(raw: bytes, version: int) -> Change:
    """The catalogue change of one works-topic message at offset ``version``."""
    event = decode(raw, WorkRegistered, WorkRemoved)
    if isinstance(event, WorkRegistered):
        return Change(event.work.work_id, version, WorkEntry.of(event.work))
    assert isinstance(event, WorkRemoved)
    return Change(event.work_id, version, None)
