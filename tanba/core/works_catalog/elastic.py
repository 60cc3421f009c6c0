"""The Elasticsearch works catalogue: one index of work entries, one document of positions.

Layout: the index ``tanba-works`` (``<namespace>-tanba-works`` with a namespace)
holds one document per work id, written with external versioning (the event's
topic offset is the version), so a write of an older event is refused (409,
ignored) and folding the same events twice, or from two processes, converges. A
removed work stays as a tombstone document (``removed: true``) for the same reason;
searches filter tombstones out. The positions the index reflects live in the
small index ``tanba-works-positions``, written after the entries they cover.

Mappings: keywords for the filters and the sort (owner, title key, work id, media),
the title and its words as ``text``, the licences stored but not indexed. A page is
one search sorted by (owner, title key, work id) with ``search_after`` from the
cursor, so a deep page costs what the first does; totals are exact
(``track_total_hits``). Text search is a ``prefix`` query per word on the ``words``
field, which holds the same pre-split lower-case words as the embedded catalogue's
FTS5 index, so both answer alike. The client and its retry rule are the alert
store's (:class:`~tanba.core.store.elastic.ElasticAlertStore`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from elasticsearch import Elasticsearch

from tanba.core.exceptions import TransientError
from tanba.core.store.elastic import ElasticAlertStore
from tanba.core.works_catalog.base import Change, SortKey, WorkCatalog, WorkEntry, WorkQuery, words

INDEX = "tanba-works"
POSITIONS_INDEX = "tanba-works-positions"
_POSITIONS_ID = "works"
_SORT = [{"owner": "asc"}, {"title_key": "asc"}, {"work_id": "asc"}]
_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        **{
            name: {"type": "keyword"}
            for name in (
                "work_id",
                "owner",
                "media",
                "sha256",
                "filename",
                "territories",
                "owner_home",
                "registered_at",
            )
        },
        "title_key": {"type": "keyword"},
        "title": {"type": "text"},
        "words": {"type": "text", "analyzer": "standard"},
        "removed": {"type": "boolean"},
        "licences": {"type": "object", "enabled": False},
    },
}


class ElasticWorkCatalog(WorkCatalog):
    """Works in an Elasticsearch 8 index; connects on first use, so building it never fails.

    ``refresh``: how a write waits to become searchable, ``wait_for`` (the default: a
    search after a write sees it) or ``false`` for bulk loads that call :meth:`refresh`.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        client: Elasticsearch | None = None,
        refresh: str = "wait_for",
    ) -> None:
        # The alert store's client, retry rule and error wording, on other indices.
        self._alerts = ElasticAlertStore(url, namespace=namespace, client=client)
        self._es = self._alerts._es
        self.url = url
        self.index = f"{namespace}-{INDEX}" if namespace else INDEX
        self.positions_index = f"{namespace}-{POSITIONS_INDEX}" if namespace else POSITIONS_INDEX
        self.refresh_mode = refresh
        self._ready = False

    def _ensure(self) -> None:
        if self._ready:
            return
        settings = {
            "number_of_shards": 1,
            "auto_expand_replicas": "0-1",
            "refresh_interval": "250ms",
        }
        for name, mappings in ((self.index, _MAPPINGS), (self.positions_index, {"enabled": False})):
            if not self._alerts._call(
                f"checking the index {name}", partial(self._es.indices.exists, index=name)
            ):
                # 400: another process created it meanwhile.
                self._alerts._call(
                    f"creating the index {name}",
                    partial(
                        self._es.options(ignore_status=400).indices.create,
                        index=name,
                        settings=settings,
                        mappings=mappings,
                    ),
                )
        self._ready = True

    def apply(self, changes: Sequence[Change], positions: Mapping[int, int]) -> None:
        self._ensure()
        operations: list[dict[str, Any]] = []
        for change in changes:
            operations.append(
                {
                    "index": {
                        "_index": self.index,
                        "_id": change.work_id,
                        "version": change.version,
                        "version_type": "external",
                    }
                }
            )
            operations.append(_document(change))
        if operations:
            response = self._alerts._call(
                f"writing {len(changes)} works",
                lambda: self._es.bulk(operations=operations, refresh=self.refresh_mode),
            )
            if response.get("errors"):
                for item in response["items"]:
                    status = int(next(iter(item.values())).get("status", 500))
                    if status >= 300 and status != 409:  # 409: a later version is there
                        raise TransientError(
                            f"Elasticsearch at {self.url} refused a work: {item}; "
                            "the next catch-up writes it again"
                        )
        stored = self.positions()
        merged = {p: max(o, stored.get(p, -1)) for p, o in positions.items()}
        self._alerts._call(
            "saving the works catalogue's positions",
            lambda: self._es.index(
                index=self.positions_index,
                id=_POSITIONS_ID,
                document={"positions": {str(p): o for p, o in merged.items()}},
                refresh=self.refresh_mode,
            ),
        )

    def positions(self) -> dict[int, int]:
        self._ensure()
        doc = self._alerts._call(
            "reading the works catalogue's positions",
            lambda: self._es.options(ignore_status=404).get(
                index=self.positions_index, id=_POSITIONS_ID
            ),
        )
        if not doc.get("found"):
            return {}
        return {int(p): int(o) for p, o in doc["_source"]["positions"].items()}

    def get(self, work_id: str) -> WorkEntry | None:
        self._ensure()
        doc = self._alerts._call(
            f"reading work {work_id}",
            lambda: self._es.options(ignore_status=404).get(index=self.index, id=work_id),
        )
        if not doc.get("found") or doc["_source"].get("removed"):
            return None
        return _entry(doc["_source"])

    def _page(self, query: WorkQuery, after: SortKey | None) -> tuple[list[WorkEntry], int]:
        self._ensure()
        response = self._alerts._call(
            "searching works",
            lambda: self._es.search(
                index=self.index,
                query=_filters(query),
                sort=_SORT,
                size=query.limit + 1,
                track_total_hits=True,
                search_after=list(after) if after is not None else None,
            ),
        )
        hits = response["hits"]
        return [_entry(h["_source"]) for h in hits["hits"]], int(hits["total"]["value"])

    def owners(self) -> list[str]:
        self._ensure()
        owners: list[str] = []
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": 1000,
                "sources": [{"o": {"terms": {"field": "owner"}}}],
            }
            if after is not None:
                composite["after"] = after
            response = self._alerts._call(
                "listing owners",
                partial(
                    self._es.search,
                    index=self.index,
                    query=_filters(WorkQuery()),
                    size=0,
                    aggs={"a": {"composite": composite}},
                ),
            )
            agg = response["aggregations"]["a"]
            owners += [str(b["key"]["o"]) for b in agg["buckets"]]
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return owners

    def refresh(self) -> None:
        """Make every write so far searchable (after writes with ``refresh='false'``)."""
        self._alerts._call("refreshing", lambda: self._es.indices.refresh(index=self.index))

    def drop(self) -> None:
        for name in (self.index, self.positions_index):
            self._alerts._call(
                f"deleting {name}",
                partial(
                    self._es.indices.delete,
                    index=name,
                    allow_no_indices=True,
                    ignore_unavailable=True,
                ),
            )
        self._ready = False

    def close(self) -> None:
        self._es.close()


def _document(change: Change) -> dict[str, Any]:
    entry = change.entry
    if entry is None:
        return {"work_id": change.work_id, "removed": True}
    return {
        **entry.model_dump(mode="json"),
        "title_key": entry.title_key(),
        "words": entry.search_text(),
        "removed": False,
    }


def _entry(source: dict[str, Any]) -> WorkEntry:
    return WorkEntry.model_validate(source)


def _filters(q: WorkQuery) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = [{"term": {"removed": False}}]
    for name in ("owner", "media"):
        value = getattr(q, name)
        if value:
            clauses.append({"term": {name: value}})
    if q.owners is not None:
        clauses.append({"terms": {"owner": list(q.owners)}})
    if q.work_ids is not None:
        clauses.append({"terms": {"work_id": list(q.work_ids)}})
    clauses += [{"prefix": {"words": word}} for word in words(q.text)]
    return {"bool": {"filter": clauses}}
