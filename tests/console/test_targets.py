"""The targets pages: one registry with the CLI, forms that keep the input, failures by reason.

Issue 18: targets run by the CLI were invisible in the console; a new target of an
old name showed the old target's statistics; nothing could be removed; anything was
accepted; a form's mistake went to a separate English error page; a crawl's
failures were a bare count.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tanba.app.cli import main
from tanba.app.demo.site import DemoSite
from tanba.console.context import Console
from tanba.console.i18n import Translator, catalogue
from tanba.console.targets import form_values
from tanba.console.web import create_app
from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.clock import FixedClock
from tanba.core.schemas.base import encode
from tanba.core.schemas.crawls import FAILURE_REASONS, CrawlFinished, FetchFailure, TargetReport
from tanba.core.schemas.targets import TargetRecord
from tanba.core.settings import Settings
from tanba.core.targets import MESSAGES, check_target
from tanba.core.wiring import App
from tests.console.conftest import FAST_HASHER, PASSWORD, Session, browser_login, make_alert
from tests.services import drop_namespace, elastic_url, kafka_bootstrap, new_namespace  # noqa: F401

SEED = "http://kino.example.kz/"


def report(app: App, crawl_id: str, finished: str, **targets: TargetReport) -> None:
    event = CrawlFinished(
        crawl_id=crawl_id, started_at=finished, finished_at=finished, targets=targets
    )
    app.bus.publish(topics.CRAWLS, [Record(crawl_id, encode(event))])


def form(session: Session, record: TargetRecord | None, **changes: str) -> dict[str, str]:
    """The target form as the browser posts it: every field as the page filled it in
    (``record``'s values; the defaults for a new target), but the user's ``changes``."""
    return {**form_values(record), **changes, "csrf_token": session.csrf}


def field_error(page: str, field: str) -> str:
    """The text beside ``field`` (its error), or "" when it has none."""
    found = re.search(rf'<span class="field-error" id="err-{field}">(.*?)</span>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def input_value(page: str, name: str) -> str:
    found = re.search(rf'<input name="{name}"[^>]*value="([^"]*)"', page)
    if found:
        return html.unescape(found.group(1))
    area = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert area is not None, f"no field {name}"
    return html.unescape(area.group(1))


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_a_bad_target_form_comes_back_with_the_input_and_each_error_in_the_users_language(
    lang: str, console: Console, login: Callable[[str], Session]
) -> None:
    console.users.update("ops", language=lang)
    ops = login("ops")
    long_name = "k" * 5000
    posted = form(
        ops,
        None,
        name=long_name,
        seeds="ftp://kino.example.kz/",
        max_depth="three",
        max_pages="999999999999",
        schedule_hours="0.0001",
    )
    answer = ops.client.post("/targets", data=posted, follow_redirects=False)
    assert answer.status_code == 422
    page = answer.text
    t = Translator(lang)
    assert t("error.title") not in page  # the form again, not the error page
    assert 'id="target-form"' in page
    # Every field keeps what was typed, however wrong.
    assert input_value(page, "name") == long_name
    assert input_value(page, "seeds") == "ftp://kino.example.kz/"
    assert input_value(page, "max_depth") == "three"
    assert input_value(page, "max_pages") == "999999999999"
    assert input_value(page, "schedule_hours") == "0.0001"
    # Each error beside its field, in the user's language, with the limit to respect.
    assert field_error(page, "name") == t("problem.too_long", length=5000, max=100)
    assert field_error(page, "seeds") == t("problem.not_http_url", value="ftp://kino.example.kz/")
    assert field_error(page, "max_depth") == t(
        "problem.whole_number", min=0, max="1,000", default=3
    )
    assert "1,000,000" in field_error(page, "max_pages")
    assert field_error(page, "schedule_hours") == t(
        "problem.schedule", min_hours="0.0833", min_minutes=5, max_hours="8,760"
    )
    assert field_error(page, "delay_s") == ""
    assert 'name="max_pages" inputmode="numeric" value="999999999999" aria-invalid="true"' in page
    assert console.targets.registry.records() == []  # nothing was saved


def test_an_edit_with_a_mistake_keeps_the_input_on_the_targets_page(
    console: Console, login: Callable[[str], Session]
) -> None:
    console.users.update("ops", language="ru")
    kino = console.targets.add({"name": "kino", "seeds": [SEED]}, [], "ops")
    ops = login("ops")
    posted = form(ops, kino, allowed_domains="other.kz", max_pages="0")
    answer = ops.client.post("/targets/kino", data=posted, follow_redirects=False)
    assert answer.status_code == 422
    assert input_value(answer.text, "allowed_domains") == "other.kz"
    assert "вне доменов цели" in field_error(answer.text, "allowed_domains")
    assert "от 1 до 1,000,000" in field_error(answer.text, "max_pages")
    assert "<h1" in answer.text and "kino" in answer.text  # the target's own page
    assert console.targets.registry.require("kino").spec["max_pages"] == 500  # unchanged


def test_a_taken_name_is_a_field_error_in_the_form_and_a_conflict_in_the_api(
    console: Console, login: Callable[[str], Session], token_for: Callable[[str], dict[str, str]]
) -> None:
    console.targets.add({"name": "kino", "seeds": [SEED]}, [], "ops")
    ops = login("ops")
    answer = ops.client.post(
        "/targets", data={"name": "kino", "seeds": SEED, "csrf_token": ops.csrf}
    )
    assert answer.status_code == 422
    assert "kino" in field_error(answer.text, "name") and "exists" in field_error(
        answer.text, "name"
    )
    api = ops.client.post(
        "/api/targets", json={"name": "kino", "seeds": [SEED]}, headers=token_for("ops")
    )
    assert api.status_code == 409 and api.json()["problems"][0]["code"] == "name_taken"


def test_targets_the_cli_recorded_are_on_the_targets_page(
    app: App, login: Callable[[str], Session], tmp_path: Path
) -> None:
    """After the demo's targets file is given to the CLI, /targets lists every one of them."""
    targets_file = DemoSite(sites={}, works=[], expected=[], licensed=[]).write_targets(
        tmp_path / "targets.yaml", 8081
    )
    assert main(["--home", str(app.settings.home), "targets", "import", str(targets_file)]) == 0
    page = login("ops").client.get("/targets").text
    for name in ("kino", "muzyka", "news", "partner"):
        assert f'<tr data-target="{name}">' in page
    assert "http://kino.example.kz:8081/" in page


def test_removing_keeps_the_history_and_a_new_target_of_the_name_starts_clean(
    app: App, console: Console, login: Callable[[str], Session]
) -> None:
    console.targets.add({"name": "kino", "seeds": [SEED]}, [], "ops")
    report(app, "c1", "2026-03-01T10:00:00.000Z", kino=TargetReport(name="kino", pages=400))
    ops = login("ops")
    removed = ops.client.post("/targets/kino/remove", data={"csrf_token": ops.csrf})
    assert removed.status_code == 200 and 'id="restore"' in removed.text
    assert '<td class="num" id="total-pages">400</td>' in removed.text  # history kept
    assert 'data-target="kino"' not in ops.client.get("/targets").text
    assert 'data-target="kino"' in ops.client.get("/targets?archived=true").text

    again = ops.client.post(
        "/targets", data={"name": "kino", "seeds": SEED, "csrf_token": ops.csrf}
    )
    assert again.url.path == "/targets/kino-2"  # a new id: the old statistics stay the old one's
    assert '<td class="num" id="total-pages">0</td>' in again.text
    # The old one cannot come back while its name is in use.
    blocked = ops.client.post("/targets/kino/restore", data={"csrf_token": ops.csrf})
    assert blocked.status_code == 409
    ops.client.post("/targets/kino-2/remove", data={"csrf_token": ops.csrf})
    back = ops.client.post("/targets/kino/restore", data={"csrf_token": ops.csrf})
    assert back.status_code == 200 and 'id="start-crawl"' in back.text


def test_each_failed_fetch_is_counted_by_reason_and_opens_with_its_url_and_reason(
    app: App, console: Console, login: Callable[[str], Session]
) -> None:
    console.users.update("ops", language="kk")
    console.targets.add({"name": "kino", "seeds": [SEED]}, [], "ops")
    failed = [
        FetchFailure(
            url="http://nothing.invalid/",
            reason="dns",
            detail="DNS lookup failed",
            at="2026-03-01T10:00:00.000Z",
        ),
        FetchFailure(
            url="http://kino.example.kz/private",
            reason="private_address",
            detail="kino.example.kz resolves to non-public address 10.0.0.7",
            referrer=SEED,
        ),
        FetchFailure(
            url="http://kino.example.kz/x.jpg",
            reason="http_status",
            detail="HTTP 404",
            kind="media",
        ),
    ]
    counts = {"dns": 1, "private_address": 1, "http_status": 7}
    report(
        app,
        "20260301T100000Z",
        "2026-03-01T10:00:00.000Z",
        kino=TargetReport(name="kino", pages=3, failures=counts, failed=failed),
    )
    ops = login("ops")
    t = Translator("kk")
    target = ops.client.get("/targets/kino").text
    assert '<td class="num" id="total-failed">9</td>' in target
    assert f"<li>{t('failure.dns')}: 1</li>" in target
    crawl = ops.client.get("/targets/kino/crawls/20260301T100000Z")
    assert crawl.status_code == 200
    by_reason = crawl.text.split('id="reasons"')[1].split("</table>")[0]
    assert re.findall(r'<tr data-reason="(\w+)">', by_reason) == [
        "dns",
        "private_address",
        "http_status",
    ]
    assert t("failure_hint.private_address") in crawl.text
    assert t("crawl.listed", listed=3, total=9) in crawl.text
    listed = crawl.text.split('id="failed"')[1]
    assert len(re.findall(r'<tr data-reason="', listed)) == 3
    one = ops.client.get("/targets/kino/crawls/20260301T100000Z/failures/1")
    assert one.status_code == 200
    assert '<dd class="url" id="failure-url">http://kino.example.kz/private</dd>' in one.text
    assert f'<dd id="failure-reason">{t("failure.private_address")}</dd>' in one.text
    assert "10.0.0.7" in one.text and SEED in one.text
    assert ops.client.get("/targets/kino/crawls/20260301T100000Z/failures/3").status_code == 404
    assert ops.client.get("/targets/kino/crawls/nope").status_code == 404
    api = ops.client.get("/api/targets/kino/crawls/20260301T100000Z").json()
    assert api["failures"] == counts and api["failed"][0]["url"] == "http://nothing.invalid/"


def test_in_the_distributed_mode_the_console_reads_the_same_targets_and_statistics(
    tmp_path: Path,
    kafka_bootstrap: str,  # noqa: F811 - the fixture
    elastic_url: str,  # noqa: F811 - the fixture
    clock: FixedClock,
) -> None:
    """Kafka carries the targets and crawl reports, Elasticsearch the alerts: same pages."""
    ns = new_namespace("tg")
    settings = Settings.from_env(
        {},
        home=tmp_path / "home",
        bus=f"kafka://{kafka_bootstrap}",
        store=elastic_url,
        namespace=ns,
        console_scheduler=False,
    )
    app = App(settings, clock)
    try:
        web = create_app(app, hasher=FAST_HASHER)
        web.state.console.users.add("ops", PASSWORD, "operator", language="ru")
        client = TestClient(web)
        csrf = browser_login(client, "ops")
        made = client.post("/targets", data={"name": "kino", "seeds": SEED, "csrf_token": csrf})
        assert made.url.path == "/targets/kino"
        # Another process (the crawler) reads the target from Kafka and reports on it.
        crawler = App(settings, clock)
        try:
            assert [r.id for r in crawler.targets.records()] == ["kino"]
            failed = [FetchFailure(url="http://nothing.invalid/", reason="dns")]
            report(
                crawler,
                "c1",
                "2026-03-01T10:00:00.000Z",
                kino=TargetReport(name="kino", pages=40, failures={"dns": 1}, failed=failed),
            )
        finally:
            crawler.close()
        app.store.upsert([make_alert(target="kino", status="new")])
        page = client.get("/targets/kino").text
        assert '<td class="num" id="total-pages">40</td>' in page
        assert '<td class="num" id="total-failed">1</td>' in page
        assert "<li>имя хоста не найдено (DNS): 1</li>" in page
        stats = client.get("/api/targets/kino/stats").json()
        assert (stats["pages"], stats["matches"]) == (40, 1)
    finally:
        app.close()
        drop_namespace(ns)


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_each_problem_and_failure_is_translated_with_the_cores_values(lang: str) -> None:
    """A problem's translation uses only the values the core gives it (or it would not format)."""
    messages = catalogue(lang)
    for code, english in MESSAGES.items():
        core = set(re.findall(r"{(\w+)}", english))
        assert set(re.findall(r"{(\w+)}", messages[f"problem.{code}"])) <= core, code
    for reason in FAILURE_REASONS:
        assert messages[f"failure.{reason}"] and messages[f"failure_hint.{reason}"]


def test_a_crawl_this_console_refuses_says_why_on_the_targets_page(tmp_path: Path) -> None:
    """A target the CLI recorded with private addresses, started from a console that refuses them."""
    settings = Settings.from_env({}, home=tmp_path / "home", console_scheduler=False)
    app = App(settings, FixedClock("2026-03-01T12:00:00Z"))
    try:
        app.targets.add(
            check_target({"name": "demo", "seeds": [SEED], "allow_private_addresses": True}), "cli"
        )
        web = create_app(app, hasher=FAST_HASHER)
        web.state.console.users.add("ops", PASSWORD, "operator", language="ru")
        client = TestClient(web)
        csrf = browser_login(client, "ops")
        refused = client.post("/targets/demo/crawl", data={"csrf_token": csrf})
        assert refused.status_code == 422
        top = refused.text.split('id="problems">')[1].split("</div>")[0]
        assert Translator("ru")("problem.private_refused") in top
        assert web.state.console.runs.last("demo") is None  # nothing was started
        # Editing other fields keeps its private addresses (the form has no such field here).
        edited = client.post(
            "/targets/demo",
            data={"name": "demo", "seeds": SEED, "max_pages": "20", "csrf_token": csrf},
        )
        assert edited.status_code == 200
        spec = app.targets.require("demo").spec
        assert (spec["max_pages"], spec["allow_private_addresses"]) == (20, True)
    finally:
        app.close()
