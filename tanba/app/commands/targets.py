"""``tanba targets import|list|export|show|remove|restore``: the target registry from the shell.

The registry (:mod:`tanba.core.target_registry`) is the one the console and
``tanba run``/``tanba crawl`` use. ``import FILE`` records a targets file's
targets (new names are added, known names updated; the same file twice changes
nothing); ``export`` writes the active targets as a targets file that ``import``
reads back unchanged; ``remove ID`` archives a target (it is no longer crawled;
its crawl reports and alerts stay, under its id) and ``restore ID`` brings it back;
``show ID`` prints a target's settings, its crawls, and the failed fetches of one
crawl with their URLs and reasons.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from tanba.app.output import emit, failure_line, reason_counts
from tanba.core.crawl_reports import CrawlReports, TargetCrawl
from tanba.core.exceptions import InputError
from tanba.core.hosts import for_people, unicode_host
from tanba.core.resolve import add_resolve_option, parse_resolve
from tanba.core.schemas.targets import TargetRecord
from tanba.core.target_registry import Imported, record_target
from tanba.core.targets import TargetInvalid, load_entries, target_fields
from tanba.core.wiring import App

ACTOR = "cli"


def register(sub: Any) -> None:
    """Add ``tanba targets`` and its actions to the ``tanba`` parser's sub-commands."""
    targets = sub.add_parser("targets", help="crawl targets: import, list, export, remove")
    actions = targets.add_subparsers(metavar="ACTION")

    imp = actions.add_parser("import", help="add or update the targets of a targets file")
    imp.add_argument("file", type=Path, metavar="FILE")
    add_resolve_option(imp)
    imp.set_defaults(handler=_import)

    ls = actions.add_parser("list", help="the targets, their ids and their last crawl")
    which = ls.add_mutually_exclusive_group()
    which.add_argument("--archived", action="store_true", help="only the archived targets")
    which.add_argument("--all", action="store_true", help="active and archived targets")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    export = actions.add_parser("export", help="write the active targets as a targets file")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    export.set_defaults(handler=_export)

    show = actions.add_parser("show", help="a target, its crawls and one crawl's failed fetches")
    show.add_argument("id", metavar="ID")
    show.add_argument("--crawl", default="", metavar="CRAWL_ID", help="default: the latest")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    for verb, helptext in (
        ("remove", "archive a target: no longer crawled, its history kept"),
        ("restore", "make an archived target active again"),
    ):
        action = actions.add_parser(verb, help=helptext)
        action.add_argument("id", metavar="ID")
        action.set_defaults(handler=_remove if verb == "remove" else _restore)


def import_summary(path: Path, imported: Sequence[Imported], *, each: bool = True) -> str:
    """What an import did: a line per target (its action and id), or with ``each=False``
    one line of counts, naming only the targets whose id is not their name."""
    counts = Counter(item.action for item in imported)
    head = f"{path}: {len(imported)} targets recorded (" + ", ".join(
        f"{counts[a]} {a}" for a in ("added", "updated", "unchanged") if counts[a]
    )
    lines = [head + ")"]
    for item in imported:
        r = item.record
        label = r.name if r.id == r.name else f"{r.name} (id {r.id})"
        if each:
            lines.append(f"  {item.action:<9} {label}")
        elif r.id != r.name:
            lines[0] += f"; {label}"
    return "\n".join(lines)


def _import(app: App, args: argparse.Namespace) -> int:
    entries = [e.strip() for e in args.resolve if e.strip()]
    parse_resolve(entries)
    imported = app.targets.import_targets(load_entries(args.file), ACTOR, entries)
    print(import_summary(args.file, imported))
    return 0


def _last(reports: CrawlReports, record: TargetRecord) -> TargetCrawl | None:
    return reports.crawl(record.id)


def _row(record: TargetRecord, last: TargetCrawl | None) -> dict[str, Any]:
    spec = record.spec
    state = "archived" if record.archived else "paused" if spec.get("paused") else "active"
    row: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "state": state,
        "seeds": " ".join(spec.get("seeds", [])),
        "schedule_hours": spec.get("schedule_hours", 0) or "",
        "last_crawl": last.crawl_id if last else "",
        "pages": last.report.pages if last else "",
        "failed": last.report.failure_count if last else "",
    }
    return row


