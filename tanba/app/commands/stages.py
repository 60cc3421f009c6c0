"""``tanba run``, ``tanba crawl`` and ``tanba worker``: the pipeline in one process, or one stage.

``run`` and ``crawl`` crawl the targets of the target registry
(:mod:`tanba.core.target_registry`): every active one, or those named by
``--target ID``; a targets file given to them is imported into the registry
(as ``tanba targets import`` does, when the crawl has ended: see
:meth:`Chosen.record`) and its targets are crawled, so the console shows them
and their statistics like any other.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tanba.app.commands.targets import import_summary
from tanba.app.output import failure_lines
from tanba.app.pipeline import (
    crawl_targets,
    fingerprint_stage,
    matcher_stage,
    one_matcher,
    run,
)
from tanba.core import metrics
from tanba.core.exceptions import InputError, SettingsError
from tanba.core.hosts import for_people
from tanba.core.resolve import add_resolve_option, parse_resolve
from tanba.core.shards import Shard
from tanba.core.target_registry import Imported, record_target
from tanba.core.targets import Target, load_entries
from tanba.core.wiring import App
from tanba.core.worker import Stage, Worker
from tanba.crawlers.runner import (
    CrawlerWorker,
    CrawlStats,
    new_crawl_id,
    publish_jobs,
    until_durable,
)
from tanba.matcher.gather import GatherStage


def register(sub: Any) -> None:
    """Add these commands to the ``tanba`` parser's sub-commands."""
    run = sub.add_parser("run", help="crawl, fingerprint and match in one process")
    _which_targets(run)
    run.set_defaults(handler=_run)

    crawl = sub.add_parser("crawl", help="run the crawlers only (publish media to the bus)")
    _which_targets(crawl)
    crawl.add_argument("--crawl-id", default="", help="default: the UTC time, YYYYmmddTHHMMSSZ")
    crawl.add_argument(
        "--json", action="store_true", help="print every target's counters as one JSON object"
    )
    crawl.add_argument(
        "--progress", action="store_true", help="print a JSON line of totals to stderr each second"
    )
    crawl.add_argument(
        "--no-wait",
        action="store_true",
        help="publish the crawl's jobs and return: crawler workers ('tanba worker crawler') run them",
    )
    crawl.set_defaults(handler=_crawl)

    worker = sub.add_parser("worker", help="run one stage as its own process")
    worker.add_argument(
        "stage",
        choices=["crawler", "fingerprint", "matcher", "gather"],
        help="gather: decides the matcher shards' answers (run it beside 'matcher --shard I/N')",
    )
    worker.add_argument("--until-idle", action="store_true", help="exit once nothing is waiting")
    worker.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="matcher only: hold the works whose id hashes to I of N (default: TANBA_MATCHER_SHARD)",
    )
    worker.set_defaults(handler=_worker)


def _which_targets(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "targets",
        type=Path,
        nargs="?",
        metavar="TARGETS.yaml",
        help="import this file's targets and crawl them (default: every active target)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ID",
        help="crawl only this registered target (repeatable; see 'tanba targets list')",
    )
    add_resolve_option(p)


@dataclass
class Chosen:
    """The targets a run crawls, its --resolve map, and the file's targets still to record."""

    targets: list[Target]
    resolve: dict[str, str]
    source: Path | None = None
    imported: list[Imported] = field(default_factory=list)

    def record(self, app: App) -> None:
        """Record the file's targets (after the crawl, retrying while the bus is full or away).

        After, not before: a crawl on a full disk must write nothing before its
        captures, and pauses there until it can (the targets' ids were chosen up front,
        so its reports already carry them).
        """
        if self.source is None:
            return
        changed = [i.record for i in self.imported if i.action != "unchanged"]
        until_durable(lambda: app.targets.put(changed), lambda: "the targets of the file")
        print(import_summary(self.source, self.imported, each=False), file=sys.stderr)


