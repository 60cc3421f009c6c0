"""Pages: languages, the forms behind them, charts and pagination, and the CLI commands."""

from __future__ import annotations

import argparse
import html
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tanba.console import cli, i18n
from tanba.console.context import Console
from tanba.console.i18n import Translator, catalogue
from tanba.console.pages import alerts as alert_pages
from tanba.core.access import ROLES
from tanba.core.alerts import STATUSES, Alert, Signal
from tanba.core.schemas.crawls import FAILURE_REASONS
from tanba.core.schemas.matches import MatchDetail, MatchPosition
from tanba.core.targets import MESSAGES
from tanba.core.wiring import App

from_html = "text/html"


def test_every_catalogue_has_every_key_and_kazakh_is_kazakh() -> None:
    en, ru, kk = catalogue("en"), catalogue("ru"), catalogue("kk")
    assert set(en) ^ set(ru) == set()
    assert set(en) ^ set(kk) == set()
    assert Translator("kk")("nav.alerts") == "Ескертулер"
    assert Translator("kk")("chart.other") == "басқалары"
    assert Translator("ru")("pager.page", page=2, pages=9) == "страница 2 из 9"
    assert Translator("de")("nav.alerts") == ru["nav.alerts"]  # unsupported: the default (ru)
    # Placeholders match, or a translation would fail (or drop a value) when formatted.
    for key, text in en.items():
        for other in (ru, kk):
            assert set(re.findall(r"{(\w+)}", other[key])) == set(re.findall(r"{(\w+)}", text)), key