def _list(app: App, args: argparse.Namespace) -> int:
    archived = None if args.all else bool(args.archived)
    reports = CrawlReports(app.bus)
    records = app.targets.records(archived)
    rows = [_row(r, _last(reports, r)) for r in records]
    if args.json:
        for r, row in zip(records, rows, strict=True):
            row |= {"spec": r.spec, "resolve": r.resolve, "updated_at": r.updated_at}
            row |= {"updated_by": r.updated_by, "created_at": r.created_at}
    columns = ("id", "name", "state", "schedule_hours", "last_crawl", "pages", "failed", "seeds")
    emit(rows, args.json, columns)
    if not rows and not args.json and not archived:
        print("import a targets file with: tanba targets import FILE", file=sys.stderr)
    return 0


def _export(app: App, args: argparse.Namespace) -> int:
    targets = [record_target(r) for r in app.targets.records()]
    if not targets:
        raise InputError("no active targets to export; see 'tanba targets list --all'")
    text = yaml.safe_dump(
        {"targets": [_as_written(target_fields(t, all_fields=False)) for t in targets]},
        allow_unicode=True,
        sort_keys=False,
    )
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"{args.output}: {len(targets)} targets", file=sys.stderr)
    return 0


def _as_written(fields: dict[str, Any]) -> dict[str, Any]:
    """A target's fields with its host names as people write them (``фильмы.рф``, not
    punycode): an exported file is read and edited by people, and import turns the names
    back into the stored form, so the file still imports unchanged."""
    out = dict(fields)
    if "seeds" in out:
        out["seeds"] = [_unicode_url(url) for url in out["seeds"]]
    if "allowed_domains" in out:
        out["allowed_domains"] = [unicode_host(d) for d in out["allowed_domains"]]
    return out


def _unicode_url(url: str) -> str:
    """``url`` with only its host decoded (a path is left as stored, percent-encoded)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = unicode_host(host)
    if shown == host:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(host, shown, 1)))


def _show(app: App, args: argparse.Namespace) -> int:
    record = app.targets.require(args.id)
    reports = CrawlReports(app.bus)
    crawls = reports.for_target(record.id)
    chosen = reports.crawl(record.id, args.crawl)
    if args.crawl and chosen is None:
        known = ", ".join(c.crawl_id for c in crawls[-5:]) or "none yet"
        raise InputError(
            f"target {record.id} has no crawl {args.crawl!r}; its latest crawls: {known}"
        )
    if args.json:
        out = {
            "target": record.model_dump(mode="json"),
            "crawls": [
                {"crawl_id": c.crawl_id, "finished_at": c.finished_at, **_figures(c)}
                for c in crawls
            ],
            "crawl": chosen.report.model_dump(mode="json", exclude={"page_urls"})
            if chosen
            else None,
        }
        print(json.dumps(out, ensure_ascii=False, sort_keys=True))
        return 0
    state = "archived" if record.archived else "active"
    print(
        f"{record.name} (id {record.id}), {state}; changed {record.updated_at} by {record.updated_by}"
    )
    try:  # the file's order of fields; a spec a newer rule refuses is shown as stored
        fields = target_fields(record_target(record))
    except TargetInvalid:
        fields = record.spec
    print(for_people(yaml.safe_dump(fields, allow_unicode=True, sort_keys=False).rstrip()))
    if record.resolve:
        print(for_people(f"resolve: {' '.join(record.resolve)}"))
    print(f"crawls: {len(crawls)}")
    for c in crawls[-10:]:
        f = _figures(c)
        print(
            f"  {c.crawl_id}  finished {c.finished_at}  pages {f['pages']}, media {f['media']},"
            f" failed {f['failed']}"
        )
    if chosen is None:
        return 0
    report = chosen.report
    print(
        f"crawl {chosen.crawl_id}: failed fetches {report.failure_count}:"
        f" {reason_counts(report.failures)}"
    )
    for failure in report.failed:
        print(f"  - {failure_line(failure)}")
    if report.failure_count > len(report.failed):
        print(f"  (the report lists the first {len(report.failed)}; every one is counted above)")
    return 0


def _figures(crawl: TargetCrawl) -> dict[str, Any]:
    r = crawl.report
    return {
        "pages": r.pages,
        "media": r.media_published,
        "failed": r.failure_count,
        "failures": dict(r.failures),
    }


def _remove(app: App, args: argparse.Namespace) -> int:
    record = app.targets.archive(args.id, ACTOR)
    crawls = len(CrawlReports(app.bus).for_target(record.id))
    print(
        f"target {record.name} (id {record.id}) archived: it is no longer crawled; its {crawls}"
        f" crawl reports and its alerts are kept. Bring it back with"
        f" 'tanba targets restore {record.id}'."
    )
    return 0


def _restore(app: App, args: argparse.Namespace) -> int:
    record = app.targets.restore(args.id, ACTOR)
    print(f"target {record.name} (id {record.id}) is active again")
    return 0
