"""``tanba evidence``: capture, export and verify evidence packages from the command line.

Contract: :func:`register` adds ``evidence capture``, ``evidence export``,
``evidence verify`` and ``evidence key`` to ``tanba``'s sub-parsers; handlers take ``(app, args)``
and return the exit status (verify: 0 intact, 1 not). The command line acts as
the system principal unless ``--as-jurisdiction CC`` (an agency) or
``--as-owner NAME`` (a rights holder) narrows it, so the access rule applied to
the console can be exercised here too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evidence.strings import DEFAULT_LANGUAGE, LANGUAGES
from tanba.access import SYSTEM, Principal
from tanba.app import App
from tanba.exceptions import InputError


def register(sub: Any) -> None:
    """Add the ``evidence`` command and its actions to ``tanba``'s sub-parsers."""
    evidence = sub.add_parser(
        "evidence", help="recapture cases, export and verify signed evidence packages"
    ).add_subparsers(metavar="ACTION")

    ex = evidence.add_parser("export", help="write one signed evidence package (zip) per case")
    ex.add_argument("alert_ids", nargs="+", metavar="ALERT_ID")
    ex.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the zip to write; with several ids, a directory for one <ALERT_ID>.zip each",
    )
    ex.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help="report language")
    ex.add_argument(
        "--withhold-reference",
        action="store_true",
        default=None,  # absent: the owning organisation's setting decides
        help="include only the reference file's hash and a thumbnail (the owner forbids more); "
        "by default as the work's organisation chose in the console",
    )
    again = ex.add_mutually_exclusive_group()
    again.add_argument(
        "--recapture", action="store_true", help="recapture the page even if a capture exists"
    )
    again.add_argument(
        "--no-recapture", action="store_true", help="never fetch: use existing captures only"
    )
    _common(ex)
    ex.set_defaults(handler=_export)

    cap = evidence.add_parser("capture", help="fetch a case's page and media again as evidence")
    cap.add_argument("alert_ids", nargs="+", metavar="ALERT_ID")
    _common(cap)
    cap.set_defaults(handler=_capture)

    ver = evidence.add_parser("verify", help="check a package's hashes, signature and timestamp")
    ver.add_argument("file", type=Path, metavar="FILE")
    ver.add_argument(
        "--public-key", type=Path, metavar="PEM", help="the key the package must be signed with"
    )
    ver.add_argument(
        "--fingerprint", default="", metavar="SHA256:HEX", help="the expected key fingerprint"
    )
    ver.set_defaults(handler=_verify)

    key = evidence.add_parser(
        "key", help="print this installation's public signing key and its fingerprint"
    )
    key.set_defaults(handler=_key)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="fetch HOST from ADDR (repeatable, as curl's --resolve)",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--as-jurisdiction",
        action="append",
        default=[],
        metavar="CC",
        help="act as an agency of this jurisdiction (repeatable)",
    )
    who.add_argument(
        "--as-owner",
        action="append",
        default=[],
        metavar="NAME",
        help="act as this rights holder (repeatable)",
    )
    p.add_argument("--actor", default="", help="the name recorded in the chain of custody")


def principal_from(args: argparse.Namespace) -> Principal:
    """The principal the command acts as (see the module doc)."""
    if args.as_jurisdiction:
        codes = tuple(c.strip().upper() for c in args.as_jurisdiction)
        return Principal(args.actor or f"agency:{'+'.join(codes)}", "agency", jurisdictions=codes)
    if args.as_owner:
        owners = tuple(o.strip() for o in args.as_owner)
        return Principal(args.actor or f"owner:{'+'.join(owners)}", "rights_holder", owners=owners)
    return Principal(args.actor, SYSTEM.role) if args.actor else SYSTEM


def _export(app: App, args: argparse.Namespace) -> int:
    from crawlers.resolve import parse_resolve
    from evidence.package import ExportOptions, export

    options = ExportOptions(
        lang=args.lang,
        withhold_reference=args.withhold_reference,
        recapture="always" if args.recapture else "never" if args.no_recapture else "missing",
        resolve=parse_resolve(args.resolve),
    )
    for result in export(app, args.alert_ids, args.output, principal_from(args), options):
        stamp = ", time-stamped" if result.timestamped else ""
        print(f"{result.alert_id}: {result.path} ({result.files} files, signed{stamp})")
    return 0


def _capture(app: App, args: argparse.Namespace) -> int:
    from crawlers.resolve import parse_resolve
    from evidence.capture import capture
    from evidence.package import authorize

    principal = principal_from(args)
    alerts = [authorize(app, alert_id, principal) for alert_id in args.alert_ids]
    failed = 0
    for alert in alerts:
        result = capture(app, alert, actor=principal.name, resolve=parse_resolve(args.resolve))
        r = result.record
        state = "; ".join(r.problems) if r.problems else "ok"
        print(f"{alert.id}: captured {r.captured_at}, record {result.sha256[:16]}… ({state})")
        failed += not (r.page_sha256 or r.media_sha256)
    return 1 if failed else 0


def _verify(app: App, args: argparse.Namespace) -> int:
    from evidence.verify import summary, verify_package

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    key = None
    if args.public_key is not None:
        try:
            key = args.public_key.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {args.public_key}: {exc.strerror or exc}") from None
    result = verify_package(
        data, public_key_pem=key, expected_fingerprint=args.fingerprint, name=str(args.file)
    )
    print(summary(result, str(args.file)))
    return 0 if result.ok else 1


def _key(app: App, args: argparse.Namespace) -> int:
    from evidence.signing import load_signing_key

    key = load_signing_key(app.settings.home)
    print(f"# {key.fingerprint} ({key.source})")
    print(key.public_pem().decode(), end="")
    return 0
