"""Run the real ``tanba`` command in a subprocess, as a user would, and read its JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def tanba(
    home: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``tanba --home HOME ARGS`` with no crawl delay (the sites are local)."""
    return subprocess.run(
        [sys.executable, "-m", "tanba.app.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "TANBA_CRAWL_DELAY_S": "0", **(env or {})},
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
