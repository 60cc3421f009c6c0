"""Keyset (cursor) paging, shared by the alert stores.

A cursor is the position of one row in a sorted list of alerts: the row's sort
value and its alert id (the tie-break, so rows with equal values keep one
order), with the sort it belongs to. Callers treat it as opaque: it is
URL-safe base64 of a small JSON array, passed back as given. A page reached by
cursor costs the same at alert 100,000 as at alert 50, because the store seeks
to the position through an index (SQLite: a row-value comparison on
``(sort column, id)``; Elasticsearch: ``search_after``) instead of counting rows
from the start as an offset does.

The sort value is the store's own (Elasticsearch sorts dates as epoch
milliseconds, SQLite as ISO text), so a cursor is only good for the store that
gave it out, which is all a list needs.

Cursors are not signed: a made-up position only moves where the list starts,
and every read still applies the caller's filters and access scope. Decoding
checks shape, types and sort, so a damaged or foreign cursor is a
:class:`BadCursor` (HTTP 400 in the console) that says what to do, never a
server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tanba.core.alerts import Alert
from tanba.core.store.base import AlertPage, AlertQuery
from tanba.core.store.exceptions import BadCursor

SortValue = str | int | float
Mode = Literal["offset", "after", "before", "last"]
VERSION = 1
MAX_CURSOR_CHARS = 1024
_HOW = (
    "follow the list's next/previous links again, or start from the first page "
    "without 'after' or 'before'"
)


@dataclass(frozen=True)
class Position:
    """Where one row sits in a sorted list: its sort value, then its id."""

    value: SortValue
    id: str


Row = tuple[Alert, Position]
# seek(query, start, backward, limit, count) -> (rows in walking order, total or -1).
# ``start`` None: from the list's start (or its end when ``backward``); rows strictly
# after ``start`` in the walking direction; ``count``: also count every matching alert.
Seek = Callable[[AlertQuery, Position | None, bool, int, bool], tuple[list[Row], int]]


def mode(query: AlertQuery) -> Mode:
    """How ``query`` pages; InputError when it mixes an offset and a cursor."""
    chosen = [
        name
        for name, on in (("after", query.after), ("before", query.before), ("last", query.last))
        if on
    ]
    if len(chosen) > 1:
        raise BadCursor(f"give only one of {', '.join(chosen)}; {_HOW}")
    if chosen and query.offset:
        raise BadCursor(f"a page is reached by offset or by cursor, not both; {_HOW}")
    return chosen[0] if chosen else "offset"  # type: ignore[return-value]


def encode(query: AlertQuery, position: Position) -> str:
    """The opaque cursor of ``position`` in the list sorted as ``query`` asks."""
    data = [VERSION, query.sort, "d" if query.descending else "a", position.value, position.id]
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(text: str, query: AlertQuery, value_types: tuple[type, ...]) -> Position:
    """The position in ``text``; BadCursor unless this store gave it out for this sort."""
    if len(text) > MAX_CURSOR_CHARS:
        raise BadCursor(f"the cursor is too long to be one this list gave out; {_HOW}")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(f"the cursor {text[:40]!r} is damaged; {_HOW}") from None
    if not (isinstance(data, list) and len(data) == 5 and data[0] == VERSION):
        raise BadCursor(f"the cursor {text[:40]!r} is not one this list gave out; {_HOW}")
    _, sort, order, value, alert_id = data
    if sort != query.sort or order != ("d" if query.descending else "a"):
        want = f"{query.sort}, {'descending' if query.descending else 'ascending'}"
        raise BadCursor(
            f"the cursor belongs to a list in another order than this one ({want}); "
            f"keep the sort while paging, or {_HOW.split(', or ')[1]}"
        )
    if isinstance(value, bool) or not isinstance(value, value_types):
        raise BadCursor(f"the cursor {text[:40]!r} holds a value of the wrong kind; {_HOW}")
    if not isinstance(alert_id, str) or not alert_id:
        raise BadCursor(f"the cursor {text[:40]!r} names no alert; {_HOW}")
    if isinstance(value, int) and float in value_types and int not in value_types:
        value = float(value)  # JSON writes 1.0 as 1
    return Position(value, alert_id)


def offset_page(query: AlertQuery, rows: list[Row], total: int) -> AlertPage:
    """A page read by offset, with the cursors that continue from it."""
    next_cursor = prev_cursor = ""
    if rows and query.offset + len(rows) < total:
        next_cursor = encode(query, rows[-1][1])
    if rows and query.offset > 0:
        prev_cursor = encode(query, rows[0][1])
    return AlertPage([a for a, _ in rows], total, next_cursor, prev_cursor)


def keyset_page(query: AlertQuery, seek: Seek, value_types: tuple[type, ...]) -> AlertPage:
    """A page reached by cursor (``after``/``before``) or from the end (``last``).

    Reads ``limit + 1`` rows to know whether more follow; the other direction is
    probed with one row, so ``next_cursor``/``prev_cursor`` are empty exactly at the
    ends of the list. A ``before`` page that reaches the start is the first page, full.
    """
    limit = query.limit
    how = mode(query)
    start: Position | None = None
    more_before = more_after = False
    if how == "after":
        start = decode(query.after, query, value_types)
        rows, total = seek(query, start, False, limit + 1, True)
        more_after, rows = len(rows) > limit, rows[:limit]
        probe_from = rows[0][1] if rows else start
        more_before = bool(seek(query, probe_from, True, 1, False)[0])
    elif how == "before":
        start = decode(query.before, query, value_types)
        rows, total = seek(query, start, True, limit + 1, True)
        more_before, rows = len(rows) > limit, rows[:limit][::-1]
        if not more_before:  # reached the start: show a whole first page instead
            rows, _ = seek(query, None, False, limit + 1, False)
            more_after, rows = len(rows) > limit, rows[:limit]
        else:
            more_after = bool(seek(query, rows[-1][1], False, 1, False)[0])
    else:  # last
        rows, total = seek(query, None, True, limit + 1, True)
        more_before, rows = len(rows) > limit, rows[:limit][::-1]
    next_cursor = encode(query, rows[-1][1]) if more_after and rows else ""
    prev_cursor = ""
    if more_before:
        prev_cursor = encode(query, rows[0][1] if rows else start)  # type: ignore[arg-type]
    return AlertPage([a for a, _ in rows], total, next_cursor, prev_cursor)
