"""Fixtures of the reliability suite: the demo web and a home with its works registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness.chaos import register
from tanba.app.demo.site import DemoSite, build


@pytest.fixture(scope="session")
def demo() -> DemoSite:
    return build()


@pytest.fixture(scope="session")
def registered_home(tmp_path_factory: pytest.TempPathFactory, demo: DemoSite) -> Path:
    """A home holding the demo's registered works; tests copy it, never change it."""
    home = tmp_path_factory.mktemp("registered") / "home"
    register(home, demo)
    return home
