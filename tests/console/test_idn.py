"""Internationalised host names in the console: accepted in Unicode or punycode, stored in
their ASCII form, shown in Unicode (the target form, the alert list and pages, licences).

Issue 18: a seed ``https://мысал.қаз/`` saved in the console but "Start crawl" answered
400; sites crawled in punycode were shown as ``xn--…``; a licence written in Unicode
never covered its site, which the crawl records in punycode.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tanba.console.context import Console
from tanba.core.alerts import Alert
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tests.console.conftest import Session
from tests.console.test_targets import form, input_value
from tests.support.alerts import make_alert

KAZ = "xn--80awbu3c.xn--80ao21a"  # мысал.қаз
RF = "xn--h1agd3a1be.xn--p1ai"  # фильмы.рф


def test_a_target_typed_in_unicode_is_stored_in_ascii_shown_in_unicode_and_may_start(
    login: Callable[[str], Session], app: App, console: Console
) -> None:
    ops = login("ops")
    posted = form(
        ops,
        None,
        name="muzyka",
        seeds="https://Мысал.Қаз/",
        allowed_domains="мысал.қаз",
        resolve="мысал.қаз:443:127.0.0.1",
        allow_private_addresses="1",
    )
    answer = ops.client.post("/targets", data=posted, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    record = app.targets.require("muzyka")
    assert record.spec["seeds"] == [f"https://{KAZ}/"]
    assert record.spec["allowed_domains"] == [KAZ]
    assert record.resolve == [f"{KAZ}:443:127.0.0.1"]
    console.targets.launchable(record)  # "Start crawl" is not refused
    page = ops.client.get(answer.headers["location"]).text
    assert input_value(page, "seeds") == "https://мысал.қаз/"
    assert input_value(page, "allowed_domains") == "мысал.қаз"
    assert input_value(page, "resolve") == "мысал.қаз:443:127.0.0.1"
    assert "https://мысал.қаз/" in ops.client.get("/targets").text
    # The same names in punycode are the same target: saving again changes nothing.
    again = form(ops, record, seeds=f"https://{KAZ}/", allowed_domains=KAZ.upper())
    ops.client.post("/targets/muzyka", data=again)
    assert app.targets.require("muzyka").spec == record.spec


def _row_sites(page: str) -> list[str]:
    return [html.unescape(s) for s in re.findall(r'<br><span class="muted">([^<]*)</span>', page)]


def test_sites_crawled_in_punycode_are_shown_and_filtered_in_unicode(
    login: Callable[[str], Session], app: App
) -> None:
    found = make_alert(page=f"http://{KAZ}/p/1", page_title="", seen="2026-03-02T10:00:00.000Z")
    other = make_alert(page="http://kino.example.kz/1", seen="2026-03-01T10:00:00.000Z")
    app.store.upsert([found, other])
    admin = login("admin").client
    assert _row_sites(admin.get("/alerts").text) == ["мысал.қаз", "kino.example.kz"]
    for typed in ("мысал.қаз", "Мысал.Қаз", KAZ):
        page = admin.get("/alerts", params={"site": typed}).text
        assert _row_sites(page) == ["мысал.қаз"], typed
        assert input_value(page, "site") == "мысал.қаз"
    grouped = admin.get("/alerts?group=site").text
    assert f'<a href="/alerts?site={KAZ}">мысал.қаз</a>' in grouped
    chart = admin.get("/alerts/charts/site.svg").text
    assert ">мысал.қаз</text>" in chart and f">{KAZ}" not in chart
    detail = admin.get(f"/alerts/{found.id}").text
    assert re.search(r'<dd id="site">мысал\.қаз', detail)
    assert ">http://мысал.қаз/p/1</a>" in detail


def test_a_licence_written_in_unicode_is_kept_in_ascii_and_shown_in_unicode(
    login: Callable[[str], Session], app: App, photos: list[Path], seeded: dict[str, Alert]
) -> None:
    register(
        app, [WorkSpec(path=photos[0], owner="Owner A", work_id="w-l", licensees=("Фильмы.РФ",))]
    )
    assert [lic.domain for lic in app.works.get("w-l").licences] == [RF]
    alice = login("alice")
    page = alice.client.get("/works/w-l").text
    assert "фильмы.рф" in page and RF not in page
    alice.post(
        "/works/w-l",
        data={"licences": "Мысал.Қаз KZ\nфильмы.рф", "csrf_token": alice.csrf},
    )
    assert [lic.domain for lic in app.works.get("w-l").licences] == [KAZ, RF]
    assert input_value(alice.client.get("/works/w-l").text, "licences") == "мысал.қаз KZ\nфильмы.рф"
    refused = alice.client.post(
        "/works/w-l", data={"licences": "https://фильмы.рф/", "csrf_token": alice.csrf}
    )
    assert refused.status_code == 400 and "not a domain name" in refused.text


TARGETS_FILE = """targets:
  - name: muzyka
    seeds: ["http://Мысал.Қаз/"]
    allowed_domains: ["мысал.қаз"]
    allow_private_addresses: true
  - name: kino
    seeds: ["http://kino.example.kz/"]
