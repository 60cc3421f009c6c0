"""``tanba evidence``: capture, export and verify evidence packages from the command line.

Contract: :func:`register` adds ``evidence capture``, ``evidence export``,
``evidence verify``, ``evidence key`` and ``evidence trust add|list|remove`` to
``tanba``'s sub-parsers; handlers take ``(app, args)`` and return the exit status
(verify: 0 intact and signed by a trusted key, 1 not). ``verify`` trusts this
installation's key and the trust store's (:mod:`tanba.evidence.trust`), or only the key
or fingerprint given on its command line. The command line acts as
the system principal unless ``--as-jurisdiction CC`` (an agency) or
``--as-owner NAME`` (a rights holder) narrows it, so the access rule applied to
the console can be exercised here too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tanba.core.access import SYSTEM, Principal
from tanba.core.exceptions import InputError
from tanba.core.resolve import add_resolve_option, parse_resolve
from tanba.core.wiring import App
from tanba.evidence.strings import DEFAULT_LANGUAGE, LANGUAGES

if TYPE_CHECKING:  # the commands import what they use, so 'tanba' starts fast
    from tanba.evidence.bundle import BundleVerification
    from tanba.evidence.config import EvidenceConfig
    from tanba.evidence.trust import TrustedKey, TrustStore
    from tanba.evidence.verify import Verification


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
        help="the zip to write; with several ids, a directory for one <ALERT_ID>.zip each "
        "(or, with --bundle, the one archive)",
    )
    ex.add_argument(
        "--bundle",
        action="store_true",
        help="write every case into the one zip FILE with an index signed by the same key, "
        "as the console's bulk export does (at most 50 cases; 'tanba evidence verify' "
        "checks it whole)",
    )
    ex.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help="report language")
    ex.add_argument(
        "--tz",
        default="",
        metavar="ZONE",
        help="time zone of the report's dates, e.g. Europe/Moscow (default: "
        "TANBA_EVIDENCE_TIMEZONE, else UTC)",
    )
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

    ver = evidence.add_parser(
        "verify",
        help="check a package's hashes, signature and timestamp, and that a trusted key signed "
        "it (or each package of an archive of many, and the archive's signed index)",
    )
    ver.add_argument("file", type=Path, metavar="FILE")
    ver.add_argument(
        "--public-key",
        type=Path,
        metavar="PEM",
        help="trust only this key (instead of this installation's and the trust store's)",
    )
    _fingerprint_option(
        ver, "trust only the key with this fingerprint (one you confirmed with its holder)"
    )
    ver.set_defaults(handler=_verify)

    key = evidence.add_parser(
        "key", help="print this installation's public signing key and its fingerprint"
    )
    key.set_defaults(handler=_key)

    trust = evidence.add_parser(
        "trust", help="the signing keys of other installations that 'verify' accepts"
    ).add_subparsers(metavar="ACTION")
    add = trust.add_parser("add", help="trust a public key (PEM) you have checked out of band")
    add.add_argument("pem", type=Path, metavar="PEM")
    add.add_argument("--label", default="", help="whose key it is, shown by 'trust list'")
    _fingerprint_option(
        add, "the fingerprint you confirmed with the key's holder; refuse the key if it differs"
    )
    add.set_defaults(handler=_trust_add)
    listing = trust.add_parser("list", help="the keys 'verify' trusts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_trust_list)
    remove = trust.add_parser("remove", help="stop trusting a key")
    remove.add_argument("fingerprint", metavar="FINGERPRINT")
    remove.set_defaults(handler=_trust_remove)


def _fingerprint_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--fingerprint SHA256:HEX``: a key's fingerprint as 'evidence key' prints it."""
    p.add_argument("--fingerprint", default="", metavar="SHA256:HEX", help=help)


def _common(p: argparse.ArgumentParser) -> None:
    add_resolve_option(p)
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
    from tanba.evidence.package import ExportOptions, export

    options = ExportOptions(
        lang=args.lang,
        withhold_reference=args.withhold_reference,
        recapture="always" if args.recapture else "never" if args.no_recapture else "missing",
        resolve=parse_resolve(args.resolve),
        timezone=args.tz,
        interface="cli",
    )
    if args.bundle:
        from tanba.evidence.bundle import export_bundle

        done = export_bundle(app, args.alert_ids, args.output, principal_from(args), options)
        for result in done.packages:
            print(f"{result.alert_id}: {result.path} ({result.files} files, signed)")
        print(f"{done.path}: {len(done.packages)} cases and a signed index, sha256 {done.sha256}")
        return 0
    for result in export(app, args.alert_ids, args.output, principal_from(args), options):
        stamp = ", time-stamped" if result.timestamped else ""
        print(f"{result.alert_id}: {result.path} ({result.files} files, signed{stamp})")
    return 0


