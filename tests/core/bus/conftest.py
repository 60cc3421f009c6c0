"""The ``bus`` fixture: every bus implementation, so contract tests run on each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tanba.core.bus import Bus
from tanba.core.bus.embedded import EmbeddedBus
from tests.services import drop_later, kafka_bootstrap, namespace  # noqa: F401 - fixtures

IMPLEMENTATIONS = ["embedded", "kafka"]
# The real server's runs carry the "services" mark: `pytest -m "not services"` runs without it.
PARAMS = [
    pytest.param(name, marks=pytest.mark.services) if name == "kafka" else name
    for name in IMPLEMENTATIONS
]


@pytest.fixture(params=PARAMS)
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    if request.param == "embedded":
        yield EmbeddedBus(tmp_path / "bus.sqlite3")
        return
    from tanba.core.bus.kafka import KafkaBus

    bootstrap = request.getfixturevalue("kafka_bootstrap")
    ns = request.getfixturevalue("namespace")
    instance = KafkaBus(bootstrap, namespace=ns)
    yield instance
    instance.close()
    drop_later(ns)