"""


def _import(session: Session, text: str, resolve: str = "") -> httpx.Response:
    return session.client.post(
        "/targets/import",
        files={"file": ("targets.yaml", text.encode(), "application/yaml")},
        data={"resolve": resolve, "csrf_token": session.csrf},
        follow_redirects=False,
    )


def test_an_operator_imports_a_targets_file_with_unicode_hosts_through_the_console(
    login: Callable[[str], Session], app: App
) -> None:
    ops = login("ops")
    done = _import(ops, TARGETS_FILE, resolve="мысал.қаз:80:127.0.0.1")
    assert done.status_code == 303, done.text
    shown = ops.client.get(done.headers["location"]).text
    assert "2 targets recorded: 2 added, 0 updated, 0 unchanged." in shown
    assert "http://мысал.қаз/" in shown
    record = app.targets.require("muzyka")
    assert (record.spec["seeds"], record.resolve) == ([f"http://{KAZ}/"], [f"{KAZ}:80:127.0.0.1"])
    assert record.updated_by == "ops"
    again = _import(ops, TARGETS_FILE.replace("Мысал.Қаз", KAZ))
    location = again.headers["location"]
    assert "unchanged=2" in location  # punycode or Unicode: the same targets
    broken = _import(ops, TARGETS_FILE + '  - name: bad\n    seeds: ["ftp://x.kz/"]\n')
    assert broken.status_code == 422
    text = html.unescape(broken.text)
    assert 'id="import-error"' in text and "bad" in text and "seeds" in text
    assert sorted(r.name for r in app.targets.records()) == ["kino", "muzyka"]  # nothing written


def test_a_console_that_refuses_private_addresses_refuses_a_file_asking_for_them(
    login: Callable[[str], Session], app: App, console: Console
) -> None:
    console.targets.allow_private = False
    ops = login("ops")
    refused = _import(ops, TARGETS_FILE)
    assert refused.status_code == 422
    assert 'id="import-error"' in refused.text
    assert app.targets.records() == []


def test_a_broken_targets_file_is_explained_in_the_users_language_naming_each_target(
    login: Callable[[str], Session], app: App, console: Console
) -> None:
    """Issue 18: a file's parse error came in English under a Russian heading."""
    console.users.update("ops", language="ru")
    ops = login("ops")
    cases = {
        "targets:\n  - name: a\n\tseeds: []\n": "ошибка YAML в строке 3",
        "sites:\n  - name: a\n": "файл должен начинаться со списка «targets»",
        "targets: []\n": "«targets» должен быть непустым списком целей",
        "targets:\n  - just-a-site\n": "цель №1: ожидались поля",
    }
    for text, said in cases.items():
        refused = _import(ops, text)
        assert refused.status_code == 422, text
        shown = html.unescape(refused.text.split('id="import-error"')[1].split("</div>")[0])
        assert "targets.yaml: " + said in shown, (text, shown)
    two_bad = (
        'targets:\n  - name: first\n    seeds: ["ftp://x.kz/"]\n'
        '  - name: second\n    seeds: ["https://y.kz/"]\n    max_depth: 99999\n'
    )
    shown = html.unescape(_import(ops, two_bad).text.split('id="import-error"')[1])
    assert "Цель 'first' (#1), поле «seeds»:" in shown
    assert "Цель 'second' (#2), поле «max_depth»:" in shown
    assert app.targets.records() == []
