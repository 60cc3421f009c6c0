"""The clock seam: everything that stamps a time asks a Clock, so tests can fix it.

:class:`Every` is the one rate limit on a monotonic clock (which a test passes in too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time, in UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move (tests and reproducible exports)."""

    def __init__(self, start: datetime | str = "2026-01-01T00:00:00Z") -> None:
        self._now = parse_iso(start) if isinstance(start, str) else start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class Every:
    """A turn at most once per ``interval_s`` seconds of a monotonic clock.

    For work worth skipping when it ran a moment ago: asking the broker for a lag,
    folding new events into a read model, printing a progress line. :meth:`due` says
    whether a turn is due (always before the first); :meth:`took` starts the interval
    again from the time that :meth:`due` read, so a turn that fails can leave it
    unstarted; :meth:`turn` is both at once.
    """

    def __init__(self, interval_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._last: float | None = None
        self._asked = 0.0

    def due(self) -> bool:
        self._asked = self._monotonic()
        return self._last is None or self._asked - self._last >= self.interval_s

    def took(self) -> None:
        self._last = self._asked

    def turn(self) -> bool:
        """True, and the interval starts again, when a turn is due; False otherwise."""
        if not self.due():
            return False
        self.took()
        return True


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z and millisecond precision: sortable as text."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> datetime:
    """Parse what :func:`iso` writes (and other ISO 8601 forms); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
