"""``python -m crawlers TARGETS.yaml --home DIR [--resolve HOST:PORT:ADDR ...]``: one crawl.

Contract: loads the targets, builds Settings from the environment (``TANBA_*``)
and ``--home``, opens the bus and blob store the settings select, runs
:func:`crawlers.runner.crawl` and prints the final :class:`~crawlers.stats.CrawlStats`
as one JSON object on stdout (``{"crawl_id": ..., "targets": {...}, "total": {...}}``).
With ``--progress`` a JSON line of totals goes to stderr about once a second.
Exit status 0 on success, 2 on a Tanba error (bad targets file, bad ``--resolve``),
with the message on stderr.

Why this exists next to ``tanba crawl``: a Twisted reactor runs once per
process, so tests and scripts that need a crawl start this module in a
subprocess; it is also the smallest way to run the crawler by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from crawlers.resolve import SYNTAX, parse_resolve
from crawlers.runner import CrawlStats, crawl
from crawlers.targets import load_targets
from tanba.blobs import BlobStore
from tanba.bus import open_bus
from tanba.exceptions import TanbaError
from tanba.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers", description=__doc__.splitlines()[0])
    parser.add_argument("targets", type=Path, help="targets YAML file")
    parser.add_argument("--home", type=Path, default=None, help="Tanba home directory")
    parser.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help=f"map a host name to an address: {SYNTAX}",
    )
    parser.add_argument("--crawl-id", default=None, help="crawl id (default: a UTC timestamp)")
    parser.add_argument(
        "--progress", action="store_true", help="print totals to stderr each second"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(home=args.home)
        targets = load_targets(args.targets)
        resolve = parse_resolve(args.resolve)
        _log_warnings_to_stderr()
        bus = open_bus(settings)
        try:
            stats = crawl(
                targets,
                settings=settings,
                bus=bus,
                blobs=BlobStore(settings.path("blobs")),
                resolve=resolve,
                crawl_id=args.crawl_id,
                progress=_print_progress if args.progress else None,
            )
        finally:
            bus.close()
    except TanbaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {"crawl_id": stats.crawl_id, "targets": {k: asdict(v) for k, v in stats.targets.items()}}
    out["total"] = asdict(stats.total())
    print(json.dumps(out, sort_keys=True))
    return 0


def _log_warnings_to_stderr() -> None:
    # crawl() installs no log handler; without one, its warnings would be swallowed. The
    # handler's own level matters: Scrapy logs its start-up banner at INFO before crawl()
    # can lower its logger, and a logger's records reach root handlers whatever root's level.
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.root.addHandler(handler)


def _print_progress(stats: CrawlStats) -> None:
    print(json.dumps(asdict(stats.total())), file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