def test_a_key_missing_in_kazakh_falls_back_to_russian(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = {"kk": {"a": "қазақша"}, "ru": {"a": "по-русски", "b": "только по-русски"}, "en": {}}
    monkeypatch.setattr(i18n, "catalogue", lambda lang: shipped[lang])
    t = Translator("kk")
    assert (t("a"), t("b"), t("c")) == ("қазақша", "только по-русски", "c")


def _used_keys() -> set[str]:
    """Every message key the templates and the pages use, literal or built from a known list."""
    root = Path(__file__).resolve().parents[2] / "tanba" / "console"
    used: set[str] = set()
    for f in (root / "templates").glob("*.*"):
        used |= set(re.findall(r"\bt\('([a-z_.]+[a-z])'", f.read_text()))
    pages = "\n".join(f.read_text() for f in sorted((root / "pages").glob("*.py")))
    used |= set(re.findall(r'\bt\("([a-z_.]+[a-z])"', pages))
    used |= set(re.findall(r'"(login\.(?!html)[a-z_]+)"', pages))
    families = {
        "status": STATUSES,
        "action": (*STATUSES, "prepare_notice"),
        "media": ("image", "audio"),
        "role": ROLES,
        "signal": ("target_override", "cctld", "server_ip", "page_language"),
        "custody": ("captured", "capture_failed", "exported", "status_changed", "note"),
        "interface": ("cli", "console", "api"),
        "chart": (*alert_pages.CHART_KEYS, "pages", "yield"),
        "problem": tuple(MESSAGES),  # a target field's problems (tanba.core.targets)
        "failure": tuple(FAILURE_REASONS),  # why a fetch failed (tanba.core.schemas.crawls)
        "failure_hint": tuple(FAILURE_REASONS),
        "crawl": ("kind_page", "kind_media"),
    }
    for prefix, names in families.items():
        used |= {f"{prefix}.{name}" for name in names}
    return used


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_every_message_key_used_in_templates_exists_in_every_catalogue(lang: str) -> None:
    used = _used_keys()
    assert len(used) > 150
    assert used - set(catalogue(lang)) == set()


def test_pages_render_in_the_users_language(
    web: Any, login: Callable[[str], Any], seeded: dict[str, Alert], console: Console
) -> None:
    s = login("kz-agency")
    before = s.client.get("/alerts").text
    assert "Alerts" in before
    switched = s.client.post(
        "/account/language",
        data={"language": "ru", "next": "/works", "csrf_token": s.csrf},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/works"
    assert console.users.require("kz-agency").language == "ru"
    page = s.client.get("/alerts").text
    assert "Оповещения" in page and "Казахстан" in page  # jurisdiction names in the user's language
    # Charts are cached by the browser under a key of the session: a new language, a new key.
    chart = re.compile(r'src="/alerts/charts/day\.svg\?v=([0-9a-f]{32})')
    old_key, new_key = chart.search(before), chart.search(page)
    assert old_key and new_key and old_key.group(1) != new_key.group(1)
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
    assert "page 1 of 3" in first and first.count('<td class="num"><a href="/alerts/') == 50
    assert '<span class="muted">(120)</span></h1>' in first  # the total beside the title
    # The chart's URL carries the filters and this session's cache key (tanba.console.caching).
    assert re.search(r'src="/alerts/charts/site\.svg\?v=[0-9a-f]{32}&amp;jurisdiction=KZ"', first)
    chart = s.client.get("/alerts/charts/jurisdiction.svg?jurisdiction=KZ")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert ">120</text>" in chart.text and "KZ Kazakhstan" in chart.text
    days = s.client.get("/alerts/charts/day.svg").text
    assert days.count("<rect") == 9
    # The pager's links keep the filters and move by cursor; together they show every row once.
    seen = _rows(first)
    page = first
    for _ in range(2):
        page = s.client.get(_href(page, "pager-next")).text
        assert "jurisdiction=KZ" in _href(page, "pager-first")
        seen += _rows(page)
    assert "pager-next" not in page and "page 3 of 3" not in page  # reached by cursor
    assert len(seen) == len(set(seen)) == 120
    last = s.client.get(_href(first, "pager-last")).text
    assert "page 3 of 3" in last and len(_rows(last)) == 50 and "pager-last" not in last
    assert _rows(last) == seen[-50:]
    back = s.client.get(_href(last, "pager-prev")).text
    assert _rows(back) == seen[20:70]
    assert _rows(s.client.get(_href(back, "pager-first")).text) == seen[:50]
    by_number = s.client.get("/alerts?per_page=50&jurisdiction=KZ&page=3").text
    assert "page 3 of 3" in by_number and _rows(by_number) == seen[100:]
    beyond = s.client.get("/alerts?page=9").text
    assert "No alerts match." in beyond
    too_deep = s.client.get("/alerts?page=99")
    assert too_deep.status_code == 400 and "next/previous links" in too_deep.text


def test_chart_bars_link_the_list_filtered_to_their_value(
    login: Callable[[str], Any], app: App, alert_factory: Callable[..., Alert]
) -> None:
    app.store.upsert(
        [
            alert_factory(
                page=f"http://s{i % 13}.example.kz/{i}",
                seen=f"2026-03-{1 + i % 3:02d}T08:00:00.000Z",
            )
            for i in range(60)
        ]
        + [alert_factory(page="http://x.example.ru/1", jurisdiction="RU")]
    )
    s = login("admin")
    sites = s.client.get("/alerts/charts/site.svg?status=new")
    assert "frame-ancestors 'self'" in sites.headers["content-security-policy"]
    assert sites.headers["x-frame-options"] == "SAMEORIGIN"
    links = re.findall(r'<a href="([^"]+)" target="_top"', sites.text)
    assert len(links) == 10  # the top ten sites; the other three are one bar without a link
    # The rest: three sites of four alerts (s12, s8, s9 sort after s10, s11) and x.example.ru.
    assert ">other</text>" in sites.text and ">13</text>" in sites.text
    site_list = s.client.get(html.unescape(links[0])).text
    assert "site=s0.example.kz" in html.unescape(links[0]) and "status=new" in links[0]
    assert len(_rows(site_list)) == 5
    days = s.client.get("/alerts/charts/day.svg").text
    day_link = html.unescape(re.findall(r'<a href="([^"]+)"', days)[0])
    assert "since=2026-03-01&until=2026-03-01" in day_link
    assert len(_rows(s.client.get(day_link).text)) == 21  # and x.example.ru's
    states = s.client.get("/alerts/charts/jurisdiction.svg").text
    ru = next(h for h in re.findall(r'<a href="([^"]+)"', states) if "RU" in h)
    assert len(_rows(s.client.get(html.unescape(ru)).text)) == 1


def _rows(page: str) -> list[str]:
    """The alert ids of a list page, in order."""
    return re.findall(r'<td class="num"><a href="/alerts/([0-9a-f]+)">', page)


def _href(page: str, anchor_id: str) -> str:
    found = re.search(rf'<a href="([^"]+)"[^>]* id="{anchor_id}"', page)
    assert found is not None, f"no link #{anchor_id}"
    return html.unescape(found.group(1))


def test_forms_add_a_user_register_a_work_and_edit_its_licences(
    login: Callable[[str], Any], small_photos: list[Path], console: Console, app: App
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
    assert bad.status_code == 422 and "at least 10 characters" in bad.text
    assert 'id="err-add-password"' in bad.text and 'value="eve"' in bad.text  # the form again
    alice = login("alice")
    with open(small_photos[0], "rb") as f:
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
    from tanba.console.web import create_app

    web = create_app(app)
    me = TestClient(web).get("/api/me", headers={"Authorization": f"Bearer {raw}"})
    assert json.loads(me.text)["jurisdiction"] == "KZ"
    console_args = parser.parse_args(["console", "--host", "127.0.0.1", "--port", "9999"])
    assert (console_args.host, console_args.port) == ("127.0.0.1", 9999)


def test_the_jurisdiction_confidence_says_what_it_rests_on_and_is_not_certainty(
    app: App, alert_factory: Callable[..., Alert], login: Callable[[str], Any]
) -> None:
    """The issue: "Confidence 100%" from a single ccTLD signal of weight 0.6."""
    alone = alert_factory(jurisdiction_confidence=1.0)  # stored under the old rule
    contested = alert_factory(
        page="http://kino.example.kz/2",
        signals=[
            Signal(name="cctld", value="KZ", weight=0.6, detail="kino.example.kz"),
            Signal(name="server_ip", value="RU", weight=0.3, detail="10.0.0.1"),
        ],
    )
    app.store.upsert([alone, contested])
    admin = login("admin")

    def said(alert: Alert) -> str:
        page = admin.client.get(f"/alerts/{alert.id}").text
        found = re.search(r'<p id="confidence">(.*?)</p>', page, re.S)
        assert found is not None and 'id="confidence-how"' in page
        return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())

    assert said(alone) == "Jurisdiction confidence: 60% — based on: country domain"
    assert said(contested) == (
        "Jurisdiction confidence: 42% — based on: country domain; against it: server address (RU)"
    )
    admin.client.put(
        "/api/me/language", json={"language": "kk"}, headers={"X-CSRF-Token": admin.csrf}
    )
    assert said(alone) == "Юрисдикцияға сенімділік: 60% — негіздері: ел домені"


def test_an_audio_alert_lists_every_position_of_a_repeated_passage(
    app: App, alert_factory: Callable[..., Alert], login: Callable[[str], Any]
) -> None:
    """A passage the work repeats: each place, ranked, with its score (none for old alerts)."""
    positions = [
        MatchPosition(offset_s=54.0, query_offset_s=0.0, duration_s=8.0, ber=0.015, score=0.97),
        MatchPosition(offset_s=22.0, query_offset_s=0.0, duration_s=8.0, ber=0.047, score=0.91),
    ]
    detail = MatchDetail(
        algorithm="chromaprint2-raw", ber=0.015, offset_s=54.0, duration_s=8.0, positions=positions
    )
    repeated = alert_factory(media="audio", match=detail)
    once = alert_factory(media="audio", page="http://kino.example.kz/2")
    app.store.upsert([repeated, once])
    admin = login("admin")

    def rows(alert: Alert) -> list[list[str]]:
        page = admin.client.get(f"/alerts/{alert.id}").text
        table = re.search(r'<table id="positions">.*?<tbody>(.*?)</tbody>', page, re.S)
        if table is None:
            return []
        return [
            [
                html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<td.*?</td>", r)
            ]
            for r in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
        ]

    assert rows(repeated) == [
        ["1", "54.0 s", "0.0 s", "97%", "0.015"],
        ["2", "22.0 s", "0.0 s", "91%", "0.047"],
    ]
    assert rows(once) == []  # one position: the span sentence says it


def test_a_video_alert_lists_every_position_of_a_repeated_picture_with_what_agreed(
    app: App, alert_factory: Callable[..., Alert], login: Callable[[str], Any]
) -> None:
    """A muted copy of a looping cartoon: each place its picture matches, ranked, with the
    frames that agreed there (no BER: the sound did not take part)."""
    positions = [
        MatchPosition(offset_s=5.5, query_offset_s=0.5, duration_s=7.5, score=0.94,
                      evidence="picture", frames=15, distance=4),
        MatchPosition(offset_s=1.5, query_offset_s=0.5, duration_s=7.5, score=0.94,
                      evidence="picture", frames=15, distance=6),
    ]  # fmt: skip
    detail = MatchDetail(
        algorithm="pdqf-2fps-3", evidence="picture", offset_s=5.5, query_offset_s=0.5,
        duration_s=7.5, frames=15, distance=4, positions=positions,
    )  # fmt: skip
    looped = alert_factory(media="video", match=detail)
    app.store.upsert([looped])
    page = login("admin").client.get(f"/alerts/{looped.id}").text
    table = re.search(r'<table id="positions">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert table is not None
    rows = [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td.*?</td>", r)]
        for r in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    ]
    assert rows == [
        ["1", "5.5 s", "0.5 s", "94%", "picture: 15 frames, median 4 bits apart"],
        ["2", "1.5 s", "0.5 s", "94%", "picture: 15 frames, median 6 bits apart"],
    ]


def test_a_refused_user_form_is_the_page_again_with_the_reason_beside_the_field_in_russian(
    login: Callable[[str], Any], console: Console
) -> None:
    """Not an English error page that loses what was typed: the users page, the reason
    beside its field in the administrator's language, the input kept; nothing written."""
    admin = login("admin")
    admin.client.put(
        "/api/me/language", json={"language": "ru"}, headers={"X-CSRF-Token": admin.csrf}
    )
    typed = {"username": "zhanna", "password": "long enough pw", "role": "rights_holder"}
    no_org = admin.client.post("/users", data={**typed, "csrf_token": admin.csrf})
    assert no_org.status_code == 422 and 'id="users"' in no_org.text
    assert re.search(r'id="err-add-org">Правообладателю нужна организация', no_org.text)
    assert 'value="zhanna"' in no_org.text and "long enough pw" not in no_org.text
    assert "needs an organisation" not in no_org.text and console.users.get("zhanna") is None
    # Editing oneself out of the administrators: the row keeps what was chosen, says why.
    me = admin.client.post(
        "/users/admin",
        data={"role": "operator", "language": "ru", "csrf_token": admin.csrf},
    )
    assert me.status_code == 403 and 'id="err-u-admin"' in me.text
    assert "Нельзя отключить себя" in me.text
    row = me.text.split("<td>admin</td>")[1].split("</tr>")[0]
    assert '<option value="operator" selected' in row
    assert console.users.require("admin").role == "admin"


@pytest.mark.parametrize(
    ("language", "says"),
    [("ru", "Такой страницы или записи нет"), ("kk", "Мұндай бет немесе жазба жоқ")],
)
def test_an_error_page_says_what_happened_in_the_readers_language(
    login: Callable[[str], Any], language: str, says: str
) -> None:
    """The reader's words first; the server's English text stays below as the detail."""
    admin = login("admin")
    admin.client.put(
        "/api/me/language", json={"language": language}, headers={"X-CSRF-Token": admin.csrf}
    )
    missing = admin.client.get("/works/no-such-work")
    assert missing.status_code == 404
    what = re.search(r'id="error-what">([^<]*)<', missing.text)
    assert what is not None and says in what.group(1)
    assert 'id="error-detail"' in missing.text
