"""python -m crawlers: user errors exit 2 with the message, before any crawling starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.__main__ import main


def test_bad_targets_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - name: a\n    seeds: ['http://a.kz/']\n    max_dept: 1\n")
    assert main([str(targets), "--home", str(tmp_path / "home")]) == 2
    assert "field 'max_dept'" in capsys.readouterr().err


def test_bad_resolve_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - name: a\n    seeds: ['http://a.kz/']\n")
    assert main([str(targets), "--home", str(tmp_path / "home"), "--resolve", "a.kz"]) == 2
    assert "HOST:PORT:ADDRESS" in capsys.readouterr().err
