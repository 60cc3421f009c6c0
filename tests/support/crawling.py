"""Helpers to run a real crawl from a test: ``tanba crawl --json`` in a subprocess.

Contract: :func:`run_crawl` writes nothing itself; it runs the crawler CLI on a
targets file against a :class:`~tanba.app.demo.server.SiteServer` (every
site of the server reachable through ``--resolve``), waits for it, and returns
a :class:`CrawlRun` with the printed stats, the events published on
``tanba.media`` and what the server saw. :func:`image_bytes` makes small real
JPEG/PNG files with Pillow.

Why a subprocess: Twisted's reactor runs once per process, and the test
process must stay able to run many crawls.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tanba.app.demo.server import SiteServer
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.schemas.base import decode
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.topics import MEDIA

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CrawlRun:
    """What one crawl produced."""

    port: int
    home: Path
    crawl_id: str
    stats: dict[str, Any]  # the JSON printed by tanba crawl --json
    events: list[tuple[str | None, MediaDiscovered]]  # (bus key, event) in publish order
    requests: dict[str, list[str]]  # host -> paths requested, in order
    host_headers: dict[str, set[str]]  # host -> Host header values seen
    referers: dict[tuple[str, str], str]  # (host, path) -> Referer header of its last request
    stderr: str
    files: dict[str, bytes] = field(default_factory=dict)  # for the test's own bookkeeping


def image_bytes(color: str, fmt: str = "JPEG", size: tuple[int, int] = (32, 24)) -> bytes:
    """A small real image, one colour, in ``fmt`` ("JPEG", "PNG", ...)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def run_crawl(
    server: SiteServer,
    targets_file: Path,
    home: Path,
    *,
    crawl_id: str = "20260101T000000Z",
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    timeout_s: float = 120,
) -> CrawlRun:
    """Run ``tanba crawl --json`` and collect its results; asserts that it exits 0.

    ``env`` adds ``TANBA_*`` overrides (``TANBA_CRAWL_DELAY_S`` is 0 unless given);
    ``extra_args`` go to the command line (e.g. ``["--progress"]``).
    """
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "TANBA_CRAWL_DELAY_S": "0",
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "tanba.app.cli", "--home", str(home), "crawl", str(targets_file),
        "--json", "--crawl-id", crawl_id, *server.resolve_args(), *(extra_args or []),
    ]  # fmt: skip
    done = subprocess.run(
        command, env=full_env, cwd=home, capture_output=True, text=True, timeout=timeout_s
    )
    assert done.returncode == 0, f"crawl failed ({done.returncode}):\n{done.stderr}"
    host_headers: dict[str, set[str]] = {}
    for entry in server.log:
        host_headers.setdefault(entry.host, set()).add(entry.host_header)
    bus = EmbeddedBus(home / "bus.sqlite3")
    try:
        events = [(m.key, decode(m.value, MediaDiscovered)) for m in bus.replay(MEDIA)]
    finally:
        bus.close()
    return CrawlRun(
        port=server.port,
        home=home,
        crawl_id=crawl_id,
        stats=json.loads(done.stdout),
        events=events,
        requests={host: list(paths) for host, paths in server.requests.items()},
        host_headers=host_headers,
        referers={(e.host, e.path): e.headers.get("Referer", "") for e in server.log},
        stderr=done.stderr,
    )
