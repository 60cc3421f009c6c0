"""Topic ``tanba.works`` (compacted, key = work id): the registry of works as a log.

A matcher rebuilds its index by replaying this topic: the latest event per work id
wins, and a :class:`WorkRemoved` tombstone takes a work out.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from tanba.core.hosts import stored_host
from tanba.core.schemas.base import Event, Model
from tanba.core.schemas.common import Fingerprint, MediaKind


class Licence(Model):
    """Permission for a site (and its subdomains) to show the work, within territories and dates."""

    domain: str
    territories: list[str] = Field(default_factory=list)  # empty = everywhere
    valid_from: str = ""  # ISO date, empty = open
    valid_until: str = ""  # ISO date inclusive, empty = open

    @field_validator("domain")
    @classmethod
    def _canonical(cls, v: str) -> str:
        """The domain in its ASCII form, as crawled sites are (``фильмы.рф`` is kept as
        ``xn--h1agd3a1be.xn--p1ai``), so a licence written in Unicode covers its site;
        events written before are read the same way. A name that cannot be a host is kept
        as written: who registers a licence checks it (this is also how events are read)."""
        return stored_host(v)


class WorkMetadata(Model):
    """What is registered about a work besides its print: who owns it, where they hold rights.

    The fields that :class:`Work` (with the reference fingerprint) and the works list's
    entries (with a summary of the print) share.
    """

    work_id: str
    owner: str
    title: str = ""
    media: MediaKind
    sha256: str
    filename: str = ""
    territories: list[str] = Field(default_factory=list)  # empty = every jurisdiction
    licences: list[Licence] = Field(default_factory=list)
    owner_home: str = ""  # jurisdiction code of the rights holder, for cross-border cases
    author_death_year: int | None = None
    publication_year: int | None = None
    registered_at: str


class Work(WorkMetadata):
    """A registered work: who owns it, where they hold rights, and its reference fingerprint."""

    fingerprint: Fingerprint


class WorkRegistered(Event):
    """A work was registered or changed."""

    SCHEMA: ClassVar[str] = "tanba.WorkRegistered"
    VERSION: ClassVar[int] = 1

    work: Work


class WorkRemoved(Event):
    """A work was withdrawn; matchers drop it from their index."""

    SCHEMA: ClassVar[str] = "tanba.WorkRemoved"
    VERSION: ClassVar[int] = 1

    work_id: str
    removed_at: str
