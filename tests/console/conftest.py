"""Fixtures of the console tests: an App on a temporary home, users of every role, seeded alerts.

Alerts are written straight into the store (no crawl needed); users get cheap
Argon2 parameters so that logging in five roles stays fast. ``login(name)``
returns a TestClient with a session cookie and that session's CSRF token. The browser
tests' ``live`` console (uvicorn on an ephemeral loopback port), ``page`` (a Chromium
page) and ``sign_in(name)`` (the login form, filled in like a person) are here too.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from tanba.console.context import Console
from tanba.console.web import create_app
from tanba.core.alerts import Alert
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tests.support.alerts import make_alert

PASSWORD = "correct horse battery"
# 64 KiB and one pass: about 0.05 ms a hash where 8 MiB took 4.5 ms, and the console's tests
# hash and check a few hundred passwords; what they test is who may log in, not the cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

# name -> (role, org, jurisdiction)
PEOPLE: dict[str, tuple[str, str, str]] = {
    "admin": ("admin", "", ""),
    "alice": ("rights_holder", "Owner A", ""),
    "bob": ("rights_holder", "Owner B", ""),
    "kz-agency": ("agency", "", "KZ"),
    "ops": ("operator", "", ""),
}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The console's tests crawl loopback sites and never start the scheduler."""
    return Settings.from_env(
        {}, home=tmp_path / "home", console_allow_private_targets=True, console_scheduler=False
    )


@pytest.fixture
def web(app: App) -> Iterator[FastAPI]:
    application = create_app(app, hasher=FAST_HASHER)
    yield application
    launcher = application.state.console.launcher
    if hasattr(launcher, "stop_all"):
        launcher.stop_all()


@pytest.fixture
def client(web: FastAPI) -> TestClient:
    """A client of the console with no session: API calls carry a token (``token_for``)."""
    return TestClient(web)


@pytest.fixture
def console(web: FastAPI) -> Console:
    return web.state.console  # type: ignore[no-any-return]


@pytest.fixture
def people(console: Console) -> dict[str, str]:
    """Every role's user, all with PASSWORD; returns name -> role."""
    for name, (role, org, jurisdiction) in PEOPLE.items():
        console.users.add(name, PASSWORD, role, org=org, jurisdiction=jurisdiction, language="en")
    return {name: spec[0] for name, spec in PEOPLE.items()}


@dataclass
class Session:
    """A logged-in test client and the CSRF token of its session."""

    client: TestClient
    csrf: str

    def post(self, url: str, **kwargs: object) -> object:
        return self.client.post(url, **kwargs)  # type: ignore[arg-type]


def browser_login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    token = CSRF_RE.search(page.text)
    assert token is not None, page.text
    done = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    account = client.get("/account")
    match = CSRF_RE.search(account.text)
    assert match is not None
    return match.group(1)


@pytest.fixture
def login(web: FastAPI, people: dict[str, str]) -> Callable[[str], Session]:
    def make(name: str) -> Session:
        client = TestClient(web, base_url="http://testserver")
        return Session(client, browser_login(client, name))

    return make


@pytest.fixture
def token_for(console: Console, people: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """Authorization headers with a fresh API token of ``name``."""

    def make(name: str) -> dict[str, str]:
        _, raw = console.sessions.issue_token(name, "test")
        return {"Authorization": f"Bearer {raw}"}

    return make


# The seeded alerts, first seen a day apart in this order (from 2026-03-01):
# key, work, owner, page, jurisdiction, medium, score, page title.
SEEDED = (
    ("a_kz", "w-a", "Owner A", "http://kino.example.kz/1", "KZ", "image", 0.95, ""),
    ("a_ru", "w-a", "Owner A", "http://films.example.ru/2", "RU", "image", 0.7, ""),
    ("a_kz_audio", "w-a2", "Owner A", "http://music.example.kz/3", "KZ", "audio", 0.8, ""),
    ("b_kz", "w-b", "Owner B", "http://kino.example.kz/9", "KZ", "image", 0.99, "B's secret page"),
    ("b_by", "w-b", "Owner B", "http://shop.example.by/5", "BY", "image", 0.6, ""),
)


@pytest.fixture
def seeded(app: App) -> dict[str, Alert]:
    """A small mixed set of alerts (:data:`SEEDED`): two owners, three jurisdictions, both media."""
    alerts = {
        key: make_alert(
            work_id=work_id,
            owner=owner,
            page=page,
            jurisdiction=jurisdiction,
            media=medium,
            score=score,
            seen=f"2026-03-{day:02d}T10:00:00.000Z",
            page_title=title,
        )
        for day, (key, work_id, owner, page, jurisdiction, medium, score, title) in enumerate(
            SEEDED, start=1
        )
    }
    app.store.upsert(list(alerts.values()))
    return alerts


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match is not None
    return match.group(1)


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests keep their screenshots (gitignored)."""
    root = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def alert_with_blob(app: App) -> Callable[..., Alert]:
    """Store ``data`` as a found copy in the blob store and an alert pointing at it."""

    def make(data: bytes, **fields: object) -> Alert:
        sha = app.blobs.put(data)
        alert = make_alert(media_sha256=sha, page=f"http://kino.example.kz/{sha[:8]}", **fields)
        app.store.upsert([alert])
        return alert

    return make


@pytest.fixture
def alert_factory() -> Callable[..., Alert]:
    """:func:`tests.support.alerts.make_alert`, as a fixture the console's tests ask for."""
    return make_alert


# --- the browser tests: the console in uvicorn, a Chromium page, a person logging in -----


@pytest.fixture
def live(web: FastAPI) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@dataclass
class Browsing:
    """A browser page logged in as one user, and the console's base URL."""

    page: Page
    base: str

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")


SignIn = Callable[[str], Browsing]


@pytest.fixture
def sign_in(page: Page, live: str, people: dict[str, str]) -> SignIn:
    """Log a user in through the login form, like a person, in this test's browser page."""

    def go(name: str) -> Browsing:
        page.goto(f"{live}/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button")
        expect(page.locator("header")).to_contain_text(name)
        return Browsing(page, live)

    return go


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
