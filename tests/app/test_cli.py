"""The ``tanba`` command as a shell user meets it: a reader that stops early is no error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# The real command in child processes, as a shell user runs it.
pytestmark = pytest.mark.integration


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tanba.app.cli", "--home", str(tmp_path), "settings"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head -0` does: every write of the command meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def _tanba(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tanba.app.cli", "--home", str(home), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=300)


def test_users_are_edited_disabled_and_enabled_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = _tanba(home, "users", "add", "aigul", "--role", "rights_holder", "--org", "Typo Films",
                  "--password-stdin", stdin="a long enough password\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "no registered work has the owner 'Typo Films'" in made.stderr  # a likely typo
    again = _tanba(home, "users", "add", "aigul", "--role", "agency", "--jurisdiction", "KZ",
                   "--password-stdin", stdin="a long enough password\n")  # fmt: skip
    assert again.returncode == 2 and "tanba users edit aigul" in again.stderr
    edited = _tanba(home, "users", "edit", "aigul", "--role", "agency", "--jurisdiction", "KZ")
    assert edited.returncode == 0, edited.stderr
    assert "user aigul: agency (KZ)" in edited.stdout
    typo = _tanba(home, "users", "edit", "aigul", "--role", "rights_holder", "--org", "Typo")
    assert "no registered work has the owner 'Typo'" in typo.stderr
    disabled = _tanba(home, "users", "disable", "aigul")
    assert disabled.returncode == 0 and "warning" not in disabled.stderr  # said once, when set
    assert _tanba(home, "users", "edit", "aigul", "--role", "agency", "--jurisdiction", "KZ",
                  ).returncode == 0  # fmt: skip
    listed = _tanba(home, "users", "list").stdout
    assert "aigul\tagency\tKZ" in listed and "disabled" in listed
    assert _tanba(home, "users", "enable", "aigul").returncode == 0
    assert "disabled" not in _tanba(home, "users", "list").stdout
    nothing = _tanba(home, "users", "edit", "aigul")
    assert nothing.returncode == 2 and "say what to change" in nothing.stderr
