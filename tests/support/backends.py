"""The ``bus`` and ``store`` fixtures: every implementation in turn, so one test runs on each.

Contract: a test that asks for ``bus`` runs on the embedded bus (a SQLite file in the
test's temporary folder, closed after the test) and on the real Kafka (``kafka_bus``:
its own namespace, dropped at the end of the session); one that asks for ``store``, on
the embedded alert store and on the real Elasticsearch (``elastic_store``: one
namespaced store for the session). The server runs carry the ``services`` mark, so
``pytest -m "not services"`` runs without them. A conftest imports these fixtures
together with those of :mod:`tests.services` they need (``kafka_bootstrap``,
``namespace``, ``elastic_url``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from tanba.core.bus import Bus
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.settings import Settings
from tanba.core.store import AlertStore
from tanba.core.store.embedded import EmbeddedAlertStore
from tests.services import drop_later, drop_namespace, new_namespace


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


def _each(request: pytest.FixtureRequest, embedded: Callable[[], T], served: str) -> Iterator[T]:
    """The embedded implementation (closed after the test), or the fixture ``served``."""
    if request.param == "embedded":
        with closing(embedded()) as instance:
            yield instance
    else:
        yield request.getfixturevalue(served)


def _on_server(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.services)


@pytest.fixture(params=["embedded", _on_server("kafka")])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    yield from _each(request, lambda: EmbeddedBus(tmp_path / "bus.sqlite3"), "kafka_bus")


@pytest.fixture
def kafka_bus(kafka_bootstrap: str, namespace: str) -> Iterator[Bus]:
    from tanba.core.bus.kafka import KafkaBus

    with closing(KafkaBus(kafka_bootstrap, namespace=namespace)) as instance:
        yield instance
    drop_later(namespace)


@pytest.fixture(params=["embedded", _on_server("elasticsearch")])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStore]:
    yield from _each(
        request, lambda: EmbeddedAlertStore(tmp_path / "alerts.sqlite3"), "elastic_store"
    )


@pytest.fixture(scope="session")
def elastic_store(elastic_url: str) -> Iterator[AlertStore]:
    """One namespaced Elasticsearch store for the session: tests keep apart by work id."""
    from tanba.core.store.elastic import ElasticAlertStore

    # Writes wait for a refresh to be searchable; refresh often so tests do not wait 1 s each.
    instance = ElasticAlertStore(
        elastic_url, namespace=new_namespace("st"), refresh_interval="100ms"
    )
    yield instance
    instance.drop()
    instance.close()


# The params of a fixture that runs a console test on each alert store.
CONSOLE_STORES = ["embedded", _on_server("elasticsearch")]


def console_settings(
    request: pytest.FixtureRequest, tmp_path: Path, prefix: str
) -> Iterator[Settings]:
    """A console's settings, its alerts in SQLite or in a new namespace of Elasticsearch
    (dropped after the test), as ``request.param`` says (one of :data:`CONSOLE_STORES`)."""
    if request.param == "embedded":
        yield Settings.from_env({}, home=tmp_path / "home", console_scheduler=False)
        return
    ns = new_namespace(prefix)
    yield Settings.from_env(
        {},
        home=tmp_path / "home",
        store=request.getfixturevalue("elastic_url"),
        namespace=ns,
        console_scheduler=False,
    )
    drop_namespace(ns, kafka=False)
