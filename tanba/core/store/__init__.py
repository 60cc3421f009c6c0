"""The alert store: one interface, an embedded (SQLite) and an Elasticsearch implementation."""

from __future__ import annotations

from tanba.core.settings import EMBEDDED, Settings
from tanba.core.store.base import AlertPage, AlertQuery, AlertStore, BulkChange


def open_store(settings: Settings) -> AlertStore:
    """The store the settings select; TANBA_NAMESPACE prefixes Elasticsearch index names."""
    if settings.store == EMBEDDED:
        from tanba.core.store.embedded import EmbeddedAlertStore

        return EmbeddedAlertStore(settings.path("alerts.sqlite3"))
    from tanba.core.store.elastic import ElasticAlertStore

    return ElasticAlertStore(settings.store, namespace=settings.namespace)


__all__ = ["AlertPage", "AlertQuery", "AlertStore", "BulkChange", "open_store"]
