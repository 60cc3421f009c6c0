"""Alerts as the console shows them: filters from a request, scoped reads, checked status changes.

Every read goes through :meth:`Principal.scope` (lists, counts) or
:meth:`Principal.may_see` (one alert); an alert a caller may not see is
"not found", the same answer as for an id that does not exist, so ids of other
organisations' alerts cannot be probed.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal, TypeVar, cast
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tanba.console.exceptions import BulkRefused, Forbidden, PageTooDeep
from tanba.core.access import Principal, visible_alert
from tanba.core.alerts import STATUSES, TRANSITIONS, Alert, Signal, StatusChange
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import InputError
from tanba.core.hosts import stored_host
from tanba.core.jurisdictions.attribution import alert_confidence
from tanba.core.store import AlertPage, AlertQuery, AlertStore, BulkChange
from tanba.core.store.base import CountKey, GroupKey, GroupPage, SortKey, TopCounts
from tanba.core.store.exceptions import BadCursor

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Deepest row a list pages to by number. An offset costs more the deeper it is (on
# Elasticsearch every index sorts offset + size rows: ~150-450 ms at 10,000 over ten
# indices on a loaded machine), while a cursor costs the same anywhere; the pages only
# link by cursor, so page numbers are a convenience for scripts near the start.
MAX_OFFSET = 1_000
# Fields that say which page, not which alerts: links to other filters drop them.
PAGING = ("page", "after", "before", "last")
# Filters the store takes as they are (``until`` is inclusive here, exclusive there).
_AS_GIVEN = {"jurisdiction", "work_id", "site", "status", "media", "target", "since"}
T = TypeVar("T")
# The statuses the list moves many alerts to at once (the triage of new and confirmed alerts).
BULK_STATUSES = ("confirmed", "dismissed", "notice_sent")
# Most alerts one bulk change moves: a mistaken "all matching" stays undoable by hand.
MAX_BULK = 10_000
COUNT_KEYS: tuple[CountKey, ...] = ("jurisdiction", "site", "day", "status", "work_id", "target")
# The list's sorts and the store's sort keys they mean (all newest or best first).
SORT_KEYS: dict[str, SortKey] = {
    "recent": "last_seen",
    "first_seen": "first_seen",
    "score": "score",
}
# The list's groupings and the store's keys they group by.
GROUP_KEYS: dict[str, GroupKey] = {"site": "site", "work": "work_id"}


class AlertFilters(BaseModel):
    """What the alerts list and the API take as query parameters; empty means no filter."""

    model_config = ConfigDict(extra="ignore")

    jurisdiction: str = ""
    work_id: str = ""
    site: str = ""
    status: str = ""
    media: Literal["", "image", "audio", "video"] = ""
    target: str = ""
    since: str = Field(default="", description="first day, YYYY-MM-DD (by last seen)")
    until: str = Field(default="", description="last day, YYYY-MM-DD, inclusive")
    sort: Literal["recent", "first_seen", "score"] = Field(
        default="recent",
        description="recent: last seen, newest first; first_seen: first seen, newest first; "
        "score: best match first",
    )
    group: Literal["", "site", "work"] = Field(
        default="",
        description="one row per site or per work with its count of alerts, most first "
        "(paged by number; a row links to the list filtered to it)",
    )
    page: int = Field(
        default=1,
        ge=1,
        le=1_000_000,
        description=f"page number, for the first {MAX_OFFSET:,} alerts; deeper, use the cursors",
    )
    per_page: int = Field(default=50, ge=1, le=200)
    after: str = Field(
        default="",
        description="cursor: the page after this one; pass a list's next_cursor as given "
        "(same filters and sort). Any page is as fast by cursor, however deep.",
    )
    before: str = Field(
        default="",
        description="cursor: the page before this one; pass a list's prev_cursor as given",
    )
    last: bool = Field(default=False, description="the last page of the list")

    @field_validator("jurisdiction")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("work_id", "target")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("site")
    @classmethod
    def _site(cls, v: str) -> str:
        """A site as the store keeps it: фильмы.рф and xn--h1agd3a1be.xn--p1ai are one site."""
        return stored_host(v)

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        if v and v not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        return v

    @field_validator("since", "until")
    @classmethod
    def _day(cls, v: str) -> str:
        v = v.strip()
        if v:
            if not _DAY.match(v):
                raise ValueError("dates are written YYYY-MM-DD")
            date.fromisoformat(v)
        return v

    def query(self, principal: Principal, *, paged: bool = True) -> AlertQuery:
        """The store query for these filters, narrowed to what ``principal`` may see.

        Raises PageTooDeep for a page number past :data:`MAX_OFFSET` (pages by number
        cost more the deeper they are, on Elasticsearch seconds at 100,000) and
        BadCursor for a page number together with a cursor.
        """
        offset = (self.page - 1) * self.per_page if paged else 0
        if paged and offset + self.per_page > MAX_OFFSET:
            raise PageTooDeep(
                f"page {self.page} lies past the first {MAX_OFFSET:,} alerts, the deepest a list "
                "goes by page number; follow the list's next/previous links (the 'after' and "
                "'before' cursors), ask for 'last=true' to see the end, or narrow the filters"
            )
        cursor = self.after or self.before or self.last
        if paged and cursor and self.page > 1:
            raise BadCursor("give a page number or a cursor ('after', 'before', 'last'), not both")
        until = ""
        if self.until:
            until = (date.fromisoformat(self.until) + timedelta(days=1)).isoformat()
        query = AlertQuery(
            **self.model_dump(include=_AS_GIVEN),
            until=until,
            sort=SORT_KEYS[self.sort],
            descending=True,
            limit=self.per_page if paged else 0,
            offset=offset,
            after=self.after if paged else "",
            before=self.before if paged else "",
            last=self.last if paged else False,
        )
        return principal.scope(query)

    def link(self, **changes: object) -> str:
        """The query string of these filters with some changed, from the first page.

        The page and the cursors are dropped unless ``changes`` sets them: a link to
        other filters or another sort starts the list again.
        """
        values = self.model_dump() | {k: AlertFilters.model_fields[k].default for k in PAGING}
        values |= changes
        defaults = AlertFilters().model_dump()
        return urlencode(
            {k: ("true" if v is True else v) for k, v in values.items() if v != defaults[k]}
        )

    def active(self) -> bool:
        return any(
            getattr(self, k)
            for k in (
                "jurisdiction",
                "work_id",
                "site",
                "status",
                "media",
                "target",
                "since",
                "until",
            )
        )


def search(store: AlertStore, principal: Principal, filters: AlertFilters) -> AlertPage:
    return store.search(filters.query(principal))


def groups(store: AlertStore, principal: Principal, filters: AlertFilters) -> GroupPage:
    """The page of groups ``filters.group`` asks for (by number; PageTooDeep past MAX_OFFSET).

    Raises InputError when ``filters`` asks for no grouping.
    """
    if not filters.group:
        raise InputError("say what to group by: group=site or group=work")
    if filters.after or filters.before or filters.last:
        raise BadCursor("grouped lists page by number ('page'), not by cursor")
    return store.groups(GROUP_KEYS[filters.group], filters.query(principal))


def group_link(filters: AlertFilters, key: str) -> str:
    """The query string of the alerts of one group: these filters narrowed to it, ungrouped."""
    narrowed = {"site": key} if filters.group == "site" else {"work_id": key}
    return filters.link(group="", **narrowed)


def page_count(filters: AlertFilters, page: AlertPage) -> int:
    return max(1, math.ceil(page.total / filters.per_page))


def page_number(filters: AlertFilters, page: AlertPage) -> int | None:
    """Which page this is, or None for a page reached by cursor somewhere in the middle."""
    if filters.last:
        return page_count(filters, page)
    if filters.after or filters.before:
        return None if page.prev_cursor else 1
    return filters.page


def counts(
    store: AlertStore, principal: Principal, filters: AlertFilters, key: CountKey
) -> dict[str, int]:
    return store.count_by(key, filters.query(principal, paged=False))


class CountCache:
    """Recent count answers for the charts (kept ``ttl_s`` seconds), the list's status
    tabs and its groups by site or work (``tabs_ttl_s``).

    Counting by site or day reads every matching alert (a GROUP BY over 100k rows
    takes a few hundred ms), and the tabs count every status of what the filters match
    on every page (and a grouped list reads them all), while people page and re-sort the
    same filtered list; the charts may lag the list by up to ``ttl_s`` and the tabs and
    groups by ``tabs_ttl_s`` (alerts found
    meanwhile). A status change made through this console drops every answer
    (:meth:`forget`), so whoever made it sees it counted at once. The key is the scoped
    query, so two callers with different scopes never share an answer.
    """

    def __init__(
        self,
        store: AlertStore,
        ttl_s: float = 30.0,
        now: Callable[[], float] = time.monotonic,
        tabs_ttl_s: float = 10.0,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._tabs_ttl = tabs_ttl_s
        self._now = now
        self._lock = threading.Lock()
        self._generation = 0  # forget()s so far
        self._entries: OrderedDict[tuple[str, int, AlertQuery], tuple[float, object]] = (
            OrderedDict()
        )

    def counts(self, principal: Principal, filters: AlertFilters, key: CountKey) -> dict[str, int]:
        """Every value of ``key`` and its count (few values: jurisdictions, days)."""
        query = _count_query(principal, filters)
        return self._cached((key, 0, query), lambda: self._store.count_by(key, query))

    def top(
        self, principal: Principal, filters: AlertFilters, key: CountKey, size: int
    ) -> TopCounts:
        """The ``size`` values of ``key`` with most alerts and the count of the rest (sites)."""
        query = _count_query(principal, filters)
        return self._cached((key, size, query), lambda: self._store.top_counts(key, query, size))

    def tabs(self, principal: Principal, filters: AlertFilters) -> dict[str, int]:
        """Every status and its count among the alerts the other filters match (the tabs)."""
        query = filters.query(principal, paged=False)
        return self._cached(
            ("tabs", 0, query), lambda: self._store.count_by_status(query), self._tabs_ttl
        )

    def groups(self, principal: Principal, filters: AlertFilters) -> GroupPage:
        """A page of the list grouped by site or work (see :func:`groups`), kept as the tabs."""
        query = filters.query(principal)
        return self._cached(
            (f"groups:{filters.group}", 0, query),
            lambda: groups(self._store, principal, filters),
            self._tabs_ttl,
        )

    def forget(self) -> None:
        """Drop every answer; call it after changing statuses."""
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def _cached(
        self,
        cache_key: tuple[str, int, AlertQuery],
        compute: Callable[[], T],
        ttl_s: float | None = None,
    ) -> T:
        ttl = self._ttl if ttl_s is None else ttl_s
        with self._lock:
            hit = self._entries.get(cache_key)
            if hit is not None and self._now() - hit[0] < ttl:
                return cast(T, hit[1])  # stored by the same key, so by the same compute
            generation = self._generation
        value = compute()
        with self._lock:
            if generation != self._generation:
                return value  # counted before a change it may not show: not kept
            self._entries[cache_key] = (self._now(), value)
            while len(self._entries) > 256:
                self._entries.popitem(last=False)
        return value


def _count_query(principal: Principal, filters: AlertFilters) -> AlertQuery:
    return replace(filters.query(principal, paged=False), sort="last_seen")


@dataclass(frozen=True)
class Confidence:
    """How sure an alert's jurisdiction is, and the signals for and against it, for the page."""

    value: float  # tanba.core.jurisdictions.attribution.confidence
    backing: tuple[Signal, ...]
    against: tuple[Signal, ...]


