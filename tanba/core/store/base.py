"""The alert store contract, shared by the embedded store and Elasticsearch.

``upsert`` is idempotent by alert id and keeps an alert's first sighting, status
and history (see :func:`tanba.core.alerts.merge_seen`), so replays never duplicate or
reset an alert. Status changes append to the history and check the lifecycle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from tanba.core.alerts import STATUSES, TRANSITIONS, Alert, StatusChange
from tanba.core.exceptions import InputError

SortKey = Literal["last_seen", "first_seen", "score"]
CountKey = Literal["jurisdiction", "site", "day", "status", "work_id", "target"]
# What the alert list groups by: a site's copies, or a work's.
GroupKey = Literal["site", "work_id"]


@dataclass(frozen=True)
class AlertQuery:
    """Filters and paging for :meth:`AlertStore.search`; empty fields do not filter."""

    jurisdiction: str = ""
    work_id: str = ""
    owner: str = ""
    status: str = ""
    site: str = ""
    media: str = ""
    target: str = ""
    since: str = ""  # ISO time, compared with last_seen
    until: str = ""
    sort: SortKey = "last_seen"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    ids: tuple[str, ...] = field(default=())  # only these alerts (a selection in the list)
    owners: tuple[str, ...] = field(default=())  # access control: only these owners
    jurisdictions: tuple[str, ...] = field(default=())  # access control: only these codes
    # Keyset paging (see tanba.core.store.keyset): at most one of these, and then no offset.
    after: str = ""  # a page's next_cursor: the rows after it
    before: str = ""  # a page's prev_cursor: the rows before it
    last: bool = False  # the last page of the list


@dataclass(frozen=True)
class AlertPage:
    """One page of search results, the total that matched, and cursors to its neighbours.

    ``next_cursor`` (``prev_cursor``) is empty when no alert follows (precedes) the
    page; otherwise pass it back as ``AlertQuery.after`` (``before``) with the same
    filters and sort. Any page costs the same by cursor, however deep it is.
    """

    alerts: list[Alert]
    total: int
    next_cursor: str = ""
    prev_cursor: str = ""


@dataclass(frozen=True)
class TopCounts:
    """The largest values of a count, largest first, and how many alerts the rest hold."""

    counts: dict[str, int]
    other: int = 0


@dataclass(frozen=True)
class Group:
    """One value of a grouping (a site, a work) and its alerts: how many, and the latest sighting."""

    key: str
    count: int
    last_seen: str  # the latest last_seen of its alerts, ISO UTC


@dataclass(frozen=True)
class GroupPage:
    """A page of groups, most alerts first (ties by key), and how many groups there are.

    ``exact`` is False when a store could only bound the counts (Elasticsearch's
    ``terms`` over several indices reports an error bound above 0): the list says so.
    """

    groups: list[Group]
    total: int
    exact: bool = True


@dataclass(frozen=True)
class BulkChange:
    """What one change of many alerts did: the ids it moved, and why it left the others.

    ``refused`` counts the matching alerts whose status may not move to the new one,
    by their status (``{"removed": 3}``): a bulk change skips them instead of failing,
    so one odd alert in 5,000 does not block the rest.
    """

    changed: tuple[str, ...]
    refused: dict[str, int] = field(default_factory=dict)


class AlertStore(ABC):
    """Where alerts live: written by the matcher, read by the console and evidence export."""

    @abstractmethod
    def upsert(self, alerts: Sequence[Alert]) -> None:
        """Write alerts durably; same id updates. Raises TransientError when unreachable."""

    @abstractmethod
    def get(self, alert_id: str) -> Alert | None:
        """One alert by id, or None."""

    @abstractmethod
    def search(self, query: AlertQuery) -> AlertPage:
        """Alerts matching ``query``, sorted and paged by offset or by cursor.

        Raises BadCursor (an InputError) for a cursor this store did not give out for
        this sort, or for a query that mixes an offset and a cursor.
        """

    @abstractmethod
    def count_by(self, key: CountKey, query: AlertQuery) -> dict[str, int]:
        """How many alerts matching ``query`` fall in each value of ``key`` (``day`` = last_seen)."""

    def count_by_status(self, query: AlertQuery) -> dict[str, int]:
        """How many alerts ``query`` matches in each status, whatever its own status filter.

        Every status is a key (0 when none), in lifecycle order: the list's tabs show
        them all. One request to the store (one GROUP BY, one aggregation).
        """
        counts = self.count_by("status", replace(query, status=""))
        return {s: counts.get(s, 0) for s in STATUSES}

    @abstractmethod
    def change_many(self, query: AlertQuery, change: StatusChange) -> BulkChange:
        """Move every alert ``query`` matches (paging fields ignored) to ``change.status``.

        Each moved alert gets ``change`` appended to its history, as
        :meth:`change_status` does; alerts whose status may not move there are left
        as they are and counted in ``refused``. One transaction (SQLite) or a few bulk
        requests (Elasticsearch), not a request per alert: thousands take seconds.
        """

    def top_counts(self, key: CountKey, query: AlertQuery, size: int) -> TopCounts:
        """The ``size`` values of ``key`` with most alerts, and the alerts of all the others.

        Charts use it for keys with many values (sites): a store can answer it
        without enumerating every value. This default counts them all.
        """
        ranked = sorted(self.count_by(key, query).items(), key=lambda kv: (-kv[1], kv[0]))
        return TopCounts(dict(ranked[:size]), sum(n for _, n in ranked[size:]))

    @abstractmethod
    def groups(self, key: GroupKey, query: AlertQuery) -> GroupPage:
        """The values of ``key`` among the alerts ``query`` matches, as groups with their counts.

        Most alerts first, ties by key ascending; paged by ``query.offset`` and
        ``query.limit`` (no cursors; the sort and cursor fields are ignored). ``total``
        is the number of groups; one or two requests to the store, not one per group.
        """

    def change_status(self, alert_id: str, change: StatusChange) -> Alert:
        """Move an alert to a new status, appending to its history; checks the lifecycle."""
        alert = self.get(alert_id)
        if alert is None:
            raise InputError(f"no alert {alert_id!r}; list them with 'tanba alerts list'")
        updated = moved(alert, change)
        if updated is None:
            allowed = TRANSITIONS[alert.status]
            raise InputError(
                f"alert {alert_id} is {alert.status!r}; it can move to {', '.join(allowed)}"
            )
        self._replace(updated)
        return updated

    def record_miss(self, alert_id: str, crawl_id: str) -> Alert:
        """Note that crawl ``crawl_id`` fetched the alert's page without finding the copy."""
        alert = self.get(alert_id)
        if alert is None:
            raise InputError(f"no alert {alert_id!r}")
        if crawl_id not in alert.missed_crawls:
            alert = alert.model_copy(update={"missed_crawls": [*alert.missed_crawls, crawl_id]})
            self._replace(alert)
        return alert

    @abstractmethod
    def _replace(self, alert: Alert) -> None:
        """Overwrite an alert as given (used by status changes, not by the matcher)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def moved(alert: Alert, change: StatusChange) -> Alert | None:
    """``alert`` with ``change`` applied and appended to its history; None if the lifecycle
    forbids it. The one rule for single and bulk changes in every store."""
    if change.status not in TRANSITIONS[alert.status]:
        return None
    return alert.model_copy(update={"status": change.status, "history": [*alert.history, change]})
