"""Topic ``tanba.custody`` (key = alert id): the chain-of-custody log of every action on a case.

Append-only: an action is never edited or removed, so replaying the topic for
one key gives the case's history in the order it happened. ``subject`` names
the artifact an action produced or used by its SHA-256 in the blob store (a
capture record, a package manifest), so the log and the evidence point at
each other. An export also names the package it wrote by ``package_sha256``
(the SHA-256 of the zip as handed out, so a file someone holds can be matched
to the log) and the ``interface`` it came through (cli, console or api).
"""

from __future__ import annotations

from typing import ClassVar

from tanba.core.schemas.base import Event


class CustodyRecorded(Event):
    """Someone (``actor``) did ``action`` on the case of alert ``alert_id`` at ``at``."""

    SCHEMA: ClassVar[str] = "tanba.CustodyRecorded"
    VERSION: ClassVar[int] = 1

    alert_id: str
    actor: str  # a principal's name, or "system"
    action: str  # one of tanba.evidence.custody.ACTIONS
    at: str  # ISO 8601, UTC
    detail: str = ""  # plain words: what was done, with which outcome
    subject: str = ""  # SHA-256 of the artifact in the blob store, if any
    interface: str = ""  # exports: "cli", "console" or "api"
    package_sha256: str = ""  # exports: SHA-256 of the zip file written