def _capture(app: App, args: argparse.Namespace) -> int:
    from tanba.evidence.capture import capture
    from tanba.evidence.package import authorize

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
    from tanba.evidence.bundle import bundle_summary, is_bundle, verify_bundle
    from tanba.evidence.verify import summary, verify_package

    data = _read(args.file)
    trusted = _trusted(app, args)
    result: Verification | BundleVerification
    if is_bundle(data):  # an archive of many cases (the console's bulk export)
        result = verify_bundle(data, trusted, name=str(args.file))
        print(bundle_summary(result, str(args.file)))
    else:
        result = verify_package(data, trusted, name=str(args.file))
        print(summary(result, str(args.file)))
    if result.unknown_signer:
        print(_unknown_key_advice(str(args.file), result.unknown_signer))
    return 0 if result.ok else 1


def _trusted(app: App, args: argparse.Namespace) -> list[TrustedKey]:
    """The keys this check trusts: the command line's, else the installation's and the store's."""
    from tanba.evidence.signing import fingerprint, load_public_key
    from tanba.evidence.trust import TrustedKey, installation_key, normalize_fingerprint

    given: list[TrustedKey] = []
    if args.public_key is not None:
        key = load_public_key(_read(args.public_key), str(args.public_key))
        origin = f"the key given with --public-key {args.public_key}"
        given.append(TrustedKey(fingerprint(key), origin, key))
    if args.fingerprint:
        pinned = normalize_fingerprint(args.fingerprint)
        if given and given[0].fingerprint != pinned:
            raise InputError(
                f"--public-key {args.public_key} is key {given[0].fingerprint}, not {pinned}; "
                "give one of them, or the key that has that fingerprint"
            )
        given.append(TrustedKey(pinned, "the fingerprint given with --fingerprint"))
    if given:
        return given
    config, store = _store(app)
    own = installation_key(app.settings.home, config)
    return ([own] if own else []) + store.trusted()


def _unknown_key_advice(file: str, signer: str) -> str:
    return (
        f"What to do: ask whoever exported {file} for their key's fingerprint (they print it "
        "with 'tanba evidence key') by a channel you trust - in person, by letter or by phone, "
        f"never from the package itself - and compare it with {signer}.\n"
        "Only if they are the same, trust that key and verify again:\n"
        f"  unzip -p {file} public-key.pem > signer.pem\n"
        f'  tanba evidence trust add signer.pem --fingerprint {signer} --label "WHO"\n'
        f"  tanba evidence verify {file}\n"
        f"(or, for this one check: tanba evidence verify {file} --fingerprint {signer})"
    )


def _store(app: App) -> tuple[EvidenceConfig, TrustStore]:
    from tanba.evidence.config import EvidenceConfig
    from tanba.evidence.trust import TrustStore, store_location

    config = EvidenceConfig.from_env()
    return config, TrustStore(store_location(app.settings.home, config))


def _trust_add(app: App, args: argparse.Namespace) -> int:
    from tanba.evidence.signing import fingerprint, load_public_key
    from tanba.evidence.trust import normalize_fingerprint

    pem = _read(args.pem)
    key = load_public_key(pem, str(args.pem))
    confirmed = normalize_fingerprint(args.fingerprint) if args.fingerprint else ""
    if confirmed and confirmed != fingerprint(key):
        raise InputError(
            f"{args.pem} is key {fingerprint(key)}, not {confirmed} that you confirmed: it was "
            "not trusted. Get the key again from its holder."
        )
    added, new = _store(app)[1].add(pem, str(args.pem), args.label)
    print(f"{added.fingerprint}: {'now trusted' if new else 'already trusted'} ({added.origin})")
    if not confirmed:
        print(
            "  Make sure this fingerprint is the one the key's holder gave you out of band: "
            "a package can carry any key."
        )
    return 0


def _trust_list(app: App, args: argparse.Namespace) -> int:
    from tanba.evidence.trust import installation_key

    config, store = _store(app)
    own = installation_key(app.settings.home, config)
    keys = ([own] if own else []) + store.trusted()
    if args.json:
        rows = [{"fingerprint": k.fingerprint, "label": k.label, "origin": k.origin} for k in keys]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"# trust store: {store.location}")
    if not keys:
        print("no trusted keys; add one with 'tanba evidence trust add PEM'")
    for k in keys:
        print(f"{k.fingerprint}  {k.origin}")
    return 0


def _trust_remove(app: App, args: argparse.Namespace) -> int:
    removed = _store(app)[1].remove(args.fingerprint)
    print(f"{removed.fingerprint}: no longer trusted ({removed.origin})")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _key(app: App, args: argparse.Namespace) -> int:
    from tanba.evidence.signing import load_signing_key

    key = load_signing_key(app.settings.home)
    print(f"# {key.fingerprint} ({key.source})")
    print(key.public_pem().decode(), end="")
    return 0
