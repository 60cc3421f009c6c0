"""Exports through the console and its API leave a trace: custody entries, shown on the alert's page.

The console runs over the demo case's home (real alerts with crawl captures) in
FastAPI's TestClient; an agency of Kazakhstan exports through the page form
(with and without marking the notice as sent) and through the API, and the
chain of custody read back through ``GET /api/alerts/{id}/custody`` and the
alert's page names each export: who, when, the zip's SHA-256, the interface.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from tanba.console.web import create_app
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.store import AlertQuery
from tanba.core.wiring import App
from tanba.evidence.signing import SigningKey
from tests.support.evidence import private_pem

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = "2026-05-04T10:00:00.000Z"


@pytest.fixture
def console(
    demo_case: Any, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, App]]:
    monkeypatch.setenv("TANBA_SIGNING_KEY", private_pem(signing_key))
    monkeypatch.setenv("TANBA_TSA_URL", "")
    settings = Settings.from_env({}, home=demo_case.home, console_scheduler=False)
    app = App(settings, FixedClock(NOW))
    web = create_app(app, hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    users = web.state.console.users
    if users.get("kz-agency") is None:
        users.add("kz-agency", PASSWORD, "agency", jurisdiction="KZ", language="ru")
    client = TestClient(web, base_url="http://testserver")
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    done = client.post(
        "/login",
        data={"username": "kz-agency", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    try:
        yield client, app
    finally:
        app.close()


def _csrf(client: TestClient, alert_id: str) -> tuple[str, str]:
    page = client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1), page.text


def test_console_and_api_exports_are_in_the_custody_log_and_can_mark_the_notice_sent(
    console: tuple[TestClient, App],
) -> None:
    client, app = console
    alert = next(
        a
        for a in app.store.search(AlertQuery(limit=100)).alerts
        if a.media_url.endswith("/img/a-small.jpg") and a.site == "kino.example.kz"
    )
    csrf, html = _csrf(client, alert.id)
    assert 'name="mark_notice_sent"' not in html  # a new alert cannot be marked as notified

    refused = client.post(
        f"/alerts/{alert.id}/evidence", data={"csrf_token": csrf, "mark_notice_sent": "true"}
    )
    assert refused.status_code == 409 and "nothing was exported" in refused.text
    assert client.get(f"/api/alerts/{alert.id}/custody").json() == []  # nothing happened

    confirmed = client.post(
        f"/api/alerts/{alert.id}/status",
        json={"status": "confirmed"},
        headers={"X-CSRF-Token": csrf},
    )
    assert confirmed.status_code == 200
    csrf, html = _csrf(client, alert.id)
    assert 'name="mark_notice_sent"' in html
    package = client.post(
        f"/alerts/{alert.id}/evidence", data={"csrf_token": csrf, "mark_notice_sent": "true"}
    )
    assert package.status_code == 200 and package.content[:2] == b"PK"
    after = app.store.get(alert.id)
    assert after is not None and after.status == "notice_sent"
    assert after.history[-1].actor == "kz-agency"

    api = client.post(f"/api/alerts/{alert.id}/evidence", headers={"X-CSRF-Token": csrf})
    assert api.status_code == 200 and api.content[:2] == b"PK"

    log = client.get(f"/api/alerts/{alert.id}/custody").json()
    exports = [e for e in log if e["action"] == "exported"]
    assert [(e["actor"], e["at"], e["interface"], e["package_sha256"]) for e in exports] == [
        ("kz-agency", NOW, "console", hashlib.sha256(package.content).hexdigest()),
        ("kz-agency", NOW, "api", hashlib.sha256(api.content).hexdigest()),
    ]
    statuses = [e["status"] for e in log if e["action"] == "status_changed"]
    assert statuses == ["confirmed", "notice_sent"]

    _, html = _csrf(client, alert.id)
    table = html[html.index('id="custody"') :]
    assert table.count("custody-exported") == 2
    assert hashlib.sha256(package.content).hexdigest() in table
    assert "веб-консоль" in table and "HTTP API" in table  # the interfaces, in Russian
