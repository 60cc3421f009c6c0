"""Shared fixtures: settings on a temporary home, real Debian media, a fixed clock, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tanba.app.demo import media
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence.screenshot import CHROMIUM, CHROMIUM_ARGS


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright, with the flags the evidence capture uses.

    Never a downloaded browser; a missing Chromium fails the test that asks for it.
    """
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield instance
        instance.close()
