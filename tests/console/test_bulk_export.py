"""Evidence of many alerts in one action: the list's bulk export and ``POST /api/alerts/evidence``.

Runs on the embedded store and on the real Elasticsearch (the selection is one store
query, the notice-sent marking one bulk change). Each archive holds every case's
signed package as a single export writes it and a signed index of them; each case's
chain of custody names the export and its actor.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tanba.app.cli import main
from tanba.console.context import Console
from tanba.console.exports import ExportJobs, inline
from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.exceptions import InputError, NotFound
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence import bundle
from tanba.evidence.custody import CustodyLog
from tanba.evidence.signing import load_signing_key, verify_signature
from tanba.evidence.trust import TrustedKey
from tests.console.conftest import Session
from tests.services import elastic_url  # noqa: F401 - fixture
from tests.support.alerts import make_alert, with_page_capture
from tests.support.backends import CONSOLE_STORES, console_settings

ADMIN = Principal("admin", "admin")


@pytest.fixture(params=CONSOLE_STORES)
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The console's settings on each store; packages signed by the home's key, no TSA."""
    monkeypatch.setenv("TANBA_TSA_URL", "")
    monkeypatch.delenv("TANBA_SIGNING_KEY", raising=False)
    yield from console_settings(request, tmp_path, "bex")


@pytest.fixture
def cases(app: App, seeded: dict[str, Alert]) -> dict[str, Alert]:
    """The seeded alerts, each with a crawl capture of its page (what a package replays)."""
    captured = {k: with_page_capture(a, app.captures_dir, app.clock) for k, a in seeded.items()}
    app.store.upsert(list(captured.values()))
    return captured


@pytest.fixture(autouse=True)
def exports_inline(console: Console) -> None:
    """Bulk exports run before the list's answer (the reference runner): the job page then
    shows the finished export, whose file the tests fetch."""
    console.exports = ExportJobs(runner=inline)


def _export(session: Session, url: str, form: dict[str, object]) -> httpx.Response:
    """Start a bulk export from the list; its file once written, or the answer that is no
    finished export (a refusal, or the page of a failed one)."""
    page = session.client.post(url, data=form)
    link = re.search(r'id="export-file" href="([^"]+)"', page.text)
    return session.client.get(link.group(1)) if link else page


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _exports(app: App, alert: Alert) -> list[tuple[str, str, str]]:
    """(actor, interface, package SHA-256) of each export in the alert's chain of custody."""
    log = CustodyLog(app.bus, app.clock).case_log(alert)
    return [(e.actor, e.interface, e.package_sha256) for e in log if e.action == "exported"]


