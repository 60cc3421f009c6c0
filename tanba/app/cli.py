"""The ``tanba`` command line: one sub-command per job, all on the same settings and home.

Errors Tanba raises on purpose (:class:`TanbaError`) print their message, which
says what to do, and exit with status 2; nothing else is printed for them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tanba.core.exceptions import InputError, TanbaError
from tanba.core.settings import Settings
from tanba.core.wiring import App

Handler = Callable[[App, argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tanba`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(home=args.home)
        app = App(settings)
        try:
            return int(args.handler(app, args))
        finally:
            app.close()
    except TanbaError as exc:
        print(f"tanba: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "tanba: interrupted; committed work is kept, run the command again to resume",
            file=sys.stderr,
        )
        return 130


def _configure_logging(verbose: bool) -> None:
    # The level sits on the handler, not on loggers: Scrapy resets its own loggers' levels.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tanba", description=__doc__.splitlines()[0])
    p.add_argument("--home", type=Path, help="state directory (default: $TANBA_HOME or ./.tanba)")
    p.add_argument("-v", "--verbose", action="store_true", help="log one line per batch")
    sub = p.add_subparsers(metavar="COMMAND")

    works = sub.add_parser("works", help="register and list works").add_subparsers(metavar="ACTION")
    add = works.add_parser("add", help="register media files as works")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument("--owner", required=True)
    add.add_argument("--title", default="")
    add.add_argument("--work-id", default="", help="only with a single FILE")
    add.add_argument("--territory", action="append", default=[], metavar="CC", help="repeatable")
    add.add_argument(
        "--licensee",
        action="append",
        default=[],
        metavar="DOMAIN[:FROM[:UNTIL]]",
        help="a site allowed to show the work, optionally between ISO dates (repeatable)",
    )
    add.add_argument("--owner-home", default="", metavar="CC", help="the rights holder's state")
    add.add_argument("--author-death-year", type=int, help="decides the term of protection")
    add.add_argument("--publication-year", type=int, help="for works of legal persons")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=_works_add)
    imp = works.add_parser("import", help="register works listed in a CSV manifest")
    imp.add_argument("manifest", type=Path, metavar="MANIFEST.csv")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=_works_import)
    ls = works.add_parser("list", help="list registered works")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_works_list)

    run = sub.add_parser("run", help="crawl, fingerprint and match in one process")
    run.add_argument("targets", type=Path, metavar="TARGETS.yaml")
    _resolve_arg(run)
    run.set_defaults(handler=_run)

    crawl = sub.add_parser("crawl", help="run the crawlers only (publish media to the bus)")
    crawl.add_argument("targets", type=Path, metavar="TARGETS.yaml")
    _resolve_arg(crawl)
    crawl.add_argument("--crawl-id", default="", help="default: the UTC time, YYYYmmddTHHMMSSZ")
    crawl.add_argument(
        "--json", action="store_true", help="print every target's counters as one JSON object"
    )
    crawl.add_argument(
        "--progress", action="store_true", help="print a JSON line of totals to stderr each second"
    )
    crawl.set_defaults(handler=_crawl)

    worker = sub.add_parser("worker", help="run one stage as its own process")
    worker.add_argument("stage", choices=["fingerprint", "matcher"])
    worker.add_argument("--until-idle", action="store_true", help="exit once nothing is waiting")
    worker.set_defaults(handler=_worker)

    match = sub.add_parser("match", help="match local files against the registry")
    match.add_argument("files", nargs="+", type=Path, metavar="FILE")
    match.add_argument("--json", action="store_true")
    match.set_defaults(handler=_match)

    fp = sub.add_parser("fingerprint", help="print the fingerprints of local files")
    fp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    fp.add_argument("--json", action="store_true")
    fp.set_defaults(handler=_fingerprint)

    alerts = sub.add_parser("alerts", help="list alerts and change their status")
    alerts_sub = alerts.add_subparsers(metavar="ACTION")
    al = alerts_sub.add_parser("list", help="list alerts, newest first")
    al.add_argument("--jurisdiction", default="", metavar="CC")
    al.add_argument("--status", default="")
    al.add_argument("--work", default="", metavar="WORK_ID")
    al.add_argument("--site", default="")
    al.add_argument("--limit", type=int, default=1000)
    al.add_argument("--json", action="store_true")
    al.set_defaults(handler=_alerts_list)
    rc = alerts_sub.add_parser("reconcile", help="apply a crawl's findings to alerts after notices")
    rc.add_argument("crawl_id", nargs="?", default="", help="default: the latest crawl")
    rc.set_defaults(handler=_alerts_reconcile)
    st = alerts_sub.add_parser("status", help="move an alert to a new status")
    st.add_argument("alert_id")
    st.add_argument("status")
    st.add_argument("--actor", required=True, help="who makes the change")
    st.add_argument("--comment", default="")
    st.set_defaults(handler=_alerts_status)

    for name, helptext in (
        ("quarantine", "media that could not be fingerprinted, with the reason"),
        ("suppressions", "matches that raised no alert, with the reason"),
        ("deadletters", "messages a stage gave up on, with the error"),
    ):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--json", action="store_true")
        q.set_defaults(handler=_log_lister(name))

    s = sub.add_parser("settings", help="print every setting, its variable and its value")
    s.set_defaults(handler=_settings)

    # Stages with commands of their own register them here.
    from tanba.console.cli import register as register_console

    register_console(sub)
    from tanba.evidence.cli import register as register_evidence

    register_evidence(sub)
    return p


def _resolve_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="serve HOST from ADDR (repeatable, as curl's --resolve)",
    )


def _emit(rows: list[dict[str, Any]], as_json: bool, columns: Sequence[str]) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(min(widths[c], 60)) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, ""))[:60].ljust(min(widths[c], 60)) for c in columns))


# --- works -------------------------------------------------------------------


def _works_add(app: App, args: argparse.Namespace) -> int:
    from tanba.fingerprint.registration import WorkSpec, register

    if args.work_id and len(args.files) > 1:
        raise InputError(
            "--work-id names one work: give a single FILE, or use 'tanba works import'"
        )
    specs = [
        WorkSpec(
            path=f,
            owner=args.owner,
            title=args.title,
            work_id=args.work_id,
            territories=tuple(args.territory),
            licensees=tuple(args.licensee),
            owner_home=args.owner_home,
            author_death_year=args.author_death_year,
            publication_year=args.publication_year,
        )
        for f in args.files
    ]
    _print_works(register(app, specs), args.json)
    return 0


def _works_import(app: App, args: argparse.Namespace) -> int:
    from tanba.fingerprint.registration import read_manifest, register

    _print_works(register(app, read_manifest(args.manifest)), args.json)
    return 0


def _works_list(app: App, args: argparse.Namespace) -> int:
    _print_works(sorted(app.works.all().values(), key=lambda w: w.work_id), args.json)
    return 0


def _print_works(works: list[Any], as_json: bool) -> None:
    rows = [
        {
            "work_id": w.work_id,
            "owner": w.owner,
            "title": w.title,
            "media": w.media,
            "sha256": w.sha256,
            "territories": w.territories,
            "licensees": [lic.domain for lic in w.licences],
            "registered_at": w.registered_at,
        }
        for w in works
    ]
    _emit(rows, as_json, ("work_id", "owner", "title", "media", "territories", "licensees"))


# --- pipeline ----------------------------------------------------------------


def _targets(args: argparse.Namespace) -> tuple[list[Any], dict[str, str]]:
    from tanba.core.resolve import parse_resolve
    from tanba.core.targets import load_targets

    return load_targets(args.targets), parse_resolve(args.resolve)


def _run(app: App, args: argparse.Namespace) -> int:
    from tanba.app.pipeline import run

    targets, resolve = _targets(args)
    summary = run(app, targets, resolve)
    print("\n".join(summary.lines()))
    return 0


def _crawl(app: App, args: argparse.Namespace) -> int:
    from tanba.crawlers.runner import CrawlStats, crawl

    def print_progress(stats: CrawlStats) -> None:
        """One JSON line of the running totals on stderr (``--progress``)."""
        print(json.dumps(stats.as_json()["total"], sort_keys=True), file=sys.stderr, flush=True)

    targets, resolve = _targets(args)
    stats = crawl(
        targets,
        settings=app.settings,
        bus=app.bus,
        blobs=app.blobs,
        resolve=resolve,
        clock=app.clock,
        crawl_id=args.crawl_id or None,
        progress=print_progress if args.progress else None,
    )
    if args.json:
        print(json.dumps(stats.as_json(), sort_keys=True))
    else:
        total = stats.total()
        print(f"crawl {stats.crawl_id}: pages {total.pages}, media {total.media_published}")
    return 0


def _worker(app: App, args: argparse.Namespace) -> int:
    from tanba.app.pipeline import fingerprint_stage, matcher_stage
    from tanba.core import metrics
    from tanba.core.worker import Worker

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    metrics.serve(app.settings.metrics_port)
    stage = fingerprint_stage(app) if args.stage == "fingerprint" else matcher_stage(app)
    worker = Worker(stage, app.bus, app.settings, stop=stop, clock=app.clock)
    stats = worker.run(drained=(lambda: True) if args.until_idle else None)
    print(f"{args.stage}: {stats.messages} messages, {stats.dead_lettered} dead-lettered")
    return 0


# --- local files ---------------------------------------------------------------


def _local_fingerprints(app: App, files: list[Path]) -> Iterator[tuple[Path, Any]]:
    """Fingerprint local files, printing why for those that cannot be (they are skipped)."""
    from tanba.fingerprint.compute import fingerprint_file
    from tanba.fingerprint.exceptions import Unfingerprintable

    for f in files:
        try:
            with open(f, "rb") as opened:
                digest = hashlib.file_digest(opened, "sha256").hexdigest()
            yield f, fingerprint_file(f, digest, app.settings)
        except (Unfingerprintable, OSError) as exc:
            print(f"tanba: {f}: {exc}", file=sys.stderr)


def _match(app: App, args: argparse.Namespace) -> int:
    from tanba.matcher.match import Matcher

    matcher = Matcher(app.settings)
    for work in app.works.all().values():
        matcher.add(work)
    done = 0
    for f, fingerprint in _local_fingerprints(app, args.files):
        done += 1
        rows = []
        for m in matcher.match(fingerprint):
            row: dict[str, Any] = {"file": str(f), "work_id": m.work.work_id, "media": m.work.media}
            row |= {"score": m.score, "title": m.work.title, "owner": m.work.owner}
            if m.detail.offset_s is not None:
                row["offset_s"] = m.detail.offset_s
            rows.append(row)
        if args.json:
            _emit(rows, True, ())
        else:
            found = ", ".join(f"{r['work_id']} ({r['score']:.2f})" for r in rows)
            print(f"{f}: {found or 'no match'}")
    return 0 if done == len(args.files) else 1


def _fingerprint(app: App, args: argparse.Namespace) -> int:
    done = 0
    for f, fp in _local_fingerprints(app, args.files):
        done += 1
        if args.json:
            row = {"file": str(f), **fp.model_dump(mode="json", exclude_none=True)}
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        elif fp.image is not None:
            hashes = " ".join(f"{h.algorithm}/{h.variant}={h.value}" for h in fp.image.hashes)
            print(f"{f}: image {fp.image.width}x{fp.image.height} {hashes}")
        elif fp.audio is not None:
            items = len(fp.audio.items())
            print(f"{f}: audio {fp.audio.duration_s:.1f} s, {items} Chromaprint items")
    return 0 if done == len(args.files) else 1


# --- alerts and logs ------------------------------------------------------------


def _alerts_list(app: App, args: argparse.Namespace) -> int:
    from tanba.core.store import AlertQuery

    query = AlertQuery(
        jurisdiction=args.jurisdiction.upper(),
        status=args.status,
        work_id=args.work,
        site=args.site,
        limit=args.limit,
    )
    alerts = app.store.search(query).alerts
    if args.json:
        for a in alerts:
            row = a.model_dump(mode="json")
            row["offset_s"] = a.offset_s
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return 0
    rows = [
        {
            "id": a.id,
            "jurisdiction": a.jurisdiction,
            "work_id": a.work_id,
            "score": f"{a.score:.2f}",
            "status": a.status,
            "page_url": a.page_url,
            "media_url": a.media_url,
        }
        for a in alerts
    ]
    _emit(
        rows, False, ("id", "jurisdiction", "work_id", "score", "status", "page_url", "media_url")
    )
    return 0


def _alerts_status(app: App, args: argparse.Namespace) -> int:
    from tanba.core.alerts import STATUSES, StatusChange
    from tanba.core.clock import iso

    if args.status not in STATUSES:
        raise InputError(f"unknown status {args.status!r}; use one of {', '.join(STATUSES)}")
    change = StatusChange(
        status=args.status, actor=args.actor, at=iso(app.clock.now()), comment=args.comment
    )
    alert = app.store.change_status(args.alert_id, change)
    print(f"{alert.id}: {alert.status}")
    return 0


def _alerts_reconcile(app: App, args: argparse.Namespace) -> int:
    from tanba.app.pipeline import crawl_report
    from tanba.matcher.lifecycle import reconcile

    report = crawl_report(app, args.crawl_id)
    if report is None:
        raise InputError(f"no crawl report {args.crawl_id or ''} on the bus; run a crawl first")
    r = reconcile(app.store, report, app.clock)
    print(
        f"crawl {report.crawl_id}: {r.persists} persist, {r.missed} not found, {r.removed} removed"
    )
    return 0


def _log_lister(name: str) -> Handler:
    def handler(app: App, args: argparse.Namespace) -> int:
        from tanba.core import topics
        from tanba.core.schemas.base import Event, decode
        from tanba.core.schemas.deadletter import DeadLetter
        from tanba.core.schemas.quarantine import MediaQuarantined
        from tanba.core.schemas.suppressions import MatchSuppressed

        spec: dict[str, tuple[str, type[Event], tuple[str, ...]]] = {
            "quarantine": (topics.QUARANTINE, MediaQuarantined, ("media_url", "reason")),
            "suppressions": (
                topics.SUPPRESSIONS,
                MatchSuppressed,
                ("work_id", "page_url", "reason", "detail"),
            ),
            "deadletters": (topics.DEAD_LETTER, DeadLetter, ("stage", "topic", "offset", "error")),
        }
        topic, kind, columns = spec[name]
        rows = []
        for message in app.bus.replay(topic):
            row: dict[str, Any] = decode(message.value, kind).model_dump(mode="json")
            row |= row.pop("occurrence", {}) if "occurrence" in row else {}
            rows.append(row)
        _emit(rows, args.json, columns)
        return 0

    return handler


def _settings(app: App, args: argparse.Namespace) -> int:
    values = app.settings.variables()
    for env, default, doc in Settings.documentation():
        print(f"{env}={values[env]}  (default {default})\n    {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
