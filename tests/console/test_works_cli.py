"""`tanba works list` in a child process reads the works catalogue, with filters and a cursor."""

from __future__ import annotations

import re
import subprocess
import sys

from tanba.core.wiring import App
from tests.console.test_works_list import _lines, _register


def test_tanba_works_list_reads_the_catalogue_with_filters_and_cursor(app: App) -> None:
    _register(app)
    app.close()

    def tanba(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tanba.app.cli", "--home", str(app.settings.home)]
        return subprocess.run(
            [*command, "works", "list", *args], capture_output=True, text=True, timeout=120
        )

    one = tanba("--owner", "Owner A", "--limit", "1", "--json")
    assert one.returncode == 0, one.stderr
    assert [w["work_id"] for w in _lines(one.stdout)] == ["a-song"]
    cursor = re.search(r"--after (\S+)", one.stderr)
    assert cursor is not None and "1 of 3 works" in one.stderr
    rest = tanba("--owner", "Owner A", "--after", cursor.group(1), "--json")
    assert [w["work_id"] for w in _lines(rest.stdout)] == ["a-wind", "a-sun"]
    found = tanba("--search", "steppe", "--all", "--json")
    assert [w["work_id"] for w in _lines(found.stdout)] == ["a-wind", "a-sun"]
