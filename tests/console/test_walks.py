"""Each role through its daily task in the console, in Russian and in Kazakh (issue 18's floor).

Real headless Chromium (Debian's, driven by Playwright) against the console in
uvicorn, as in :mod:`tests.console.test_browser` (the fixtures of :mod:`tests.console.conftest`).
Every wait is on a condition (an element, a download, a crawl run that ends), never
on time; crawls are ``tanba run`` children on loopback sites, their host names mapped
to 127.0.0.1 (``--resolve`` entries) or under ``.invalid``, which never resolves
and is never asked of a resolver (RFC 6761). Screenshots go to ``test-artifacts/console/``.

- a rights holder triages a site's copies in bulk: the list grouped by site, the
  site's alerts, all of them confirmed at once, each with its history entry;
- an agency exports a case and marks the notice sent: the confirmed alerts of a site
  ticked, one archive of signed packages downloaded, every alert notice_sent;
- an operator imports a targets file with internationalised hosts, sees why its
  first crawl found nothing (DNS), fixes the seed, and sees the next crawl's yield.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tanba.app.demo import media
from tanba.app.demo.server import SiteServer
from tanba.console.i18n import Translator
from tanba.core.alerts import Alert, StatusChange
from tanba.core.store import AlertQuery
from tanba.core.wiring import App
from tanba.evidence.bundle import INDEX, MAX_BUNDLE
from tanba.evidence.custody import CustodyLog
from tanba.fingerprint.registration import WorkSpec, register
from tests.console.conftest import SignIn, shot
from tests.support.alerts import make_alert, with_page_capture

LANGUAGES = ("ru", "kk")
RF = "xn--h1agd3a1be.xn--p1ai"  # фильмы.рф


def speak(page: Page, lang: str) -> Translator:
    """Switch the signed-in user's language with the header's button; the words to expect."""
    t = Translator(lang)
    page.click(f"header button[value={lang}]")
    expect(page.locator("header")).to_contain_text(t("nav.alerts"))
    return t


def save(page: Page) -> int:
    """Submit the target form; the status of the answer to its POST (waited for, not timed)."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("#target-form button").click()
    status = answer.value.status
    page.wait_for_load_state()
    return status


