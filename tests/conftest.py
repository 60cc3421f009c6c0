"""Shared fixtures: settings on a temporary home, real media from Debian packages, a fixed clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.app import App
from tanba.clock import FixedClock
from tanba.demo import media
from tanba.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, home=tmp_path / "home")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2026-03-01T12:00:00Z")


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> App:
    application = App(settings, clock)
    yield application
    application.close()


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    return media.photos()


@pytest.fixture(scope="session")
def tracks() -> list[Path]:
    return media.music()
