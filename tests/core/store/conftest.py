"""The ``store`` fixture: every alert store implementation, so contract tests run on each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tanba.core.store import AlertStore
from tanba.core.store.embedded import EmbeddedAlertStore
from tests.services import elastic_url, new_namespace  # noqa: F401 - fixture

IMPLEMENTATIONS = ["embedded", "elasticsearch"]
# The real server's runs carry the "services" mark: `pytest -m "not services"` runs without it.
PARAMS = [
    pytest.param(name, marks=pytest.mark.services) if name == "elasticsearch" else name
    for name in IMPLEMENTATIONS
]


@pytest.fixture(scope="session")
def elastic_store(elastic_url: str) -> Iterator[AlertStore]:  # noqa: F811
    """One namespaced Elasticsearch store for the session: tests keep apart by work id."""
    from tanba.core.store.elastic import ElasticAlertStore

    # Writes wait for a refresh to be searchable; refresh often so tests do not wait 1 s each.
    instance = ElasticAlertStore(
        elastic_url, namespace=new_namespace("st"), refresh_interval="100ms"
    )
    yield instance
    instance.drop()
    instance.close()


@pytest.fixture(params=PARAMS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStore]:
    if request.param == "embedded":
        instance = EmbeddedAlertStore(tmp_path / "alerts.sqlite3")
        yield instance
        instance.close()
        return
    yield request.getfixturevalue("elastic_store")