def jurisdiction_confidence(alert: Alert) -> Confidence:
    """The alert's confidence by the current rule (not the figure stored under an older one)."""
    return Confidence(
        value=alert_confidence(alert),
        backing=tuple(s for s in alert.signals if s.value == alert.jurisdiction),
        against=tuple(s for s in alert.signals if s.value != alert.jurisdiction),
    )


def visible(store: AlertStore, principal: Principal, alert_id: str) -> Alert:
    """The alert if ``principal`` may see it; NotFound otherwise (whether it exists or not)."""
    return visible_alert(store, principal, alert_id)


def next_statuses(principal: Principal, alert: Alert) -> tuple[str, ...]:
    """The statuses this caller may move the alert to now (none for operators)."""
    return TRANSITIONS[alert.status] if principal.may_change_status(alert) else ()


def change_status(
    store: AlertStore,
    principal: Principal,
    alert_id: str,
    status: str,
    comment: str,
    clock: Clock,
) -> Alert:
    """Move a visible alert to ``status``; Forbidden for roles that may not, InputError if invalid."""
    alert = visible(store, principal, alert_id)
    if not principal.may_change_status(alert):
        raise Forbidden("your role may look at alerts but not change their status")
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    change = StatusChange(
        status=status,  # type: ignore[arg-type]
        actor=principal.name,
        at=iso(clock.now()),
        comment=comment.strip()[:2000],
    )
    return store.change_status(alert.id, change)


