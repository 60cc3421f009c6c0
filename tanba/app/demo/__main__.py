"""``python -m tanba.app.demo``: the newcomer's first run of Tanba, end to end, on loopback.

It builds the demo web from real media, registers the works with
``tanba works import``, serves the sites on 127.0.0.1, runs ``tanba run`` on
them, and prints the alerts, the quarantined files and the suppressed matches.
Each step is the real command, echoed, so the output doubles as a tutorial.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import build


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tanba.app.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--home", type=Path, default=Path(".tanba-demo"))
    parser.add_argument(
        "--keep", action="store_true", help="keep the home directory of an earlier run"
    )
    args = parser.parse_args()
    home: Path = args.home
    if home.exists() and not args.keep:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    print("demo: building the demo web from Debian's wallpapers and game music …", flush=True)
    demo = build()
    manifest = demo.write_manifest(home / "demo" / "works.csv")
    tanba = [sys.executable, "-m", "tanba.app.cli", "--home", str(home)]
    _step([*tanba, "works", "import", str(manifest)])
    with SiteServer(demo.sites) as server:
        targets = demo.write_targets(home / "demo" / "targets.yaml", server.port)
        resolve = [arg for line in demo.resolve(server.port) for arg in ("--resolve", line)]
        _step([*tanba, "run", str(targets), *resolve])
    _step([*tanba, "alerts", "list"])
    _step([*tanba, "quarantine"])
    _step([*tanba, "suppressions"])
    print(f"\ndemo: expected {len(demo.expected)} alerts; see them as JSON with:")
    print(f"  .venv/bin/tanba --home {home} alerts list --json")
    return 0


def _step(command: list[str]) -> None:
    shown = ["tanba", *command[3:]] if command[1:3] == ["-m", "tanba.app.cli"] else command
    print(f"\n$ {shlex.join(shown)}", flush=True)
    subprocess.run(command, check=True, env=os.environ.copy())


if __name__ == "__main__":
    sys.exit(main())
