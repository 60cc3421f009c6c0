"""Pages: languages, the forms behind them, charts and pagination, and the CLI commands."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console import cli
from console.i18n import Translator, catalogue
from console.web import Console
from tanba.alerts import Alert
from tanba.app import App

from_html = "text/html"


def test_russian_and_english_catalogues_are_complete_and_kazakh_falls_back() -> None:
    en, ru, kk = catalogue("en"), catalogue("ru"), catalogue("kk")
    assert set(en) == set(ru), set(en) ^ set(ru)
    assert set(kk) <= set(en) and len(kk) > 100
    missing_in_kk = next(k for k in en if k not in kk)
    assert Translator("kk")(missing_in_kk) == ru[missing_in_kk]
    assert Translator("kk")("nav.alerts") == "Ескертулер"
    assert Translator("ru")("pager.page", page=2, pages=9) == "страница 2 из 9"
    assert Translator("de")("nav.alerts") == ru["nav.alerts"]  # unsupported: the default (ru)


def test_every_message_key_used_in_templates_exists() -> None:
    import re

    root = Path(__file__).resolve().parents[2] / "console" / "templates"
    used = {
        k for f in root.glob("*.html") for k in re.findall(r"\bt\('([a-z_.]+[a-z])'", f.read_text())
    }
    en = catalogue("en")
    assert used - set(en) == set()


def test_pages_render_in_the_users_language(
    web: Any, login: Callable[[str], Any], seeded: dict[str, Alert], console: Console
) -> None:
    s = login("kz-agency")
    assert "Alerts" in s.client.get("/alerts").text
    switched = s.client.post(
        "/account/language",
        data={"language": "ru", "next": "/works", "csrf_token": s.csrf},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/works"
    assert console.users.require("kz-agency").language == "ru"
    page = s.client.get("/alerts").text
    assert "Оповещения" in page and "Казахстан" in page  # jurisdiction names in the user's language
    evil = s.client.post(
        "/account/language",
        data={"language": "ru", "next": "https://evil.example/", "csrf_token": s.csrf},
        follow_redirects=False,
    )
    assert evil.headers["location"] == "/alerts"  # no open redirect


def test_alert_list_page_has_charts_filters_and_working_page_links(
    login: Callable[[str], Any], app: App, alert_factory: Callable[..., Alert]
) -> None:
    app.store.upsert(
        [
            alert_factory(
                page=f"http://kino.example.kz/{i}", seen=f"2026-03-{1 + i % 9:02d}T00:00:00.000Z"
            )
            for i in range(120)
        ]
    )
    s = login("admin")
    first = s.client.get("/alerts?per_page=50&jurisdiction=KZ").text
    assert "page 1 of 3" in first and first.count('<tr>\n  <td class="num">') == 50
    assert 'src="/alerts/charts/site.svg?jurisdiction=KZ"' in first
    chart = s.client.get("/alerts/charts/jurisdiction.svg?jurisdiction=KZ")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert ">120</text>" in chart.text and "KZ Kazakhstan" in chart.text
    days = s.client.get("/alerts/charts/day.svg").text
    assert days.count("<rect") == 9
    assert '/alerts?jurisdiction=KZ&amp;page=3"' in first  # the last-page link keeps filters
    last = s.client.get("/alerts?per_page=50&jurisdiction=KZ&page=3").text
    assert "page 3 of 3" in last and last.count('<tr>\n  <td class="num">') == 20
    beyond = s.client.get("/alerts?page=99").text
    assert "No alerts match." in beyond


def test_forms_add_a_user_register_a_work_and_edit_its_licences(
    login: Callable[[str], Any], photos: list[Path], console: Console, app: App
) -> None:
    admin = login("admin")
    added = admin.client.post(
        "/users",
        data={
            "username": "dana",
            "password": "long enough pw",
            "role": "rights_holder",
            "org": "Owner D",
            "csrf_token": admin.csrf,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and console.users.require("dana").org == "Owner D"
    bad = admin.client.post(
        "/users",
        data={"username": "eve", "password": "short", "role": "admin", "csrf_token": admin.csrf},
    )
    assert bad.status_code == 400 and "at least" in bad.text
    alice = login("alice")
    with open(photos[0], "rb") as f:
        made = alice.client.post(
            "/works",
            data={
                "title": "Dawn",
                "work_id": "dawn",
                "territories": ["KZ", "RU"],
                "csrf_token": alice.csrf,
            },
            files={"file": ("dawn.jpg", f, "image/jpeg")},
            follow_redirects=False,
        )
    assert made.status_code == 303 and made.headers["location"] == "/works/dawn"
    edited = alice.client.post(
        "/works/dawn",
        data={
            "territories": ["KZ"],
            "licences": "Shop.example.kz KZ,KG 2026-01-01..*\nfoto.example.ru",
            "csrf_token": alice.csrf,
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    work = app.works.get("dawn")
    assert work.territories == ["KZ"]
    assert [(x.domain, x.territories, x.valid_from, x.valid_until) for x in work.licences] == [
        ("shop.example.kz", ["KZ", "KG"], "2026-01-01", ""),
        ("foto.example.ru", [], "", ""),
    ]
    page = alice.client.get("/works/dawn").text
    assert "shop.example.kz KZ,KG 2026-01-01..*" in page


def test_cli_adds_users_from_stdin_and_prints_tokens(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="tanba")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["users", "add", "kz-1", "--role", "agency", "--jurisdiction", "kz", "--password-stdin"]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert args.handler(app, args) == 0
    assert "user kz-1: agency (KZ)" in capsys.readouterr().out
    args = parser.parse_args(["users", "token", "kz-1"])
    assert args.handler(app, args) == 0
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("tnb_")
    from console.web import create_app

    web = create_app(app)
    me = TestClient(web).get("/api/me", headers={"Authorization": f"Bearer {raw}"})
    assert json.loads(me.text)["jurisdiction"] == "KZ"
    console_args = parser.parse_args(["console", "--host", "127.0.0.1", "--port", "9999"])
    assert (console_args.host, console_args.port) == ("127.0.0.1", 9999)
