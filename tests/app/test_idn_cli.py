"""The command's output shows internationalised names as people read them (мысал.қаз).

The commands run in this process on a temporary home: a targets file and ``--resolve``
in Unicode, a licence in Unicode, an alert on a site crawled in punycode. Tables and
summaries show Unicode; JSON lines carry the one stored (ASCII) form, for scripts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tanba.app.cli import main
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tests.support.alerts import make_alert

KAZ = "xn--80awbu3c.xn--80ao21a"  # мысал.қаз
RF = "xn--h1agd3a1be.xn--p1ai"  # фильмы.рф


def cli(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_targets_show_and_list_print_unicode_and_json_keeps_the_stored_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        'targets:\n  - name: muzyka\n    seeds: ["https://мысал.қаз/"]\n'
        '    allowed_domains: ["мысал.қаз"]\n',
        encoding="utf-8",
    )
    assert cli(home, "targets", "import", str(targets), "--resolve", "Мысал.Қаз:443:127.0.0.1") == 0
    capsys.readouterr()
    assert cli(home, "targets", "show", "muzyka") == 0
    shown = capsys.readouterr().out
    assert "https://мысал.қаз/" in shown and "- мысал.қаз" in shown
    assert "resolve: мысал.қаз:443:127.0.0.1" in shown and "xn--" not in shown
    assert cli(home, "targets", "list") == 0
    table = capsys.readouterr().out
    assert "https://мысал.қаз/" in table and "xn--" not in table
    assert cli(home, "targets", "list", "--json") == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["spec"]["allowed_domains"] == [KAZ]
    assert row["resolve"] == [f"{KAZ}:443:127.0.0.1"]


def test_alerts_list_and_works_list_print_unicode(
    tmp_path: Path, photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert cli(home, "works", "add", str(photos[0]), "--owner", "Owner A", "--title", "Степь",
               "--work-id", "w-a", "--licensee", "Фильмы.РФ:2026-01-01") == 0  # fmt: skip
    capsys.readouterr()
    assert cli(home, "works", "list") == 0
    table = capsys.readouterr().out
    assert "фильмы.рф" in table and "xn--" not in table
    assert cli(home, "works", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out)["licensees"] == [RF]
    app = App(Settings.from_env({}, home=home))
    try:
        app.store.upsert([make_alert(work_id="w-a", page=f"http://{KAZ}/p/1")])
    finally:
        app.close()
    assert cli(home, "alerts", "list") == 0
    listed = capsys.readouterr().out
    assert "http://мысал.қаз/p/1" in listed and "xn--" not in listed
    for site in ("Мысал.Қаз", KAZ):
        assert cli(home, "alerts", "list", "--site", site, "--json") == 0
        assert json.loads(capsys.readouterr().out)["page_url"] == f"http://{KAZ}/p/1"
