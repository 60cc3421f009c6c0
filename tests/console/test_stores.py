"""Users, sessions and API tokens in the console database; the console's rules for targets."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from tanba.console.sessions import SessionStore
from tanba.console.targets import ConsoleTargets, migrate_console_targets
from tanba.console.users import UserStore
from tanba.core.clock import FixedClock
from tanba.core.exceptions import InputError
from tanba.core.sqlite import Database
from tanba.core.target_registry import record_target
from tanba.core.targets import TargetInvalid, TargetNameTaken, check_target
from tanba.core.wiring import App

CODES = ("KZ", "RU", "BY", "XX")
HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "console.sqlite3", "")


def test_passwords_are_argon2_hashes_and_verify(db: Database, clock: FixedClock) -> None:
    users = UserStore(db, clock, CODES, HASHER)
    users.add("Alice", "a long password", "rights_holder", org="Owner A")
    raw = sqlite3.connect(db.path).execute("SELECT password_hash FROM users").fetchone()[0]
    assert raw.startswith("$argon2id$") and "a long password" not in raw
    user = users.verify("alice", "a long password")
    assert user is not None and user.principal().owners == ("Owner A",)
    assert users.verify("alice", "wrong password!") is None
    assert users.verify("nobody", "a long password") is None
    users.update("alice", disabled=True)
    assert users.verify("alice", "a long password") is None


def test_old_hash_parameters_are_upgraded_on_login(db: Database, clock: FixedClock) -> None:
    UserStore(db, clock, CODES, HASHER).add("bob", "a long password", "admin")
    stronger = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    assert UserStore(db, clock, CODES, stronger).verify("bob", "a long password") is not None
    raw = sqlite3.connect(db.path).execute("SELECT password_hash FROM users").fetchone()[0]
    assert "t=2" in raw


@pytest.mark.parametrize(
    ("name", "role", "extra", "problem"),
    [
        ("x", "admin", {}, "user name"),
        ("rh", "rights_holder", {}, "organisation"),
        ("ag", "agency", {"jurisdiction": "ZZ"}, "jurisdiction"),
        ("op", "boss", {}, "role"),
        ("op", "operator", {"language": "de"}, "language"),
    ],
)
def test_users_are_validated_before_anything_is_written(
    db: Database, clock: FixedClock, name: str, role: str, extra: dict[str, str], problem: str
) -> None:
    users = UserStore(db, clock, CODES, HASHER)
    with pytest.raises(InputError, match=problem):
        users.add(name, "a long password", role, **extra)
    assert users.all() == []
    with pytest.raises(InputError, match="at least"):
        users.add("shorty", "short", "admin")


def test_a_role_change_clears_the_scope_of_the_old_role(db: Database, clock: FixedClock) -> None:
    users = UserStore(db, clock, CODES, HASHER)
    users.add("carol", "a long password", "agency", jurisdiction="kz")
    changed = users.update("carol", role="rights_holder", org="Owner C")
    assert (changed.jurisdiction, changed.org) == ("", "Owner C")
    assert changed.principal().jurisdictions == ()


def test_sessions_slide_expire_and_are_stored_hashed(db: Database, clock: FixedClock) -> None:
    sessions = SessionStore(db, clock, timedelta(hours=1))
    s = sessions.start("alice")
    keys = [r[0] for r in sqlite3.connect(db.path).execute("SELECT key FROM sessions")]
    assert s.id not in keys and len(keys) == 1
    clock.advance(50 * 60)
    assert sessions.get(s.id) is not None  # used: extended by an hour from now
    clock.advance(50 * 60)
    assert sessions.get(s.id) is not None
    clock.advance(61 * 60)
    assert sessions.get(s.id) is None
    other = sessions.start("alice")
    sessions.end_all("alice")
    assert sessions.get(other.id) is None


def test_api_tokens_check_the_secret_and_can_be_revoked(db: Database, clock: FixedClock) -> None:
    sessions = SessionStore(db, clock, timedelta(hours=1))
    token, raw = sessions.issue_token("alice", "nightly")
    assert sessions.token_user(raw) == "alice"
    tampered = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    assert sessions.token_user(tampered) is None
    assert sessions.token_user("tnb_nonsense") is None
    stored = sqlite3.connect(db.path).execute("SELECT secret_sha256 FROM api_tokens").fetchone()[0]
    assert raw.split("_", 2)[2] not in stored
    sessions.revoke_token("alice", token.id)
    assert sessions.token_user(raw) is None


def spec(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "kino",
        "seeds": ["http://kino.example.kz/"],
        "max_pages": 50,
    }
    return base | changes


def problems(caught: pytest.ExceptionInfo[TargetInvalid]) -> dict[str, str]:
    return {p.field: p.code for p in caught.value.problems}


def test_console_targets_are_checked_by_the_cores_rules_and_its_own(app: App) -> None:
    targets = ConsoleTargets(app.targets, allow_private=False)
    made = targets.add(spec(jurisdiction="kz"), [], "ops")
    assert (made.id, made.spec["allowed_domains"], made.spec["jurisdiction"]) == (
        "kino",
        ["kino.example.kz"],
        "KZ",
    )
    with pytest.raises(TargetNameTaken):
        targets.add(spec(), [], "ops")
    with pytest.raises(TargetInvalid) as caught:
        targets.add(
            spec(name="deep", max_depth=-1, max_pages=10**12, allowed_domains=["other.kz"]),
            ["nonsense"],
            "ops",
        )
    assert problems(caught) == {
        "max_depth": "whole_number",
        "max_pages": "whole_number",
        "allowed_domains": "seed_outside",
        "resolve": "resolve",
    }
    with pytest.raises(TargetInvalid) as caught:
        targets.add(spec(name="intra", allow_private_addresses=True), ["a.kz:80:10.0.0.1"], "ops")
    assert problems(caught) == {
        "allow_private_addresses": "private_refused",
        "resolve": "private_refused",
    }
    assert [r.name for r in app.targets.records()] == ["kino"]  # nothing refused was written


def test_an_edit_keeps_what_the_form_does_not_show_and_may_rename(app: App) -> None:
    imported = app.targets.add(
        check_target(spec(allowed_networks=["10.20.0.0/16"], max_pages_per_pattern=7)), "cli"
    )
    targets = ConsoleTargets(app.targets, allow_private=True)
    edited = targets.update(imported.id, {"name": "cinema", "max_depth": 1}, None, "ops")
    assert (edited.id, edited.name, edited.spec["max_depth"]) == ("kino", "cinema", 1)
    assert edited.spec["allowed_networks"] == ["10.20.0.0/16"]
    assert edited.spec["max_pages_per_pattern"] == 7
    assert edited.updated_by == "ops" and edited.created_by == "cli"


def test_targets_of_an_older_console_move_to_the_registry_under_their_names(
    db: Database, app: App
) -> None:
    legacy = {
        "name": "kino",
        "seeds": ["http://kino.example.kz/"],
        "allowed_domains": [],
        "max_depth": 3,
        "max_pages": 50,
        "delay_s": 1.5,
        "schedule_hours": 6.0,
        "paused": False,
        "jurisdiction": "",
        "allow_private_addresses": True,
        "resolve": ["kino.example.kz:8081:127.0.0.1"],
    }
    broken = legacy | {"name": "often", "schedule_hours": 0.0001}
    conn = db.conn()
    conn.execute(
        "CREATE TABLE targets (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at TEXT NOT"
        " NULL, updated_at TEXT NOT NULL, updated_by TEXT NOT NULL)"
    )
    for row in (legacy, broken):
        conn.execute(
            "INSERT INTO targets VALUES (?,?,?,?,?)",
            (
                row["name"],
                json.dumps(row),
                "2026-01-01T00:00:00.000Z",
                "2026-01-02T00:00:00.000Z",
                "ops",
            ),
        )
    assert migrate_console_targets(db, app.targets) == 1
    (moved,) = app.targets.records()
    assert (moved.id, moved.name, moved.resolve) == ("kino", "kino", legacy["resolve"])
    assert (moved.spec["schedule_hours"], moved.spec["delay_s"]) == (6.0, 1.5)
    assert (moved.created_at, moved.updated_by) == ("2026-01-01T00:00:00.000Z", "ops")
    assert record_target(moved).allow_private_addresses
    # Done once: the old table is renamed, and a second start moves nothing.
    assert migrate_console_targets(db, app.targets) == 0
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "targets" not in tables and "targets_moved_to_registry" in tables
