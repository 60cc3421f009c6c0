"""Users, sessions, API tokens and targets in the console database."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher

from tanba.console.exceptions import Conflict
from tanba.console.sessions import SessionStore
from tanba.console.targets import TargetSpec, TargetStore, write_targets_file
from tanba.console.users import UserStore
from tanba.core.clock import FixedClock
from tanba.core.exceptions import InputError
from tanba.core.sqlite import Database
from tanba.core.targets import load_targets

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


def spec(**changes: object) -> TargetSpec:
    base: dict[str, object] = {
        "name": "kino",
        "seeds": ["http://kino.example.kz/"],
        "max_pages": 50,
    }
    return TargetSpec.model_validate(base | changes)


def test_targets_are_validated_by_the_crawlers_own_rules(db: Database, clock: FixedClock) -> None:
    targets = TargetStore(db, clock)
    stored = targets.add(spec(jurisdiction="kz"), "ops")
    assert stored.spec.allowed_domains == ["kino.example.kz"] and stored.spec.jurisdiction == "KZ"
    with pytest.raises(Conflict):
        targets.add(spec(), "ops")
    with pytest.raises(InputError, match="max_depth"):
        targets.add(spec(name="deep", max_depth=-1), "ops")
    with pytest.raises(InputError, match="outside"):
        targets.add(spec(name="off", allowed_domains=["other.kz"]), "ops")
    with pytest.raises(InputError, match="tests and demos"):
        targets.add(spec(name="intra", allow_private_addresses=True), "ops")
    with pytest.raises(InputError, match="keeps its name"):
        targets.update("kino", spec(name="renamed"), "ops")


def test_targets_survive_a_restart_and_convert_to_crawler_targets(
    db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    TargetStore(db, clock, allow_private=True).add(
        spec(
            delay_s=1.5,
            schedule_hours=6,
            allow_private_addresses=True,
            resolve=["kino.example.kz:8081:127.0.0.1"],
        ),
        "ops",
    )
    reopened = TargetStore(Database(db.path, ""), clock)
    stored = reopened.require("kino")
    assert (stored.spec.schedule_hours, stored.spec.resolve) == (
        6,
        ["kino.example.kz:8081:127.0.0.1"],
    )
    paused = reopened.set_paused("kino", True, "admin")
    assert paused.spec.paused and paused.updated_by == "admin"
    target = paused.spec.to_target()
    assert (target.delay_s, target.paused, target.max_pages) == (1.5, True, 50)
    path = write_targets_file([paused.spec], tmp_path / "t.yaml")
    assert load_targets(path) == [target]
    assert "resolve" not in yaml.safe_load(path.read_text())["targets"][0]
    with pytest.raises(InputError, match=r"resolve|HOST"):
        TargetStore(db, clock, allow_private=True).add(
            spec(name="bad", resolve=["nonsense"]), "ops"
        )
