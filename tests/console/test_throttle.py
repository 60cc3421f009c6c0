"""Login throttling: per (user, address), per address, and per user only for unknown addresses.

The clock is injected and moved by hand; no test sleeps or measures time.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tanba.console.exceptions import TooManyLogins
from tanba.console.throttle import Limit, LoginThrottle, Policy, network_of
from tanba.core.clock import FixedClock
from tanba.core.sqlite import Database
from tests.console.conftest import CSRF_RE, PASSWORD, browser_login

MINUTE = 60.0


@pytest.fixture
def throttle(tmp_path: Path, clock: FixedClock) -> LoginThrottle:
    return LoginThrottle(
        Database(tmp_path / "console.sqlite3", ""),
        clock,
        Policy(
            per_pair=Limit(3, timedelta(minutes=10)),
            per_address=Limit(8, timedelta(minutes=10)),
            per_user=Limit(5, timedelta(minutes=10)),
            known_for=timedelta(days=30),
        ),
    )


def _fail(throttle: LoginThrottle, name: str, address: str, times: int) -> None:
    for _ in range(times):
        throttle.failed(name, address)


def test_one_address_guessing_one_user_is_refused_until_the_oldest_failure_ages_out(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    for _ in range(3):
        throttle.check("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
        clock.advance(MINUTE)
    with pytest.raises(TooManyLogins, match="try again in 7 min") as refused:
        throttle.check("Alice ", "10.0.0.1")  # the name as typed
    assert refused.value.retry_after_s == pytest.approx(7 * MINUTE)
    throttle.check("bob", "10.0.0.1")  # other users from that address are not affected
    throttle.check("alice", "10.0.0.2")  # nor the user from elsewhere (3 of 5 user failures)
    clock.advance(7 * MINUTE - 1)
    with pytest.raises(TooManyLogins):
        throttle.check("alice", "10.0.0.1")
    clock.advance(1)  # the first failure is ten minutes old: one more try
    throttle.check("alice", "10.0.0.1")


def test_an_attack_from_elsewhere_never_refuses_the_users_known_address(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    throttle.succeeded("alice", "192.0.2.10")  # alice's office, where she logged in before
    clock.advance(MINUTE)
    for i in range(40):  # a guesser spread over 40 addresses, 2 tries each
        _fail(throttle, "alice", f"198.51.100.{i}", 2)
    throttle.check("alice", "192.0.2.10")  # the right password from the office still counts
    assert throttle.is_known("alice", "192.0.2.10")
    # The per-user limit slows down every address alice never logged in from: new guessers,
    # and alice herself from a new place, until the attack's failures age out.
    for unknown in ("198.51.100.200", "203.0.113.5"):
        with pytest.raises(TooManyLogins):
            throttle.check("alice", unknown)
    throttle.check("bob", "203.0.113.5")  # other users are not affected
    clock.advance(10 * MINUTE)
    throttle.check("alice", "203.0.113.5")


def test_a_guesser_at_the_users_own_address_is_stopped_by_the_pair_and_address_limits(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    throttle.succeeded("alice", "192.0.2.10")
    _fail(throttle, "alice", "192.0.2.10", 3)
    with pytest.raises(TooManyLogins):
        throttle.check("alice", "192.0.2.10")  # known, but the pair's limit holds
    throttle.check("alice", "192.0.2.11")  # (3 user failures of 5: not slowed elsewhere yet)
    for name in ("u1", "u2", "u3", "u4", "u5"):
        throttle.failed(name, "192.0.2.10")
    with pytest.raises(TooManyLogins):
        throttle.check("carol", "192.0.2.10")  # 8 failures from one address, any user name
    throttle.check("carol", "192.0.2.11")


def test_a_success_clears_the_pair_but_not_the_user_names_failures(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    _fail(throttle, "alice", "10.0.0.1", 2)
    throttle.succeeded("alice", "10.0.0.1")
    throttle.failed("alice", "10.0.0.1")
    throttle.check("alice", "10.0.0.1")  # 1 counted failure for the pair, not 3
    # The owner's success must not hand a distributed guesser a fresh allowance.
    _fail(throttle, "alice", "10.0.0.2", 2)
    with pytest.raises(TooManyLogins):
        throttle.check("alice", "10.0.0.3")  # 5 failures for alice over unknown addresses


def test_an_address_is_known_only_for_a_while_after_its_last_login(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    throttle.succeeded("alice", "192.0.2.10")
    clock.advance(29 * 86400)
    assert throttle.is_known("alice", "192.0.2.10")
    assert not throttle.is_known("bob", "192.0.2.10")  # known per user
    clock.advance(86400 + 1)
    assert not throttle.is_known("alice", "192.0.2.10")


def test_ipv6_counts_by_64_bit_prefix_and_mapped_ipv4_as_ipv4(
    throttle: LoginThrottle, clock: FixedClock
) -> None:
    assert (
        network_of("2001:db8:1:2::1") == network_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert network_of("::ffff:192.0.2.7") == "192.0.2.7"
    for host in ("::1", "::2", "::3"):  # three addresses of one /64 are one guesser
        throttle.failed("alice", f"2001:db8:1:2{host}")
    with pytest.raises(TooManyLogins):
        throttle.check("alice", "2001:db8:1:2::99")
    throttle.check("alice", "2001:db8:1:3::1")


def _attempt(client: TestClient, name: str, password: str) -> Any:
    form = client.get("/login")
    token = CSRF_RE.search(form.text)
    assert token is not None
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def _from(web: Any, address: str, lang: str = "en") -> TestClient:
    client = TestClient(web, base_url="http://testserver", client=(address, 50000))
    client.get(f"/login?lang={lang}")
    return client


def test_the_login_form_refuses_even_the_right_password_while_throttled(
    web: Any, people: dict[str, str], clock: FixedClock
) -> None:
    client = _from(web, "198.51.100.7")
    for _ in range(5):
        assert _attempt(client, "alice", "not the password").status_code == 401
    refused = _attempt(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "900"
    assert "Too many failed logins. Try again in 15 min." in refused.text
    assert "tanba_session" not in refused.cookies
    kk = _from(web, "198.51.100.7", "kk")
    assert re.search("15 минуттан кейін", _attempt(kk, "alice", PASSWORD).text)
    assert _attempt(kk, "bob", PASSWORD).status_code == 303  # others log in from there
    clock.advance(15 * 60)
    assert browser_login(client, "alice")  # the window has passed


def test_the_owner_logs_in_from_a_known_address_during_a_distributed_attack(
    web: Any, people: dict[str, str], clock: FixedClock
) -> None:
    office = _from(web, "192.0.2.10")
    csrf = browser_login(office, "alice")  # makes the office a known address
    assert office.post("/logout", data={"csrf_token": csrf}).status_code == 200
    clock.advance(MINUTE)
    for i in range(2):  # 2 addresses x 5 failures: both pairs and the user at their limits
        attacker = _from(web, f"198.51.100.{i}")
        for _ in range(5):
            assert _attempt(attacker, "alice", "guess").status_code == 401
        assert _attempt(attacker, "alice", PASSWORD).status_code == 429
    assert _attempt(_from(web, "198.51.100.2"), "alice", "guess").status_code == 429
    assert _attempt(office, "alice", PASSWORD).status_code == 303
    # A new address is slowed down by the user's limit (10 failures), the right password
    # included, and is told how long to wait.
    hotel = _from(web, "203.0.113.5")
    slowed = _attempt(hotel, "alice", PASSWORD)
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "900"
    clock.advance(15 * 60)
    assert _attempt(hotel, "alice", PASSWORD).status_code == 303
