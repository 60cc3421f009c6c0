"""``tanba works add|import|list|reprint``: register works from files or a CSV manifest, list
them, and print again those an earlier version printed."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from tanba.app.output import emit
from tanba.core.exceptions import InputError
from tanba.core.wiring import App
from tanba.core.works_catalog import WorkEntry, WorkQuery
from tanba.core.works_catalog.base import MAX_LIMIT
from tanba.fingerprint.bulk import BATCH, import_specs, journal_path
from tanba.fingerprint.registration import WorkSpec, read_manifest
from tanba.fingerprint.registration import register as register_works
from tanba.fingerprint.reprint import ReprintTally, outdated_works, reprint


def register(sub: Any) -> None:
    """Add these commands to the ``tanba`` parser's sub-commands."""
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
    imp = works.add_parser(
        "import",
        help="register the works a CSV manifest lists, on every core; run again to resume",
    )
    imp.add_argument("manifest", type=Path, metavar="MANIFEST.csv")
    imp.add_argument(
        "--workers", type=int, default=0, metavar="N", help="files decoded at once (default: cores)"
    )
    imp.add_argument(
        "--batch",
        type=int,
        default=BATCH,
        metavar="N",
        help="works per durable batch (default 200)",
    )
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=_works_import)
    ls = works.add_parser(
        "list", help="list registered works by owner and title (from the works catalogue)"
    )
    ls.add_argument("--owner", default="", help="only this owner's works")
    ls.add_argument(
        "--media", choices=("image", "audio", "video"), help="only images, audio or video"
    )
    ls.add_argument(
        "--search", default="", metavar="TEXT", help="words that begin the title, file name or id"
    )
    ls.add_argument(
        "--limit", type=int, default=50, metavar="N", help=f"works per page (1-{MAX_LIMIT})"
    )
    ls.add_argument("--after", default="", metavar="CURSOR", help="the page after this cursor")
    ls.add_argument("--all", action="store_true", help="every matching work, page after page")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_works_list)
    again = works.add_parser(
        "reprint",
        help="print again, from their stored files, the works an earlier version printed",
    )
    again.add_argument("work_ids", nargs="*", metavar="WORK_ID", help="only these works")
    again.add_argument("--owner", default="", help="only this owner's works")
    again.add_argument(
        "--media", choices=("image", "audio", "video"), help="only images, audio or video"
    )
    again.add_argument(
        "--dry-run", action="store_true", help="list the works and why, print nothing"
    )
    again.add_argument("--json", action="store_true")
    again.set_defaults(handler=_works_reprint)


def _works_add(app: App, args: argparse.Namespace) -> int:

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
    _print_works(register_works(app, specs), args.json)
    return 0


def _works_import(app: App, args: argparse.Namespace) -> int:
    """Exit 0 when every row is registered, 1 when some files could not be (each is named)."""
    if args.workers < 0 or args.batch < 1:
        raise InputError("--workers and --batch are numbers of files, 1 or more")
    specs = read_manifest(args.manifest)
    journal = journal_path(app, args.manifest)
    works, tally = import_specs(
        app,
        specs,
        journal,
        workers=args.workers or None,
        batch=args.batch,
        progress=lambda t: print(t.line(), file=sys.stderr, flush=True),
    )
    _print_works(works, args.json)
    for problem in tally.failed:
        print(f"tanba: {problem}", file=sys.stderr)
    if tally.failed:
        print(
            f"tanba: {len(tally.failed)} of {tally.total} rows were not registered; fix them "
            "and run the same import again (rows already registered are skipped)",
            file=sys.stderr,
        )
    return 1 if tally.failed else 0


def _works_list(app: App, args: argparse.Namespace) -> int:
    """One page (or, with --all, every page); the next page's command goes to stderr."""
    query = WorkQuery(
        owner=args.owner,
        media=args.media or "",
        text=args.search,
        after=args.after,
        limit=args.limit,
    )
    works: list[WorkEntry] = []
    while True:
        page = app.works.search(query)
        works += page.works
        if not (args.all and page.next_cursor):
            break
        query = replace(query, after=page.next_cursor)
    _print_works(works, args.json)
    if page.next_cursor:
        print(
            f"tanba: {len(works)} of {page.total} works shown; the next page: "
            f"tanba works list ... --after {page.next_cursor} (or --all)",
            file=sys.stderr,
        )
    return 0


def _works_reprint(app: App, args: argparse.Namespace) -> int:
    """Exit 0 when every outdated work was printed again (or none was), 1 when some could not be."""
    found = outdated_works(app, owner=args.owner, media=args.media or "", work_ids=args.work_ids)
    if args.dry_run:
        rows = [{"work_id": o.work.work_id, "reasons": list(o.reasons)} for o in found]
        if args.json:
            emit(rows, True, ())
        else:
            for row in rows:
                print(f"{row['work_id']}: " + "; ".join(row["reasons"]))
        print(
            f"tanba: {len(found)} works would be printed again"
            + (" (run without --dry-run)" if found else ""),
            file=sys.stderr,
        )
        return 0

    def show(tally: ReprintTally) -> None:
        print(tally.line(), file=sys.stderr, flush=True)

    tally = reprint(app, found, progress=show)
    if args.json:
        emit([{"reprinted": tally.reprinted, "failed": tally.failed}], True, ())
    for problem in tally.failed:
        print(f"tanba: {problem}", file=sys.stderr)
    print(
        f"tanba: {tally.reprinted} of {tally.total} outdated works printed again"
        + ("; run the same command again to retry the others" if tally.failed else ""),
        file=sys.stderr,
    )
    return 1 if tally.failed else 0


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
    emit(rows, as_json, ("work_id", "owner", "title", "media", "territories", "licensees"))
