"""The Elasticsearch alert store: one index per jurisdiction behind one alias.

Layout: an index template (``tanba-alerts``) with explicit mappings gives every
index ``tanba-alerts-<code>`` (``tanba-alerts-kz``, ..., ``tanba-alerts-xx``) its
mappings and the alias ``tanba-alerts`` the console searches. An agency's
queries hit its own index; retention or snapshots can differ per state. With
a namespace, every name gets the prefix ``<namespace>-``. Indices are created
on first write, so a namespace only holds the states it has alerts for.

Mappings: keyword fields for every filter and count (ids, owner, status, site,
target, jurisdiction...), ``date`` for first/last sighting, ``float`` score,
titles as ``text``; the evidence (match detail, signals, history, captures) is
kept in ``_source`` but not indexed (``enabled: false``), and fields added to
:class:`~tanba.core.alerts.Alert` later are kept but not indexed (``dynamic: false``)
until the template maps them.

Writes: the alert id is the document ``_id``, so a replay overwrites instead of
adding. This distribution has no scripting (no painless), so the merge that
keeps an alert's first sighting, status and history (:func:`merge_seen`) runs
here: one search by id over the alias reads the stored copies, one ``bulk`` writes
the merged documents with optimistic concurrency (``if_seq_no``/``if_primary_term``,
or ``create`` for new ones), and the alerts whose write conflicted with another
writer (or with a write the search could not see yet) are read again, realtime
(``mget``), and merged again. Rejections (429) and unavailable shards are
retried with backoff, then reported as :class:`TransientError`.

Durability and visibility: Elasticsearch acknowledges a write after its
translog is fsynced (``index.translog.durability: request``, the default), so a
returned ``upsert`` survives a crash. Writes use ``refresh=wait_for``: the call
returns once a scheduled refresh (every ``refresh_interval``) has made them
searchable, so a search after a write sees it (the contract tests rely on it)
without forcing a refresh per request (``refresh=true``), which would make a
tiny segment per batch whatever the write rate. The cost is up to one refresh
interval of latency per matcher batch that holds alerts, so the interval is
250 ms rather than Elasticsearch's 1 s: alert indices take few writes (one
bulk per matcher batch), and with 1 s the matcher spent most of its time
waiting (bench/pipeline_throughput.py: ~1 s of each ~1.2 s batch).

Paging: by cursor (:mod:`tanba.core.store.keyset`), a page is one ``search_after``
request on the sort plus the id as tie-break, starting from the cursor's sort
values: as fast at alert 100,000 as at alert 50 (the console pages this way).
The last page is the first one of the reversed sort. By offset, ``from``/``size``
up to ``index.max_result_window`` (10,000); deeper offsets still work for old
callers but walk there with ``search_after`` a window at a time, which costs
seconds at 100,000 (use a cursor). No point in time is kept, so a page may
shift if alerts are written meanwhile. Counts use a ``composite`` aggregation,
paged to the end, so they are exact whatever the number of sites or days;
:meth:`ElasticAlertStore.top_counts` (the site chart) and
:meth:`ElasticAlertStore.groups` (the list grouped by site or work) are one bounded ``terms``
aggregation instead, exact as long as a site's alerts sit in one jurisdiction's
index (per-index counts are exact; a value split over indices could be missed
from the top by at most ``doc_count_error_upper_bound``).

An alert whose jurisdiction changed (its site moved) is written to its new
index and its copy in the old index is deleted in the same bulk request.

Why one module of about 650 lines: it is one implementation of the
:class:`~tanba.core.store.AlertStore` contract, whose write path (bulk with
retries, merging copies across indices) and read path (cursors, counts) share
the client, the index naming and the retry rule; the mappings and the query
language it speaks are apart (:mod:`tanba.core.store.elastic_dsl`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from elasticsearch import ApiError, Elasticsearch, TransportError

from tanba.core.alerts import Alert, StatusChange, merge_seen
from tanba.core.exceptions import TanbaError, TransientError
from tanba.core.store.base import (
    AlertPage,
    AlertQuery,
    AlertStore,
    BulkChange,
    CountKey,
    Group,
    GroupKey,
    GroupPage,
    TopCounts,
    moved,
)
from tanba.core.store.elastic_dsl import COUNT_FIELDS, filters_of, mappings, row_of, sort_of
from tanba.core.store.keyset import Position, Row, keyset_page, mode, offset_page

log = logging.getLogger("tanba.core.store.elastic")

T = TypeVar("T")

# Stable names: the alias the console reads and the prefix of every per-jurisdiction index.
ALIAS = "tanba-alerts"
# Statuses that mean "try again later": rejected, bad gateway, unavailable, gateway timeout.
_RETRY_STATUSES = (429, 502, 503, 504)
_WRITE_ATTEMPTS = 8
_MAX_BACKOFF_S = 5.0
_COMPOSITE_PAGE = 1000
# Documents per read page and per bulk request of a change of many alerts.
_BULK_PAGE = 1000
# Bulk requests of one change of many alerts sent at once (see ElasticStore._bulk_pages).
_BULK_IN_FLIGHT = 4
# How often new alerts become searchable; a write waits for the next refresh (see above).
REFRESH_INTERVAL = "250ms"
# The type of each sort key's values in a cursor: Elasticsearch sorts dates as epoch ms.
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "last_seen": (int,),
    "first_seen": (int,),
    "score": (float, int),
}
# Per-index candidates a terms aggregation collects for each value it returns.
_SHARD_SIZE_FACTOR = 4
# Below this many distinct values a cardinality aggregation counts them (all but) exactly;
# the highest Elasticsearch takes.
_CARDINALITY_PRECISION = 40_000


@dataclass(frozen=True)
class _Stored:
    """A copy of an alert as stored, with what optimistic concurrency needs."""

    index: str
    seq_no: int
    primary_term: int
    alert: Alert


@dataclass(frozen=True)
class _Action:
    """One bulk action (its metadata line and, except for deletes, its document)."""

    alert_id: str
    action: dict[str, Any]
    source: dict[str, Any] | None = None


class ElasticAlertStore(AlertStore):
    """Alerts in Elasticsearch 8; the client connects on first use, so building it never fails."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        client: Elasticsearch | None = None,
        max_result_window: int = 10_000,
        refresh_interval: str = REFRESH_INTERVAL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.alias = f"{namespace}-{ALIAS}" if namespace else ALIAS
        self.max_result_window = max_result_window
        self.refresh_interval = refresh_interval
        self._sleep = sleep
        self._es = client or Elasticsearch(
            url,
            request_timeout=30,
            max_retries=2,
            retry_on_timeout=True,
            retry_on_status=_RETRY_STATUSES,
        )
        self._ready = False

    # --- names and setup -------------------------------------------------------------

    def index_for(self, jurisdiction: str) -> str:
        """The index holding a jurisdiction's alerts, e.g. ``tanba-alerts-kz``."""
        return f"{self.alias}-{jurisdiction.lower()}"

    @property
    def pattern(self) -> str:
        return f"{self.alias}-*"

    def _ensure(self) -> None:
        """Install the index template once per process, and push its mappings to old indices."""
        if self._ready:
            return
        self._call(
            "installing the index template",
            lambda: self._es.indices.put_index_template(
                name=self.alias,
                index_patterns=[self.pattern],
                # A longer (namespaced) pattern wins over a shorter one that also matches.
                priority=100 + len(self.alias),
                template={
                    "settings": {
                        "number_of_shards": 1,
                        "auto_expand_replicas": "0-1",  # 0 on one node, 1 once a second joins
                        "refresh_interval": self.refresh_interval,
                        "max_result_window": self.max_result_window,
                    },
                    "mappings": mappings(),
                    "aliases": {self.alias: {}},
                },
            ),
        )
        # Indices made by an older template get the new fields too (mappings only grow).
        self._call(
            "updating the mappings of existing indices",
            lambda: self._es.indices.put_mapping(
                index=self.pattern,
                allow_no_indices=True,
                ignore_unavailable=True,
                **mappings(),
            ),
        )
        self._ready = True

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run one request, translating an unreachable or overloaded cluster into TransientError."""
        try:
            return action()
        except ApiError as exc:
            if exc.meta.status in _RETRY_STATUSES:
                raise TransientError(
                    f"Elasticsearch at {self.url}: {what} failed with status {exc.meta.status} "
                    f"({exc.message}); retrying"
                ) from exc
            raise TanbaError(f"Elasticsearch at {self.url}: {what} failed: {exc}") from exc
        except TransportError as exc:  # connection refused, timeout, reset
            raise TransientError(
                f"Elasticsearch at {self.url} is unreachable ({what}: {type(exc).__name__}: {exc}); "
                "retrying; check that it runs ('scripts/services status elasticsearch')"
            ) from exc

    # --- writes ------------------------------------------------------------------------

    def upsert(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        self._ensure()
        incoming: dict[str, Alert] = {}
        for alert in alerts:  # the same alert twice in one batch: two sightings
            seen = incoming.get(alert.id)
            incoming[alert.id] = merge_seen(seen, alert) if seen is not None else alert
        pending = dict(incoming)
        delay = 0.1
        for attempt in range(_WRITE_ATTEMPTS):
            # The first read is one search; a retry (a conflict, a rejection) reads realtime.
            stored = self._locate(pending.values(), realtime=attempt > 0)
            actions = [
                action
                for alert_id, alert in pending.items()
                for action in self._merge_actions(alert, stored.get(alert_id, []))
            ]
            failed, busy = self._bulk(actions)
            if not failed:
                return
            pending = {alert_id: incoming[alert_id] for alert_id in failed}
            delay = self._back_off(delay) if busy else delay
        raise TransientError(
            f"Elasticsearch at {self.url}: {len(pending)} alerts still conflicting or rejected "
            f"after {_WRITE_ATTEMPTS} attempts; the batch will be retried"
        )

    def _back_off(self, delay: float) -> float:
        """Wait ``delay`` seconds (the cluster said it was busy); the next wait is twice as long."""
        self._sleep(delay)
        return min(delay * 2, _MAX_BACKOFF_S)

    def _merge_actions(self, alert: Alert, copies: list[_Stored]) -> list[_Action]:
        """Bulk actions writing ``alert`` merged with its stored copies, and removing stale ones."""
        target = self.index_for(alert.jurisdiction)
        merged = alert
        for copy in sorted(copies, key=lambda c: c.alert.last_seen):
            merged = merge_seen(copy.alert, merged)
        in_target = next((c for c in copies if c.index == target), None)
        action: dict[str, Any]
        if in_target is None:
            action = {"create": {"_index": target, "_id": alert.id}}
        else:
            action = {
                "index": {
                    "_index": target,
                    "_id": alert.id,
                    "if_seq_no": in_target.seq_no,
                    "if_primary_term": in_target.primary_term,
                }
            }
        actions = [_Action(alert.id, action, merged.model_dump(mode="json"))]
        for copy in copies:
            if copy.index != target:
                delete = {
                    "_index": copy.index,
                    "_id": alert.id,
                    "if_seq_no": copy.seq_no,
                    "if_primary_term": copy.primary_term,
                }
                actions.append(_Action(alert.id, {"delete": delete}))
        return actions

    def _bulk(self, actions: list[_Action], wait: bool = True) -> tuple[set[str], bool]:
        """Run a bulk request; the alert ids to redo, and whether the cluster pushed back.

        ``wait``: return once a refresh has made the writes searchable (see above); a
        series of requests waits on its last one only, whose refresh shows them all.
        """
        operations: list[dict[str, Any]] = []
        for a in actions:
            operations += [a.action] if a.source is None else [a.action, a.source]
        response = self._call(
            f"writing {len(actions)} alert documents",
            lambda: self._es.bulk(operations=operations, refresh="wait_for" if wait else False),
        )
        if not response.get("errors"):
            return set(), False
        failed: set[str] = set()
        busy = False
        for owner, item in zip((a.alert_id for a in actions), response["items"], strict=True):
            kind, result = next(iter(item.items()))
            status = int(result.get("status", 500))
            if status < 300 or (kind == "delete" and status == 404):
                continue
            if status == 409:  # another writer got there first: read it and merge again
                failed.add(owner)
            elif status in _RETRY_STATUSES or status >= 500:
                failed.add(owner)
                busy = True
            else:
                raise TanbaError(
                    f"Elasticsearch at {self.url} refused alert {owner}: {result.get('error')}"
                )
        return failed, busy

    def _replace(self, alert: Alert) -> None:
        """Write ``alert`` as given, in its jurisdiction's index only.

        Unconditional (the base class read the alert just before): a matcher upsert racing
        with it loses its optimistic check and merges again, so the new status stays; the
        reverse race can put ``last_seen`` back by one sighting, which the next one fixes.
        """
        self._ensure()
        target = self.index_for(alert.jurisdiction)
        actions = [
            _Action(
                alert.id,
                {"index": {"_index": target, "_id": alert.id}},
                alert.model_dump(mode="json"),
            )
        ]
        for copy in self._search_copies([alert.id]).get(alert.id, []):
            if copy.index != target:
                actions.append(
                    _Action(alert.id, {"delete": {"_index": copy.index, "_id": alert.id}})
                )
        failed, _ = self._bulk(actions)
        if failed:
            raise TransientError(f"Elasticsearch at {self.url}: alert {alert.id} was not replaced")

    def change_many(self, query: AlertQuery, change: StatusChange) -> BulkChange:
        """Read the matching documents, rewrite those that may move with optimistic concurrency.

        Not ``update_by_query``: it needs a script, and this distribution has none. The
        documents are read a page at a time with their sequence numbers and written back
        in bulk requests with ``if_seq_no``; an alert another writer changed meanwhile
        (409) is read again and decided again, so a concurrent sighting keeps the new
        status and a concurrent status change is not overwritten.
        """
        self._ensure()
        changed: dict[str, None] = {}
        refused: Counter[str] = Counter()
        pending = query
        delay = 0.1
        for _ in range(_WRITE_ATTEMPTS):
            actions: list[_Action] = []
            for hit in self._scan(pending):
                alert = Alert.model_validate(hit["_source"])
                updated = moved(alert, change)
                if updated is None:
                    refused[alert.status] += 1
                    continue
                meta = {
                    "_index": hit["_index"],
                    "_id": alert.id,
                    "if_seq_no": hit["_seq_no"],
                    "if_primary_term": hit["_primary_term"],
                }
                actions.append(_Action(alert.id, {"index": meta}, updated.model_dump(mode="json")))
            failed, busy = self._bulk_pages(
                [actions[i : i + _BULK_PAGE] for i in range(0, len(actions), _BULK_PAGE)]
            )
            changed.update((a.alert_id, None) for a in actions if a.alert_id not in failed)
            if not failed:
                return BulkChange(tuple(changed), dict(refused))
            pending = replace(query, ids=tuple(sorted(failed)))
            delay = self._back_off(delay) if busy else delay
        raise TransientError(
            f"Elasticsearch at {self.url}: {len(failed)} alerts still conflicting or rejected "
            f"after {_WRITE_ATTEMPTS} attempts; {len(changed)} were changed, try the rest again"
        )

    def _bulk_pages(self, pages: list[list[_Action]]) -> tuple[set[str], bool]:
        """Run one bulk request per page: all but the last :data:`_BULK_IN_FLIGHT` at a time,
        then the last, which waits for the refresh that shows them all (they have answered).

        Why not one after the other: each request is written and synced by the node before
        it answers, and the node has a write thread per core, so it can work on several.
        Changing 5,000 alerts of 100,000 took 10.2 s (mean of 4) this way and 13.0 s one
        request at a time, alternated on the same index, at a load average of 28 on 2
        cores.
        """
        failed: set[str] = set()
        busy = False
        answers: list[tuple[set[str], bool]] = []
        if len(pages) > 1:
            with ThreadPoolExecutor(max_workers=_BULK_IN_FLIGHT) as pool:
                answers += pool.map(lambda page: self._bulk(page, wait=False), pages[:-1])
        if pages:
            answers.append(self._bulk(pages[-1], wait=True))
        for page_failed, page_busy in answers:
            failed |= page_failed
            busy = busy or page_busy
        return failed, busy

    def _scan(self, query: AlertQuery) -> Iterable[dict[str, Any]]:
        """Every hit of ``query`` with its sequence number, in id order, a page at a time."""
        size = min(_BULK_PAGE, self.max_result_window)
        after: list[Any] | None = None
        while True:
            response = self._search(
                query,
                track_total_hits=False,
                sort=[{"id": "asc"}],
                size=size,
                search_after=after,
                seq_no_primary_term=True,
            )
            hits = response["hits"]["hits"]
            yield from hits
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    # --- reads ---------------------------------------------------------------------------

    def _locate(self, alerts: Iterable[Alert], realtime: bool) -> dict[str, list[_Stored]]:
        """Every stored copy of these alerts; ``realtime``: in their own index by a realtime
        ``mget`` (a write not yet refreshed included) besides the search of the others.

        Without ``realtime`` one search over the alias finds them all as of the last
        refresh: every write of this store returns only once refreshed, so what it misses
        is a write still in flight, whose ``create`` or ``if_seq_no`` then conflicts (409)
        and the retry reads realtime. A matcher batch is then two requests (this search and
        the bulk), not three: Elasticsearch's CPU per alert is the pipeline's largest cost
        beyond the embedded store's (bench/pipeline_throughput.py).
        """
        wanted = list(alerts)
        if not realtime:
            return self._search_copies([a.id for a in wanted])
        found: dict[str, list[_Stored]] = {}
        response = self._call(
            "reading stored alerts",
            lambda: self._es.mget(
                docs=[{"_index": self.index_for(a.jurisdiction), "_id": a.id} for a in wanted],
                realtime=True,
            ),
        )
        for doc in response["docs"]:
            if doc.get("found"):
                found.setdefault(doc["_id"], []).append(_stored(doc))
            elif "error" in doc and doc["error"].get("type") != "index_not_found_exception":
                raise TransientError(f"Elasticsearch at {self.url}: mget failed: {doc['error']}")
        # Copies elsewhere exist only if an alert changed jurisdiction; every write waits for
        # a refresh before it returns, so a search sees every finished write.
        targets = {a.id: self.index_for(a.jurisdiction) for a in wanted}
        for alert_id, copies in self._search_copies(list(targets)).items():
            found.setdefault(alert_id, []).extend(c for c in copies if c.index != targets[alert_id])
        return found

    def _search_copies(self, ids: list[str]) -> dict[str, list[_Stored]]:
        response = self._call(
            "looking up alerts by id",
            lambda: self._es.search(
                index=self.alias,
                query={"ids": {"values": ids}},
                size=min(len(ids) * 4, self.max_result_window),
                seq_no_primary_term=True,
                ignore_unavailable=True,
                allow_no_indices=True,
            ),
        )
        copies: dict[str, list[_Stored]] = {}
        for hit in response["hits"]["hits"]:
            copies.setdefault(hit["_id"], []).append(_stored(hit))
        return copies

    def get(self, alert_id: str) -> Alert | None:
        self._ensure()
        copies = self._search_copies([alert_id]).get(alert_id, [])
        if not copies:
            return None
        return max(copies, key=lambda c: c.alert.last_seen).alert

    def search(self, query: AlertQuery) -> AlertPage:
        self._ensure()
        if query.sort not in _VALUE_TYPES:
            raise TanbaError(f"cannot sort alerts by {query.sort!r}")
        if mode(query) != "offset":
            return keyset_page(query, self._seek, _VALUE_TYPES[query.sort])
        sort = sort_of(query.sort, query.descending)
        if query.offset + query.limit <= self.max_result_window:
            response = self._search(query, sort=sort, from_=query.offset, size=query.limit)
            hits = response["hits"]["hits"]
            total = int(response["hits"]["total"]["value"])
        else:
            hits, total = self._deep_page(query, sort)
        return offset_page(query, [row_of(h) for h in hits], total)

    def _seek(
        self, query: AlertQuery, start: Position | None, backward: bool, limit: int, count: bool
    ) -> tuple[list[Row], int]:
        """One ``search_after`` request from ``start`` in the walking direction."""
        response = self._search(
            query,
            sort=sort_of(query.sort, query.descending != backward),
            size=limit,
            search_after=[start.value, start.id] if start is not None else None,
            track_total_hits=count,
        )
        total = int(response["hits"]["total"]["value"]) if count else -1
        return [row_of(h) for h in response["hits"]["hits"]], total

    def _deep_page(self, query: AlertQuery, sort: list[dict[str, str]]) -> tuple[list[Any], int]:
        """A page past max_result_window by offset: walk there with search_after, a window at a
        time (seconds at 100,000; kept for callers that page by offset, the console does not)."""
        skip, after, total = query.offset, None, 0
        while True:
            size = min(self.max_result_window, skip) if skip else query.limit
            response = self._search(query, sort=sort, size=size, search_after=after)
            hits = response["hits"]["hits"]
            total = int(response["hits"]["total"]["value"])
            if not skip or not hits:
                return (hits if not skip else []), total
            skip -= len(hits)
            after = hits[-1]["sort"]

    def _search(self, query: AlertQuery, track_total_hits: bool = True, **params: Any) -> Any:
        return self._call(
            "searching alerts",
            lambda: self._es.search(
                index=self._indices(query),
                query=filters_of(query),
                track_total_hits=track_total_hits,
                ignore_unavailable=True,
                allow_no_indices=True,
                **{k: v for k, v in params.items() if v is not None},
            ),
        )

    def _indices(self, query: AlertQuery) -> str:
        """Only the indices of the asked-for jurisdictions, when the query names some."""
        codes = set(query.jurisdictions)
        if query.jurisdiction:
            codes = {query.jurisdiction} if not codes or query.jurisdiction in codes else set()
            if not codes:  # asked for a jurisdiction outside the allowed ones: nothing matches
                return self.index_for("none")
        return ",".join(sorted(self.index_for(c) for c in codes)) if codes else self.alias

    def count_by(self, key: CountKey, query: AlertQuery) -> dict[str, int]:
        self._ensure()
        if key == "day":
            source: dict[str, Any] = {
                "date_histogram": {
                    "field": "last_seen",
                    "calendar_interval": "1d",
                    "format": "yyyy-MM-dd",
                    "time_zone": "UTC",
                }
            }
        else:
            source = {"terms": {"field": COUNT_FIELDS[key]}}
        counts: dict[str, int] = {}
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _COMPOSITE_PAGE, "sources": [{"k": source}]}
            if after is not None:
                composite["after"] = after
            by = self._aggregate(f"counting alerts by {key}", query, {"composite": composite})
            if not by or not by["buckets"]:
                return counts
            for bucket in by["buckets"]:
                counts[str(bucket["key"]["k"])] = int(bucket["doc_count"])
            after = by.get("after_key")
            if after is None:
                return counts

    def top_counts(self, key: CountKey, query: AlertQuery, size: int) -> TopCounts:
        """One bounded ``terms`` aggregation (days go through :meth:`count_by`)."""
        if key not in COUNT_FIELDS:
            return super().top_counts(key, query, size)
        self._ensure()
        terms = {
            "field": COUNT_FIELDS[key],
            "size": size,
            "shard_size": max(size * _SHARD_SIZE_FACTOR, 50),
        }
        top = self._aggregate(f"counting the top {size} values of {key}", query, {"terms": terms})
        if not top:
            return TopCounts({})
        counts = {str(b["key"]): int(b["doc_count"]) for b in top["buckets"]}
        return TopCounts(counts, int(top.get("sum_other_doc_count", 0)))

    def groups(self, key: GroupKey, query: AlertQuery) -> GroupPage:
        """One request: a ``terms`` aggregation (most alerts first, the latest sighting of
        each) cut to the page, and a ``cardinality`` for the number of groups."""
        self._ensure()
        size = max(1, query.offset + query.limit)
        terms = {
            "field": COUNT_FIELDS[key],
            "size": size,
            "shard_size": max(size * _SHARD_SIZE_FACTOR, 50),
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }
        response = self._call(
            f"grouping alerts by {key}",
            lambda: self._es.search(
                index=self._indices(query),
                query=filters_of(query),
                size=0,
                aggs={
                    "g": {"terms": terms, "aggs": {"seen": {"max": {"field": "last_seen"}}}},
                    "n": {
                        "cardinality": {
                            "field": COUNT_FIELDS[key],
                            "precision_threshold": _CARDINALITY_PRECISION,
                        }
                    },
                },
                ignore_unavailable=True,
                allow_no_indices=True,
            ),
        )
        aggs = response.get("aggregations") or {}
        if not aggs:  # no index yet
            return GroupPage([], 0)
        buckets = aggs["g"]["buckets"][query.offset : query.offset + query.limit]
        groups = [
            Group(str(b["key"]), int(b["doc_count"]), str(b["seen"]["value_as_string"]))
            for b in buckets
        ]
        total = int(aggs["n"]["value"])
        exact = aggs["g"].get("doc_count_error_upper_bound", 0) == 0
        return GroupPage(groups, total, exact and total < _CARDINALITY_PRECISION)

    def _aggregate(self, what: str, query: AlertQuery, aggregation: dict[str, Any]) -> Any:
        """The result of one aggregation over the alerts ``query`` matches (None when empty)."""
        response = self._call(
            what,
            lambda: self._es.search(
                index=self._indices(query),
                query=filters_of(query),
                size=0,
                aggs={"a": aggregation},
                ignore_unavailable=True,
                allow_no_indices=True,
            ),
        )
        return (response.get("aggregations") or {}).get("a")

    # --- housekeeping --------------------------------------------------------------------

    def drop(self) -> None:
        """Delete every index and the template of this store (tests and namespace clean-up)."""
        self._call(
            "deleting indices",
            lambda: self._es.indices.delete(
                index=self.pattern, allow_no_indices=True, ignore_unavailable=True
            ),
        )
        try:
            self._es.indices.delete_index_template(name=self.alias)
        except ApiError as exc:
            if exc.meta.status != 404:
                raise
        self._ready = False

    def close(self) -> None:
        self._es.close()


def _stored(doc: dict[str, Any]) -> _Stored:
    return _Stored(
        index=doc["_index"],
        seq_no=int(doc["_seq_no"]),
        primary_term=int(doc["_primary_term"]),
        alert=Alert.model_validate(doc["_source"]),
    )
