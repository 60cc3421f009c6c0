"""The ``store`` fixture: every alert store implementation, so contract tests run on each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.store import AlertStore
from tanba.store.embedded import EmbeddedAlertStore

IMPLEMENTATIONS = ["embedded"]


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AlertStore:
    if request.param == "embedded":
        instance: AlertStore = EmbeddedAlertStore(tmp_path / "alerts.sqlite3")
    yield instance
    instance.close()