def _history(app: App, alert: Alert) -> list[tuple[str, str]]:
    stored = app.store.get(alert.id)
    assert stored is not None
    return [(h.status, h.actor) for h in stored.history]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_rights_holder_triages_a_sites_copies_in_bulk(
    sign_in: SignIn, app: App, artifacts: Path, lang: str
) -> None:
    site = [
        make_alert(
            page=f"http://kino.example.kz/film/{i}", seen=f"2026-03-0{1 + i % 5}T10:00:00.000Z"
        )
        for i in range(7)
    ]
    elsewhere = make_alert(page="http://foto.example.ru/1", jurisdiction="RU")
    app.store.upsert([*site, elsewhere])
    alice = sign_in("alice")
    page = alice.page
    t = speak(page, lang)
    page.select_option("select[name=group]", "site")
    page.click("form.filters button")
    groups = page.locator("#groups tbody tr")
    expect(groups).to_have_count(2)
    expect(groups.first).to_contain_text("kino.example.kz")
    expect(groups.first.locator("td.num")).to_have_text("7")
    shot(page, artifacts, f"walk-rights-holder-sites-{lang}")
    groups.first.locator("a").click()
    expect(page.locator("#alerts tbody tr")).to_have_count(7)
    page.check("#bulk-all")
    page.click("#bulk-confirmed")
    expect(page.locator("#bulk-done")).to_have_text(t("bulk.done", changed=7))
    expect(page.locator("#tab-confirmed .count")).to_have_text("7")
    expect(page.locator("#tab-new .count")).to_have_text("0")  # the site's list: none left new
    shot(page, artifacts, f"walk-rights-holder-confirmed-{lang}")
    assert all(_history(app, a) == [("confirmed", "alice")] for a in site)
    assert _history(app, elsewhere) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_agency_exports_a_case_and_marks_the_notice_sent(
    sign_in: SignIn, app: App, artifacts: Path, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANBA_TSA_URL", "")
    case = [
        with_page_capture(
            make_alert(page=f"http://shop.example.kz/item/{i}", owner="Owner B", work_id="w-b"),
            app.captures_dir,
            app.clock,
        )
        for i in range(3)
    ]
    unconfirmed = make_alert(page="http://shop.example.kz/item/9", owner="Owner B", work_id="w-b")
    app.store.upsert([*case, unconfirmed])
    confirmed = StatusChange(status="confirmed", actor="bob", at="2026-03-02T09:00:00.000Z")
    for alert in case:
        app.store.change_status(alert.id, confirmed)
    agency = sign_in("kz-agency")
    page = agency.page
    t = speak(page, lang)
    page.click("#tab-confirmed")
    page.fill("input[name=site]", "shop.example.kz")
    page.click("form.filters button")
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#bulk-export")).to_have_text(t("bulk.export", most=MAX_BUNDLE))
    for i in range(3):
        rows.nth(i).locator("input[name=ids]").check()
    page.check("#bulk-mark-notice-sent")
    shot(page, artifacts, f"walk-agency-case-{lang}")
    page.click("#bulk-export")  # written in the background: its page shows how far it is
    expect(page.locator("h1")).to_contain_text(t("export.title", total=3))
    expect(page.locator("#export-file")).to_be_visible(timeout=120_000)  # it reloads itself
    expect(page.locator("#export-progress")).to_have_text(t("export.progress", written=3, total=3))
    shot(page, artifacts, f"walk-agency-export-{lang}")
    with page.expect_download() as download:
        page.click("#export-file")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    index = json.loads(archive.read(INDEX))
    assert sorted(p["alert_id"] for p in index["packages"]) == sorted(a.id for a in case)
    assert index["exported_by"] == "kz-agency"
    page.click("#export a[href='/alerts']")
    expect(page.locator("#tab-notice_sent .count")).to_have_text("3")
    shot(page, artifacts, f"walk-agency-sent-{lang}")
    custody = CustodyLog(app.bus, app.clock)
    for alert in case:
        assert _history(app, alert) == [("confirmed", "bob"), ("notice_sent", "kz-agency")]
        exports = [e for e in custody.case_log(alert) if e.action == "exported"]
        assert [(e.actor, e.interface) for e in exports] == [("kz-agency", "console")]
    assert _history(app, unconfirmed) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_operator_imports_idn_targets_sees_a_dns_failure_fixes_it_and_sees_the_yield(
    sign_in: SignIn,
    app: App,
    console: Any,
    photos: list[Path],
    artifacts: Path,
    tmp_path: Path,
    lang: str,
) -> None:
    register(app, [WorkSpec(path=photos[0], owner="Owner A", title="Степь", work_id="steppe")])
    site = {
        RF: {
            "/": b"<html><head><title>Films</title></head><body><a href='/p2'>next</a>"
            b"<img src='/a.jpg'></body></html>",
            "/p2": b"<html><body><img src='/b.jpg'></body></html>",
            "/a.jpg": media.web_jpeg(photos[0], width=480, quality=75),  # a copy of the work
            "/b.jpg": media.web_jpeg(photos[1], width=320),
        }
    }
    with SiteServer(site) as server:
        port = server.port
        targets = tmp_path / "targets.yaml"
        targets.write_text(  # the seed's host mistyped: it does not resolve
            "targets:\n  - name: filmy\n"
            f'    seeds: ["http://фильмы.invalid:{port}/"]\n'
            "    max_pages: 10\n    delay_s: 0\n    allow_private_addresses: true\n",
            encoding="utf-8",
        )
        ops = sign_in("ops")
        page = ops.page
        t = speak(page, lang)
        ops.goto("/targets")
        form = page.locator("#import-form")
        form.locator("input[name=file]").set_input_files(str(targets))
        form.locator("textarea[name=resolve]").fill(f"фильмы.рф:{port}:127.0.0.1")
        form.locator("button").click()
        expect(page.locator("#imported")).to_have_text(
            t("targets.imported", count=1, added=1, updated=0, unchanged=0)
        )
        row = page.locator("#targets tr[data-target=filmy]")
        expect(row).to_contain_text(f"http://фильмы.invalid:{port}/")
        shot(page, artifacts, f"walk-operator-imported-{lang}")
        row.locator("a").first.click()

        def crawl() -> None:
            """Start a crawl with the button, wait for its child to end, show the page again."""
            before = {r.id for r in console.runs.runs("filmy")}
            page.click("#start-crawl")
            expect(page.locator("#runs")).to_contain_text(t("runs.running"))
            (run,) = [r for r in console.runs.runs("filmy") if r.id not in before]
            finished = console.launcher.wait(run.id, timeout_s=300)  # ends when the child does
            assert finished is not None and finished.returncode == 0, Path(run.log).read_text()[
                -2000:
            ]
            page.reload()

        crawl()
        expect(page.locator("#last-failures")).to_contain_text(t("failure.dns"))
        shot(page, artifacts, f"walk-operator-dns-{lang}")
        page.locator("#last-failed a").first.click()
        expect(page.locator("#failure-reason")).to_have_text(t("failure.dns"))
        expect(page.locator("#failure-url")).to_contain_text(f"http://фильмы.invalid:{port}/")
        shot(page, artifacts, f"walk-operator-dns-reason-{lang}")
        page.go_back()
        seeds = page.locator("#target-form textarea[name=seeds]")
        expect(seeds).to_have_value(f"http://фильмы.invalid:{port}/")
        seeds.fill(f"http://фильмы.рф:{port}/")
        assert save(page) == 422
        # The domains still name the mistyped host: the error says so beside the field,
        # in the user's language and in Unicode, and keeps what was typed.
        expect(page.locator("#err-allowed_domains")).to_contain_text("фильмы.рф")
        expect(seeds).to_have_value(f"http://фильмы.рф:{port}/")
        shot(page, artifacts, f"walk-operator-domains-{lang}")
        domains = page.locator("#target-form textarea[name=allowed_domains]")
        expect(domains).to_have_value("фильмы.invalid")
        domains.fill("фильмы.рф")
        assert save(page) == 303  # saved, and the page shown again
        expect(page.locator(".field-error")).to_have_count(0)
        crawl()
        expect(page.locator("#last-crawl")).to_contain_text(
            t("crawl.summary", pages=2, media=2, failed=0)
        )
        expect(page.locator("#total-matches")).to_have_text("1")
        expect(page.locator("#total-yield")).to_have_text("0.0")  # nothing confirmed yet
        # The rights holder confirms the copy; the target's yield counts it.
        (found,) = app.store.search(AlertQuery(target="filmy", limit=10)).alerts
        assert found.site == RF
        app.store.change_status(
            found.id, StatusChange(status="confirmed", actor="alice", at="2026-03-02T10:00:00Z")
        )
        page.reload()
        expect(page.locator("#total-yield")).to_have_text("500.0")  # 1 confirmed in 2 pages
        shot(page, artifacts, f"walk-operator-yield-{lang}")