def test_the_rows_ticked_are_exported_as_one_archive_of_signed_packages_with_a_signed_index(
    app: App, cases: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    agency = login("kz-agency")
    picked = [cases["a_kz"].id, cases["b_kz"].id, cases["a_ru"].id]  # a_ru is in RU
    answer = _export(
        agency, "/alerts/evidence?site=kino.example.kz", {"ids": picked, "csrf_token": agency.csrf}
    )
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    members = _members(answer.content)
    mine = sorted((cases["a_kz"].id, cases["b_kz"].id))
    assert sorted(members) == sorted(
        [f"packages/{i}.zip" for i in mine] + [bundle.INDEX, bundle.SIGNATURE]
    )
    index = json.loads(members[bundle.INDEX])
    assert index["format"] == bundle.FORMAT and index["exported_by"] == "kz-agency"
    key = load_signing_key(app.settings.home)
    assert index["signed_by"] == key.fingerprint
    signature = base64.b64decode(members[bundle.SIGNATURE])
    assert verify_signature(key.public, signature, members[bundle.INDEX])
    assert not verify_signature(key.public, signature, members[bundle.INDEX][1:])
    for entry in index["packages"]:
        package = members[entry["file"]]
        digest = hashlib.sha256(package).hexdigest()
        assert entry["package_sha256"] == digest
        assert "manifest.json" in _members(package)  # a package as a single export writes it
        alert = next(a for a in cases.values() if a.id == entry["alert_id"])
        assert _exports(app, alert) == [("kz-agency", "console", digest)]
    assert _exports(app, cases["a_ru"]) == []  # not the agency's to export: left out


def test_export_and_mark_sent_needs_every_alert_confirmed_then_moves_each_with_its_history(
    app: App, cases: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    alice = login("alice")  # Owner A: a_kz, a_ru, a_kz_audio
    form = {"all": "true", "mark_notice_sent": "true", "csrf_token": alice.csrf}
    refused = _export(alice, "/alerts/evidence?media=image", form)
    assert refused.status_code == 409 and "nothing was exported" in refused.text
    assert _exports(app, cases["a_kz"]) == []
    alice.post(
        "/alerts/status?media=image",
        data={"status": "confirmed", "all": "true", "csrf_token": alice.csrf},
    )
    done = _export(alice, "/alerts/evidence?media=image", form)
    assert done.status_code == 200, done.text
    for key in ("a_kz", "a_ru"):
        stored = app.store.get(cases[key].id)
        assert stored is not None and stored.status == "notice_sent"
        assert [(h.status, h.actor) for h in stored.history] == [
            ("confirmed", "alice"),
            ("notice_sent", "alice"),
        ]
        assert [e[:2] for e in _exports(app, cases[key])] == [("alice", "console")]
    audio = app.store.get(cases["a_kz_audio"].id)
    assert audio is not None and audio.status == "new"  # not in the image filter


def test_a_bundle_that_fails_is_in_no_cases_log_and_leaves_no_file(
    app: App, cases: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    uncaptured = make_alert(page="http://kino.example.kz/77", seen="2026-03-09T10:00:00.000Z")
    app.store.upsert([uncaptured])
    agency = login("kz-agency")
    failed = _export(
        agency, "/alerts/evidence?site=kino.example.kz", {"all": "true", "csrf_token": agency.csrf}
    )
    assert 'data-state="failed"' in failed.text and uncaptured.id in failed.text
    assert all(_exports(app, a) == [] for a in [*cases.values(), uncaptured])
    written = app.settings.path("console", "evidence")
    assert not written.exists() or list(written.iterdir()) == []


def test_more_than_one_export_holds_is_refused_saying_what_to_do_and_nothing_is_written(
    app: App,
    cases: dict[str, Alert],
    login: Callable[[str], Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bundle, "MAX_BUNDLE", 2)
    admin = login("admin")
    too_many = _export(admin, "/alerts/evidence", {"all": "true", "csrf_token": admin.csrf})
    assert too_many.status_code == 400
    assert "5 alerts are selected" in too_many.text and "at most 2" in too_many.text
    assert "narrow the filter" in too_many.text
    assert all(_exports(app, a) == [] for a in cases.values())
    fits = _export(
        admin, "/alerts/evidence?jurisdiction=RU", {"all": "true", "csrf_token": admin.csrf}
    )
    assert fits.status_code == 200 and "attachment" in fits.headers["content-disposition"]
    with pytest.raises(InputError, match="at most 2"):  # the exporter holds the bound itself
        bundle.export_bundle(
            app, [a.id for a in cases.values()], app.settings.home / "x.zip", ADMIN
        )
    assert not (app.settings.home / "x.zip").exists()


def test_the_api_exports_by_filter_and_operators_may_not_export(
    token_for: Callable[[str], dict[str, str]],
    login: Callable[[str], Session],
    app: App,
    cases: dict[str, Alert],
) -> None:
    client = login("admin").client
    answer = client.post(
        "/api/alerts/evidence", json={"filter": {"jurisdiction": "KZ"}}, headers=token_for("bob")
    )
    assert answer.status_code == 200, answer.text
    index = json.loads(_members(answer.content)[bundle.INDEX])
    assert [p["alert_id"] for p in index["packages"]] == [cases["b_kz"].id]
    assert [e[:2] for e in _exports(app, cases["b_kz"])] == [("bob", "api")]
    nothing = client.post(
        "/api/alerts/evidence", json={"ids": [cases["a_kz"].id]}, headers=token_for("bob")
    )
    assert nothing.status_code == 400 and "no alert you may see" in nothing.json()["detail"]
    operator = client.post("/api/alerts/evidence", json={"filter": {}}, headers=token_for("ops"))
    assert operator.status_code == 403
    assert all(e[0] == "bob" for a in cases.values() for e in _exports(app, a))


def test_the_export_button_speaks_the_users_language(
    app: App, cases: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    agency = login("kz-agency")
    for language, words in (
        ("en", "Export evidence (up to 50)"),
        ("ru", "Выгрузить доказательства (не более 50)"),
        ("kk", "Дәлелдемелерді жүктеу (50 дейін)"),
    ):
        agency.client.put(
            "/api/me/language", json={"language": language}, headers={"X-CSRF-Token": agency.csrf}
        )
        page = agency.client.get("/alerts").text
        assert 'id="bulk-export"' in page and words in page, language


def _rezip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_tanba_evidence_verify_checks_every_package_and_the_signed_index(
    app: App,
    cases: dict[str, Alert],
    login: Callable[[str], Session],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = login("admin")
    data = _export(
        admin, "/alerts/evidence?jurisdiction=KZ", {"all": "true", "csrf_token": admin.csrf}
    ).content
    key = load_signing_key(app.settings.home)
    trusted = [TrustedKey(key.fingerprint, "this installation", key.public)]
    intact = bundle.verify_bundle(data, trusted)
    assert intact.ok and len(intact.packages) == 3, intact
    members = _members(data)
    first, second = sorted(m for m in members if m.startswith("packages/"))[:2]
    index = json.loads(members[bundle.INDEX])
    index["exported_by"] = "somebody else"
    broken = {
        "swapped": {**members, first: members[second]},
        "removed": {k: v for k, v in members.items() if k != first},
        "added": {**members, "packages/extra.zip": members[second]},
        "index changed": {**members, bundle.INDEX: json.dumps(index).encode()},
    }
    said = {
        "swapped": f"{first} was changed or swapped",
        "removed": f"{first} is missing",
        "added": "packages/extra.zip was added",
        "index changed": "the signature does not verify",
    }
    for case, tampered in broken.items():
        found = bundle.verify_bundle(_rezip(tampered), trusted)
        assert not found.ok and any(said[case] in p for p in found.problems), (case, found)
    stranger = bundle.verify_bundle(data, [])
    assert not stranger.ok and stranger.unknown_signer == key.fingerprint
    archive = tmp_path / "archive.zip"
    archive.write_bytes(data)
    home = str(app.settings.home)
    assert main(["--home", home, "evidence", "verify", str(archive)]) == 0
    assert "OK: " in capsys.readouterr().out
    archive.write_bytes(_rezip(broken["swapped"]))
    assert main(["--home", home, "evidence", "verify", str(archive)]) == 1
    assert "FAILED: " in capsys.readouterr().out


def test_the_cli_exports_several_cases_as_one_archive_with_a_signed_index(
    app: App,
    cases: dict[str, Alert],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = str(app.settings.home)
    monkeypatch.setenv("TANBA_STORE", app.settings.store)  # the CLI reads the same store
    monkeypatch.setenv("TANBA_NAMESPACE", app.settings.namespace)
    picked = sorted((cases["a_kz"].id, cases["b_kz"].id))
    archive = tmp_path / "case.zip"
    args = ["--home", home, "evidence", "export", *picked, "-o", str(archive), "--bundle"]
    args += ["--actor", "Aigerim"]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert f"{archive}: 2 cases and a signed index" in said
    key = load_signing_key(app.settings.home)
    found = bundle.verify_bundle(
        archive.read_bytes(), [TrustedKey(key.fingerprint, "this installation", key.public)]
    )
    assert found.ok and sorted(found.packages) == [f"packages/{i}.zip" for i in picked], found
    assert main(["--home", home, "evidence", "verify", str(archive)]) == 0
    for alert in (cases["a_kz"], cases["b_kz"]):
        assert [(actor, way) for actor, way, _ in _exports(app, alert)] == [("Aigerim", "cli")]


def test_a_bulk_export_runs_in_the_background_its_page_showing_progress_to_its_owner_alone(
    app: App, console: Console, cases: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    held: list[Callable[[], None]] = []
    console.exports = ExportJobs(runner=held.append)  # the job waits until the test runs it
    admin = login("admin")
    started = admin.client.post(
        "/alerts/evidence?jurisdiction=KZ",
        data={"all": "true", "csrf_token": admin.csrf},
        follow_redirects=False,
    )
    assert started.status_code == 303 and _exports(app, cases["a_kz"]) == []
    job_url = started.headers["location"]
    assert re.fullmatch(r"/exports/[\w-]{16}", job_url), job_url
    running = admin.client.get(job_url).text
    assert 'data-state="running"' in running and "0 of 3 packages written" in running
    assert '<meta http-equiv="refresh" content="3">' in running  # it reloads itself
    assert admin.client.get(job_url + "/file").status_code == 404  # nothing to fetch yet
    # Nobody else sees it.
    assert login("alice").client.get(job_url).status_code == 404
    assert login("alice").client.get(job_url + "/file").status_code == 404
    job = console.exports.get("admin", job_url.rsplit("/", 1)[1])
    (task,) = held
    task()
    assert job.written == 3 and job.state == "done"  # told after each package
    done = admin.client.get(job_url).text
    assert 'data-state="done"' in done and "3 of 3 packages written" in done
    assert "http-equiv" not in done
    archive = admin.client.get(job_url + "/file")
    assert "attachment" in archive.headers["content-disposition"]
    assert len([m for m in _members(archive.content) if m.startswith("packages/")]) == 3
    assert [e[:2] for e in _exports(app, cases["a_kz"])] == [("admin", "console")]


def test_export_jobs_tell_progress_and_end_failed_with_what_to_do_on_every_runner() -> None:
    from tanba.console.exports import in_thread

    for runner in (inline, in_thread()):
        jobs = ExportJobs(runner=runner, new_id=iter(("one", "two")).__next__)

        def work(told: Callable[[int], None]) -> Path:
            for n in (1, 2):
                told(n)
            return Path("/nowhere/evidence.zip")

        def broken(told: Callable[[int], None]) -> Path:
            raise InputError("case x has no capture; recapture it first")

        ok, bad = jobs.start("ann", 2, "e.zip", work), jobs.start("ann", 1, "f.zip", broken)
        for job in (ok, bad):
            for _ in range(6000):  # a thread's job ends; a broken one too (no timing asserted)
                if job.state != "running":
                    break
                threading.Event().wait(0.01)
        assert (ok.state, ok.written, ok.path) == ("done", 2, Path("/nowhere/evidence.zip"))
        assert (bad.state, bad.error) == ("failed", "case x has no capture; recapture it first")
        assert jobs.get("ann", "one") is ok
        with pytest.raises(NotFound, match="export the alerts again"):
            jobs.get("bob", "one")
