"""tanba crawl: user errors exit 2 with the message, before any crawling starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.app.cli import main


def test_bad_targets_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - name: a\n    seeds: ['http://a.kz/']\n    max_dept: 1\n")
    assert main(["--home", str(tmp_path / "home"), "crawl", str(targets), "--json"]) == 2
    captured = capsys.readouterr()
    assert "field 'max_dept'" in captured.err and captured.out == ""


def test_bad_resolve_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - name: a\n    seeds: ['http://a.kz/']\n")
    args = ["--home", str(tmp_path / "home"), "crawl", str(targets), "--resolve", "a.kz"]
    assert main(args) == 2
    assert "HOST:PORT:ADDRESS" in capsys.readouterr().err
