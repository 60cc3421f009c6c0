"""Login throttling: failed logins per user name and per address, with an injected clock."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.db import Database
from console.exceptions import TooManyLogins
from console.throttle import Limit, LoginThrottle
from tanba.clock import FixedClock
from tests.console.conftest import CSRF_RE, PASSWORD, browser_login

MINUTE = 60.0


@pytest.fixture
def throttle(tmp_path: Path, clock: FixedClock) -> LoginThrottle:
    return LoginThrottle(
        Database(tmp_path / "console.sqlite3", ""),
        clock,
        per_user=Limit(3, timedelta(minutes=10)),
        per_address=Limit(5, timedelta(minutes=10)),
    )


def test_a_user_name_is_refused_after_its_limit_until_the_oldest_failure_ages_out(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    for _ in range(3):
        throttle.check("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
        clock.advance(MINUTE)
    with pytest.raises(TooManyLogins, match="try again in 7 min") as refused:
        throttle.check("Alice ", "10.0.0.2")  # the name as typed; another address
    assert refused.value.retry_after_s == pytest.approx(7 * MINUTE)
    throttle.check("bob", "10.0.0.2")  # other users are not affected
    clock.advance(7 * MINUTE - 1)
    with pytest.raises(TooManyLogins):
        throttle.check("alice", "10.0.0.1")
    clock.advance(1)  # the first failure is ten minutes old: one more try
    throttle.check("alice", "10.0.0.1")


def test_a_success_clears_the_user_names_failures(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    for _ in range(2):
        throttle.failed("alice", "10.0.0.1")
    throttle.succeeded("alice")
    throttle.failed("alice", "10.0.0.1")
    throttle.check("alice", "10.0.0.1")  # 1 counted failure, not 3


def test_one_address_trying_many_user_names_is_refused(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    for name in ("a1", "a2", "a3", "a4", "a5"):
        throttle.failed(name, "10.0.0.9")
    with pytest.raises(TooManyLogins):
        throttle.check("a6", "10.0.0.9")
    throttle.check("a6", "10.0.0.8")
    clock.advance(10 * MINUTE + 1)
    throttle.check("a6", "10.0.0.9")


def _attempt(client: TestClient, name: str, password: str) -> Any:
    form = client.get("/login")
    token = CSRF_RE.search(form.text)
    assert token is not None
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def test_the_login_form_refuses_even_the_right_password_while_throttled(
    web: Any, people: dict[str, str], clock: FixedClock
) -> None:
    client = TestClient(web, base_url="http://testserver")
    client.get("/login?lang=en")
    for _ in range(5):
        assert _attempt(client, "alice", "not the password").status_code == 401
    refused = _attempt(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "900"
    assert "Too many failed logins. Try again in 15 min." in refused.text
    assert "tanba_session" not in refused.cookies
    kk = TestClient(web, base_url="http://testserver")
    kk.get("/login?lang=kk")
    assert re.search("15 минуттан кейін", _attempt(kk, "alice", PASSWORD).text)
    assert _attempt(kk, "bob", PASSWORD).status_code == 303  # others log in
    clock.advance(15 * 60)
    assert browser_login(client, "alice")  # the window has passed
