"""The README documents every setting and every command that exists, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from tanba.app.cli import _parser
from tanba.core.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `(TANBA_[A-Z0-9_]+)` \|", README, flags=re.M))
    assert documented == {env for env, _, _ in Settings.documentation()}


def test_every_command_is_in_the_readme() -> None:
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command" or a.metavar == "COMMAND")
    assert {"run", "works", "evidence"} <= set(sub.choices)  # type: ignore[arg-type]
    for name in sub.choices:  # type: ignore[union-attr]
        assert re.search(rf"^tanba {name}\b", README, flags=re.M), (
            f"'tanba {name}' is not documented"
        )


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = [
        line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ][-1]
    assert f"{command}" in README
