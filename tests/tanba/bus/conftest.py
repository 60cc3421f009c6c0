"""The ``bus`` fixture: every bus implementation, so contract tests run on each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.bus import Bus
from tanba.bus.embedded import EmbeddedBus

IMPLEMENTATIONS = ["embedded"]


@pytest.fixture(params=IMPLEMENTATIONS)
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Bus:
    if request.param == "embedded":
        instance: Bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    yield instance
    instance.close()
