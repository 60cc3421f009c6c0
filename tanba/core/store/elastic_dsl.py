"""Alerts in Elasticsearch's terms: the index mappings, and queries, sorts and pages as its DSL.

Contract: :func:`mappings` is every alert index's explicit mapping (ids and codes
as keywords, dates as dates, the bulky nested parts stored but not indexed);
:func:`filters_of` turns an :class:`~tanba.core.store.AlertQuery` into a bool
filter, :func:`sort_of` a sort key into a total order (the alert id breaks ties),
:func:`row_of` a hit into an alert and its cursor position. Pure functions: the
store (:mod:`tanba.core.store.elastic`) owns the client.
"""

from __future__ import annotations

from typing import Any

from tanba.core.alerts import Alert
from tanba.core.store.base import AlertQuery
from tanba.core.store.keyset import Position, Row

KEYWORDS = (
    "id",
    "work_id",
    "owner",
    "media",
    "page_url",
    "media_url",
    "media_sha256",
    "site",
    "target",
    "server_ip",
    "jurisdiction",
    "owner_home",
    "status",
    "crawl_id",
)
NOT_INDEXED = ("match", "signals", "history", "page_capture", "media_capture")
# The field each count key groups by (``day`` is a date histogram on last_seen).
COUNT_FIELDS: dict[str, str] = {
    "jurisdiction": "jurisdiction",
    "site": "site",
    "status": "status",
    "work_id": "work_id",
    "target": "target",
}


def mappings() -> dict[str, Any]:
    """The explicit mappings of every alert index."""
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in KEYWORDS}
    properties |= {name: {"type": "object", "enabled": False} for name in NOT_INDEXED}
    properties |= {
        "first_seen": {"type": "date", "format": "strict_date_optional_time"},
        "last_seen": {"type": "date", "format": "strict_date_optional_time"},
        "score": {"type": "float"},
        "jurisdiction_confidence": {"type": "float"},
        "cross_border": {"type": "boolean"},
        "work_title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
        "page_title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
    }
    return {"dynamic": False, "properties": properties}


def sort_of(key: str, descending: bool) -> list[dict[str, str]]:
    """The sort of a page: the key, then the alert id so that equal values keep one order."""
    order = "desc" if descending else "asc"
    return [{key: order}, {"id": order}]


def row_of(hit: dict[str, Any]) -> Row:
    value, alert_id = hit["sort"]
    return Alert.model_validate(hit["_source"]), Position(value, str(alert_id))


def filters_of(q: AlertQuery) -> dict[str, Any]:
    """The bool filter of a query; empty fields do not filter."""
    clauses: list[dict[str, Any]] = []
    for name in ("jurisdiction", "work_id", "owner", "status", "site", "media", "target"):
        value = getattr(q, name)
        if value:
            clauses.append({"term": {name: value}})
    if q.ids:
        clauses.append({"ids": {"values": list(q.ids)}})
    for name, values in (("owner", q.owners), ("jurisdiction", q.jurisdictions)):
        if values:
            clauses.append({"terms": {name: list(values)}})
    span: dict[str, str] = {}
    if q.since:
        span["gte"] = q.since
    if q.until:
        span["lt"] = q.until
    if span:
        clauses.append({"range": {"last_seen": span}})
    return {"bool": {"filter": clauses}}
