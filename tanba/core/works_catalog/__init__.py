"""The works read model (:mod:`tanba.core.works_catalog.base`): SQLite embedded, an index in Elasticsearch."""

from __future__ import annotations

from tanba.core.settings import EMBEDDED, Settings
from tanba.core.works_catalog.base import WorkCatalog, WorkEntry, WorkPage, WorkQuery
from tanba.core.works_catalog.elastic import ElasticWorkCatalog
from tanba.core.works_catalog.embedded import EmbeddedWorkCatalog


def open_catalog(settings: Settings) -> WorkCatalog:
    """The catalogue the settings' store selects; TANBA_NAMESPACE prefixes the index name."""
    if settings.store == EMBEDDED:
        return EmbeddedWorkCatalog(settings.path("works.sqlite3"))
    return ElasticWorkCatalog(settings.store, namespace=settings.namespace)


__all__ = ["WorkCatalog", "WorkEntry", "WorkPage", "WorkQuery", "open_catalog"]