def bulk_query(
    principal: Principal, filters: AlertFilters, ids: Sequence[str], everything: bool
) -> AlertQuery:
    """The alerts a bulk change means: all that ``filters`` match, or the ``ids`` picked.

    Either way narrowed to what ``principal`` may see: picked ids outside its scope
    match nothing, as ids that do not exist.
    """
    if everything:
        return filters.query(principal, paged=False)
    picked = tuple(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if not picked:
        raise BulkRefused(
            "select some alerts, or all that match the filter, then choose an action",
            "none_selected",
        )
    if len(picked) > MAX_BULK:
        raise BulkRefused(
            f"select at most {MAX_BULK:,} alerts at once, or narrow the filter",
            "too_many_ids",
            most=MAX_BULK,
        )
    return principal.scope(AlertQuery(ids=picked, limit=0))


def change_many(
    store: AlertStore,
    principal: Principal,
    query: AlertQuery,
    status: str,
    comment: str,
    clock: Clock,
) -> BulkChange:
    """Move every alert of ``query`` to ``status`` in one store request, with ``principal`` as
    the actor of each history entry; the same rules as :func:`change_status`, per alert."""
    if not principal.may_change_statuses:
        raise Forbidden("your role may look at alerts but not change their status")
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    total = store.search(replace(query, limit=0, offset=0)).total
    if total > MAX_BULK:
        raise BulkRefused(
            f"{total:,} alerts match; one action changes at most {MAX_BULK:,}: narrow the "
            "filter (a site, a work, a status or a date range) and apply it part by part",
            "too_many",
            total=total,
            most=MAX_BULK,
        )
    change = StatusChange(
        status=status,  # type: ignore[arg-type]
        actor=principal.name,
        at=iso(clock.now()),
        comment=comment.strip()[:2000],
    )
    return store.change_many(principal.scope(query), change)
