"""Dates on the alert pages in the user's language and time zone, and the time zone setting."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tanba.console.users import UserStore
from tanba.core.alerts import Alert, MatchDetail
from tanba.core.clock import FixedClock
from tanba.core.sqlite import Database
from tanba.core.wiring import App
from tests.console.conftest import FAST_HASHER, Session
from tests.support.alerts import make_alert


def test_list_and_detail_show_dates_in_the_users_language_and_time_zone(
    seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    alice = login("alice")  # seeded a_kz: last seen 2026-03-01T10:00:00.000Z
    a = seeded["a_kz"]
    exact = '<time datetime="2026-03-01T10:00:00Z" title="2026-03-01T10:00:00Z">'
    listed = alice.client.get("/alerts").text
    assert exact + "3/1/26, 10:00\u202fAM</time>" in listed  # en, the installation's UTC
    assert "2026-03-01T10:00:00.000Z" not in listed
    set_zone = alice.client.put(
        "/api/me/timezone", json={"timezone": "Europe/Moscow"}, headers={"X-CSRF-Token": alice.csrf}
    )
    assert set_zone.status_code == 200 and set_zone.json()["timezone"] == "Europe/Moscow"
    alice.post("/account/language", data={"language": "ru", "csrf_token": alice.csrf})
    assert exact + "01.03.2026, 13:00</time>" in alice.client.get("/alerts").text
    alice.post(f"/alerts/{a.id}/status", data={"status": "confirmed", "csrf_token": alice.csrf})
    detail = alice.client.get(f"/alerts/{a.id}").text
    assert exact + "1 мар. 2026\u202fг., 13:00:00</time>" in detail  # first and last seen
    assert detail.count("<time datetime=") >= 3  # and the history's change
    alice.post("/account/timezone", data={"timezone": "Asia/Tashkent", "csrf_token": alice.csrf})
    alice.post("/account/language", data={"language": "kk", "csrf_token": alice.csrf})
    assert exact + "01.03.26, 15:00</time>" in alice.client.get("/alerts").text


def test_a_time_zone_that_does_not_exist_is_refused_with_what_to_give(
    login: Callable[[str], Session], people: dict[str, str]
) -> None:
    bob = login("bob")
    bad = bob.client.put(
        "/api/me/timezone", json={"timezone": "Mars/Olympus"}, headers={"X-CSRF-Token": bob.csrf}
    )
    assert bad.status_code == 400 and "IANA" in bad.json()["detail"]
    page = bob.client.get("/account").text
    assert 'id="timezone-form"' in page and '<option value="Asia/Almaty">' in page


def test_a_users_table_from_before_time_zones_gets_the_column(
    tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "console.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE users (username TEXT PRIMARY KEY, role TEXT NOT NULL, org TEXT NOT NULL"
        " DEFAULT '', jurisdiction TEXT NOT NULL DEFAULT '', language TEXT NOT NULL,"
        " password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
        " created_at TEXT NOT NULL)"
    )
    old.execute("INSERT INTO users VALUES ('olga','admin','','','ru','x',0,'2026-01-01')")
    old.commit()
    old.close()
    users = UserStore(Database(path, ""), clock, ("KZ",), FAST_HASHER)
    assert users.require("olga").timezone == ""
    assert users.update("olga", timezone="Asia/Almaty").timezone == "Asia/Almaty"
    assert users.require("olga").timezone == "Asia/Almaty"


def test_the_alert_page_says_which_part_of_the_work_matched_in_the_users_words(
    app: App, login: Callable[[str], Session]
) -> None:
    """The window's code (crop:00-00-00-24-mirror) in words, and the fine-detail agreement."""
    match = MatchDetail(
        algorithm="phash64", distance=3, variant="crop:00-00-00-24-mirror", detail=0.987
    )
    alert = make_alert(work_id="w-a", owner="Owner A", match=match)
    app.store.upsert([alert])
    alice = login("alice")
    page = alice.client.get(f"/alerts/{alert.id}").text
    assert "bottom 24%" in page and "mirrored" in page and "crop:00" not in page
    assert "fine detail 99%" in page
    alice.post("/account/language", data={"language": "ru", "csrf_token": alice.csrf})
    page = alice.client.get(f"/alerts/{alert.id}").text
    assert "снизу 24%" in page and "зеркально" in page and "мелкие детали 99%" in page
