"""``tanba targets`` and ``tanba run``/``crawl`` on the target registry the console reads.

The commands run in this process (``main``), except ``tanba run``, which crawls,
and so runs as a child process as a user runs it (those tests are integration).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tanba.app.cli import main
from tanba.app.demo.server import SiteServer
from tanba.console.web import create_app
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tests.console.conftest import FAST_HASHER, PASSWORD, browser_login
from tests.support.cli import ok, tanba

TARGETS = """
targets:
  - name: kino
    seeds: ["http://kino.example.kz/"]
    max_pages: 50
    schedule_hours: 24
  - name: muzyka
    seeds: ["https://мысал.қаз/"]
    jurisdiction: kz
"""


def cli(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def targets_file(tmp_path: Path) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(TARGETS, encoding="utf-8")
    return path


def test_import_list_export_and_import_again_changes_nothing(
    home: Path, targets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(home, "targets", "import", str(targets_file)) == 0
    out = capsys.readouterr().out
    assert "2 targets recorded (2 added)" in out
    assert "added     kino" in out and "added     muzyka" in out
    assert cli(home, "targets", "list", "--json") == 0
    rows = [yaml.safe_load(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["name"], r["state"]) for r in rows] == [
        ("kino", "kino", "active"),
        ("muzyka", "muzyka", "active"),
    ]
    assert rows[1]["spec"]["seeds"] == ["https://xn--80awbu3c.xn--80ao21a/"]
    exported = tmp_path / "exported.yaml"
    assert cli(home, "targets", "export", "-o", str(exported)) == 0
    capsys.readouterr()
    assert yaml.safe_load(exported.read_text())["targets"][0] == {
        "name": "kino",
        "seeds": ["http://kino.example.kz/"],
        "max_pages": 50,
        "schedule_hours": 24.0,
    }
    # Host names as the file's author wrote them, not as stored (punycode).
    assert yaml.safe_load(exported.read_text(encoding="utf-8"))["targets"][1]["seeds"] == [
        "https://мысал.қаз/"
    ]
    assert "xn--" not in exported.read_text(encoding="utf-8")
    assert cli(home, "targets", "import", str(exported)) == 0
    assert "2 targets recorded (2 unchanged)" in capsys.readouterr().out


def test_remove_archives_restore_brings_back_and_a_new_name_gets_a_new_id(
    home: Path, targets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(home, "targets", "import", str(targets_file))
    assert cli(home, "targets", "remove", "kino") == 0
    assert "archived" in capsys.readouterr().out
    cli(home, "targets", "list")
    assert "kino" not in capsys.readouterr().out
    cli(home, "targets", "list", "--archived")
    assert "kino" in capsys.readouterr().out
    # The same file again: kino is a new target now, with an id of its own.
    cli(home, "targets", "import", str(targets_file))
    assert "added     kino (id kino-2)" in capsys.readouterr().out
    assert cli(home, "targets", "restore", "kino") == 2
    assert "exists already" in capsys.readouterr().err
    assert cli(home, "targets", "remove", "nothing") == 2
    assert "no target 'nothing'" in capsys.readouterr().err


def test_a_file_past_a_limit_is_refused_with_the_field_and_the_limit(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "targets:\n"
        "  - name: kino\n"
        '    seeds: ["http://kino.example.kz/"]\n'
        "    max_pages: 999999999999\n"
        "    schedule_hours: 0.0001\n",
        encoding="utf-8",
    )
    for command in (["targets", "import", str(bad)], ["run", str(bad)], ["crawl", str(bad)]):
        assert cli(home, *command) == 2
        err = capsys.readouterr().err
        assert "field 'max_pages': must be a whole number from 1 to 1,000,000" in err
        assert "field 'schedule_hours'" in err and "(5 minutes)" in err
    cli(home, "targets", "list")
    assert capsys.readouterr().out.strip() == "(none)"  # nothing was recorded


def test_run_says_what_to_do_without_targets_and_refuses_an_archived_one(
    home: Path, targets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(home, "run") == 2
    assert "tanba targets import FILE" in capsys.readouterr().err
    cli(home, "targets", "import", str(targets_file))
    cli(home, "targets", "remove", "kino")
    capsys.readouterr()
    assert cli(home, "crawl", "--target", "kino") == 2
    assert "restore it first" in capsys.readouterr().err
    assert cli(home, "run", str(targets_file), "--target", "kino") == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.integration
def test_a_run_records_its_targets_the_console_shows_them_with_each_failure(
    tmp_path: Path,
) -> None:
    """`tanba run FILE` in a child process: its targets, counters and failures in the console."""
    home = tmp_path / "home"
    site = {
        "kino.example.kz": {
            "/": b"<html><body><a href='/p2'>2</a><img src='/gone.jpg'></body></html>",
            "/p2": b"<html><body>page 2</body></html>",
        }
    }
    with SiteServer(site) as server:
        targets = tmp_path / "targets.yaml"
        targets.write_text(
            "targets:\n"
            "  - name: kino\n"
            f'    seeds: ["{server.url("kino.example.kz", "/")}"]\n'
            "    allow_private_addresses: true\n"
            "  - name: lost\n"
            '    seeds: ["http://kino.tanba-test.invalid/"]\n',
            encoding="utf-8",
        )
        first = ok(tanba(home, "run", str(targets), *server.resolve_args()))
        # Without a file, `tanba run` crawls the recorded targets, with their --resolve.
        second = ok(tanba(home, "run"))
    for out in (first, second):
        assert "failed fetches 2: dns 1, http_status 1" in out
        assert "http://kino.tanba-test.invalid/" in out
        assert "the host name does not resolve (DNS)" in out
        assert "gone.jpg" in out and "HTTP 404" in out
    assert "pages 2, media 0" in second  # the second run found the site through its record

    settings = Settings.from_env({}, home=home)
    app = App(settings, FixedClock("2026-03-01T12:00:00Z"))
    try:
        web = create_app(app, hasher=FAST_HASHER)
        web.state.console.users.add("ops", PASSWORD, "operator", language="en")
        client = TestClient(web)
        browser_login(client, "ops")
        listing = client.get("/targets").text
        assert '<tr data-target="kino">' in listing and '<tr data-target="lost">' in listing
        lost = client.get("/targets/lost").text
        assert '<td class="num" id="total-crawls">2</td>' in lost
        assert "<li>the host name does not resolve (DNS): 1</li>" in lost
        failure = client.get(f"/targets/lost/crawls/{_last_crawl(client, 'lost')}/failures/0")
        assert failure.status_code == 200
        assert "http://kino.tanba-test.invalid/" in failure.text
    finally:
        app.close()


def _last_crawl(client: TestClient, target_id: str) -> str:
    crawls = client.get(f"/api/targets/{target_id}/crawls").json()
    return str(crawls[0]["crawl_id"])


def test_export_writes_internationalised_names_as_written_and_paths_as_stored(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "idn.yaml"
    source.write_text(
        "targets:\n"
        "  - name: filmy\n"
        '    seeds: ["http://фильмы.рф:8080/xn--p1ai/фильм"]\n'
        '    allowed_domains: ["фильмы.рф", "kino.kz"]\n',
        encoding="utf-8",
    )
    assert cli(home, "targets", "import", str(source)) == 0
    exported = tmp_path / "exported.yaml"
    assert cli(home, "targets", "export", "-o", str(exported)) == 0
    (target,) = yaml.safe_load(exported.read_text(encoding="utf-8"))["targets"]
    # The host is decoded, the path keeps its stored (percent-encoded) form.
    assert target["seeds"] == ["http://фильмы.рф:8080/xn--p1ai/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC"]
    assert target["allowed_domains"] == ["фильмы.рф", "kino.kz"]
    capsys.readouterr()
    assert cli(home, "targets", "import", str(exported)) == 0
    assert "1 targets recorded (1 unchanged)" in capsys.readouterr().out