def _targets(app: App, args: argparse.Namespace) -> Chosen:
    """The targets to crawl (see the module doc) and the --resolve map, theirs and the given."""
    if args.targets is not None and args.target:
        raise InputError("give a targets file or --target IDs, not both")
    entries = [e.strip() for e in args.resolve if e.strip()]
    parse_resolve(entries)  # a bad entry stops here, with curl's syntax in the message
    imported: list[Imported] = []
    if args.targets is not None:
        imported = app.targets.plan_import(load_entries(args.targets), "cli", entries)
        records = [i.record for i in imported]
    elif args.target:
        records = [app.targets.require(ref) for ref in args.target]
        archived = [r for r in records if r.archived]
        if archived:
            raise InputError(
                f"target {archived[0].name!r} ({archived[0].id}) is archived; restore it first"
                f" with 'tanba targets restore {archived[0].id}'"
            )
    else:
        records = app.targets.records()
        if not records:
            raise InputError(
                "no targets to crawl: import a targets file with 'tanba targets import FILE',"
                " or give one ('tanba run TARGETS.yaml')"
            )
    targets = [record_target(r) for r in records]
    for target in targets:
        if target.paused:
            print(
                f"tanba: target {target.name!r} is paused; skipped (resume it in the console)",
                file=sys.stderr,
            )
    resolve: dict[str, str] = {}
    for record in records:
        resolve |= parse_resolve(record.resolve)
    return Chosen(targets, resolve | parse_resolve(entries), args.targets, imported)


def _run(app: App, args: argparse.Namespace) -> int:

    one_matcher(app.settings)
    chosen = _targets(app, args)
    summary = run(app, chosen.targets, chosen.resolve)
    chosen.record(app)
    print(for_people("\n".join(summary.lines())))
    return 0


def _crawl(app: App, args: argparse.Namespace) -> int:

    def print_progress(stats: CrawlStats) -> None:
        """One JSON line of the running totals on stderr (``--progress``)."""
        print(json.dumps(stats.as_json()["total"], sort_keys=True), file=sys.stderr, flush=True)

    chosen = _targets(app, args)
    if args.no_wait:
        active = [t for t in chosen.targets if not t.paused]
        crawl_id = args.crawl_id or new_crawl_id(app.clock)
        jobs = publish_jobs(active, app.bus, crawl_id, chosen.resolve, app.clock, "cli")
        chosen.record(app)
        print(f"crawl {crawl_id}: {len(jobs)} jobs published")
        return 0
    stats = crawl_targets(
        app,
        chosen.targets,
        chosen.resolve,
        crawl_id=args.crawl_id or None,
        progress=print_progress if args.progress else None,
    )
    chosen.record(app)
    if args.json:
        print(json.dumps(stats.as_json(), sort_keys=True))
    else:
        total = stats.total()
        print(f"crawl {stats.crawl_id}: pages {total.pages}, media {total.media_published}")
        print("\n".join(failure_lines(stats)))
    return 0


def _worker(app: App, args: argparse.Namespace) -> int:

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    metrics.serve(app.settings.metrics_port, app.settings.metrics_host)
    if args.stage == "crawler":
        if args.shard is not None:
            raise InputError("--shard is for 'tanba worker matcher'; crawlers scale by partitions")
        # The crawler runs Scrapy's reactor in this (main) thread and handles the signals itself.
        crawler = CrawlerWorker(
            app.settings, app.bus, app.blobs, captures=app.captures, clock=app.clock, stop=stop
        )
        done = crawler.run(until_idle=args.until_idle)
        print(
            f"crawler: {done.done} jobs done, {done.interrupted} interrupted,"
            f" {done.dead_lettered} dead-lettered"
        )
        return 0
    if args.shard is not None and args.stage != "matcher":
        raise InputError(
            "--shard is for 'tanba worker matcher'; fingerprint and gather workers scale by"
            " partitions"
        )
    stage: Stage
    if args.stage == "fingerprint":
        stage = fingerprint_stage(app)
    elif args.stage == "gather":
        stage = GatherStage(app.settings, app.bus, app.store, app.blobs)
    else:
        stage = matcher_stage(app, args.shard)
    worker = Worker(stage, app.bus, app.settings, stop=stop, clock=app.clock)
    stats = worker.run(drained=(lambda: True) if args.until_idle else None)
    print(f"{args.stage}: {stats.messages} messages, {stats.dead_lettered} dead-lettered")
    return 0


def _shard(text: str) -> Shard:
    """``--shard I/N``; argparse reports a bad value with the syntax."""
    try:
        return Shard.parse(text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
