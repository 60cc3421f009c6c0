"""The chain-of-custody log of a case: who did what, when, as events on ``tanba.custody``.

Contract: :meth:`CustodyLog.record` appends one :class:`CustodyRecorded` event
keyed by the alert id (durable when it returns, as every bus publish);
:meth:`CustodyLog.events` replays them for one alert in the order they were
published. :meth:`CustodyLog.case_log` merges those events with the alert's
status history (status changes are made by the alert store, which keeps them
on the alert) into one time-ordered list of :class:`CustodyEntry`, which is
what a package carries.

Why the bus: the log is append-only by construction and replicated with the
rest of Tanba's state; nothing can edit an entry after the fact. Reading one
case replays the whole topic, which is fine for an embedded installation; a
large Kafka deployment would keep a per-case index (a compacted projection).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from tanba.core import topics
from tanba.core.alerts import Alert
from tanba.core.bus import Bus, Record
from tanba.core.clock import Clock, iso
from tanba.core.schemas.base import Model, decode, encode
from tanba.core.schemas.custody import CustodyRecorded

CAPTURED = "captured"
CAPTURE_FAILED = "capture_failed"
EXPORTED = "exported"
STATUS_CHANGED = "status_changed"
NOTE = "note"
ACTIONS = (CAPTURED, CAPTURE_FAILED, EXPORTED, STATUS_CHANGED, NOTE)
INTERFACES = ("cli", "console", "api")


class CustodyEntry(Model):
    """One line of a case's log, whichever record it came from."""

    at: str
    actor: str
    action: str
    detail: str = ""
    subject: str = ""
    source: Literal["custody", "status_history"]
    interface: str = ""  # exports: cli, console or api
    package_sha256: str = ""  # exports: the zip's SHA-256
    status: str = ""  # status changes: the status set
    comment: str = ""  # status changes: the comment given with it


class CustodyLog:
    """Append and read custody events on the bus."""

    def __init__(self, bus: Bus, clock: Clock) -> None:
        self.bus = bus
        self.clock = clock

    def record(
        self,
        alert_id: str,
        actor: str,
        action: str,
        detail: str = "",
        subject: str = "",
        *,
        interface: str = "",
        package_sha256: str = "",
    ) -> CustodyRecorded:
        """Append one action to the case of ``alert_id``; returns the event as published."""
        if action not in ACTIONS:
            raise ValueError(f"unknown custody action {action!r}; use one of {', '.join(ACTIONS)}")
        if interface and interface not in INTERFACES:
            raise ValueError(f"unknown interface {interface!r}; use one of {', '.join(INTERFACES)}")
        event = CustodyRecorded(
            alert_id=alert_id,
            actor=actor,
            action=action,
            at=iso(self.clock.now()),
            detail=detail,
            subject=subject,
            interface=interface,
            package_sha256=package_sha256,
        )
        self.bus.publish(topics.CUSTODY, [Record(alert_id, encode(event))])
        return event

    def events(self, alert_id: str) -> list[CustodyRecorded]:
        """Every custody event of the case, in publish order."""
        return [
            decode(message.value, CustodyRecorded)
            for message in self.bus.replay(topics.CUSTODY)
            if message.key == alert_id
        ]

    def case_log(self, alert: Alert, *, leave_out: Iterable[str] = ()) -> list[CustodyEntry]:
        """Custody events and status changes of the case, oldest first (ties keep their order).

        ``leave_out`` drops actions by name. A package carries the whole log up to
        its own export (which its manifest records: the zip's digest cannot be
        inside the zip).
        """
        skip = set(leave_out)
        entries = [
            CustodyEntry(
                at=change.at,
                actor=change.actor,
                action=STATUS_CHANGED,
                detail=f"status set to {change.status}"
                + (f": {change.comment}" if change.comment else ""),
                source="status_history",
                status=change.status,
                comment=change.comment,
            )
            for change in alert.history
        ]
        entries += [
            CustodyEntry(
                at=e.at,
                actor=e.actor,
                action=e.action,
                detail=e.detail,
                subject=e.subject,
                source="custody",
                interface=e.interface,
                package_sha256=e.package_sha256,
            )
            for e in self.events(alert.id)
            if e.action not in skip
        ]
        return sorted(entries, key=lambda entry: entry.at)
