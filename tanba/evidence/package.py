"""Export evidence packages: one signed zip per case, everything an agency or a court needs.

Contract: :func:`export` checks first that ``principal`` may see every alert
asked for (nothing is written otherwise), then for each alert recaptures the
page when no capture exists yet (``recapture="missing"``, the default; or
``"always"``/``"never"``), assembles the package, signs its manifest, asks the
TSA for a token when one is configured, writes the zip atomically and logs
the export on the custody topic: who (the principal), when (the clock), the
zip's SHA-256, through which interface (``options.interface``: cli, console or
api), and as subject the manifest's SHA-256 (the manifest itself is kept in
the blob store).

Output: with one alert id, ``out`` is the zip file to write (or, when ``out``
is an existing directory, ``<alert id>.zip`` inside it); with several, ``out``
is a directory (created if needed) that receives ``<alert id>.zip`` for each.
One zip per case keeps each case's signature, timestamp and custody separate,
so a package can be handed to one agency without disclosing another case.

Members of a package (all listed in manifest.json with SHA-256 and size)::

    README.txt                     what the files are and how to verify them
    report.pdf                     the human-readable report
    web-archive.wacz               WACZ 1.1.1: crawl and recapture WARC records, screenshot
    capture/capture.json           the recapture: time, server IP, HTTP statuses, TLS chain
    capture/screenshot.png         full-page screenshot (when Chromium could take one)
    capture/tls-chain.pem          the certificates the https server presented (https only)
    work/work.json                 the registered work (owner, territories, fingerprint)
    work/reference.<ext>           the reference file, or, when withheld,
    work/reference-withheld.json   its SHA-256 and size, and work/thumbnail.png (images)
    found/media.<ext>              the file found on the site (bytes the alert was raised on)
    match/report.json              fingerprints, scores, region or aligned span
    match/overlay.png | match/alignment.png
    case/alert.json  case/jurisdiction.json  case/status-history.json  case/custody-log.json
    notices/notice-to-host.txt     draft notice; notices/request-<FROM>-to-<TO>.txt when cross-border
    manifest.json  manifest.sig  public-key.pem  [manifest.tsr]

Every text a person reads (report, notices, captions) is in ``options.lang``,
with times in ``options.timezone`` (else ``TANBA_EVIDENCE_TIMEZONE``, else UTC),
and says only what the package holds (:mod:`tanba.evidence.wording`).

Determinism: with a fixed clock and key, the same case state exported under
the same file name (the notices cite it) gives the same bytes (zip times are
the export time, members sorted, WARC ids derived, PDF invariant with the
export time as its date); only ``manifest.tsr`` differs between two exports of
the same state. The custody log inside a package holds
every earlier export of the case, so a second export differs from the first by
that line: the case's state changed. A package's own export is in its manifest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.clock import iso
from tanba.core.exceptions import InputError, NotFound
from tanba.core.schemas.base import Model
from tanba.core.schemas.works import Work
from tanba.core.wiring import App
from tanba.evidence import manifest as mf
from tanba.evidence.archive import write_zip, zip_time
from tanba.evidence.capture import capture, latest_capture
from tanba.evidence.capturerecord import canonical
from tanba.evidence.config import EvidenceConfig
from tanba.evidence.contents import jurisdiction_record, readme, web_archive
from tanba.evidence.custody import EXPORTED, INTERFACES, CustodyLog
from tanba.evidence.dates import zone
from tanba.evidence.exceptions import AccessDenied, UnknownAlert
from tanba.evidence.matchreport import build_match_report, thumbnail
from tanba.evidence.notices import NoticeContext, render_notices
from tanba.evidence.report import ReportInput, render_report
from tanba.evidence.screenshot import Screenshotter
from tanba.evidence.signing import ALGORITHM, SigningKey, load_signing_key
from tanba.evidence.strings import DEFAULT_LANGUAGE, LANGUAGES
from tanba.evidence.timestamp import Rfc3161Client, TimestampAuthority

SOFTWARE = "Tanba evidence export 1"
Recapture = Literal["missing", "always", "never"]
Interface = Literal["cli", "console", "api"]
_EXT = re.compile(r"^\.[a-z0-9]{1,5}$")


@dataclass(frozen=True)
class ExportOptions:
    """How to export: language, what to withhold, when to recapture, and the seams."""

    lang: str = DEFAULT_LANGUAGE
    timezone: str = ""  # IANA name for the texts' dates; "": TANBA_EVIDENCE_TIMEZONE
    interface: Interface = "cli"  # recorded in the custody log with the export
    # True: only the reference's hash and a thumbnail; None: as the owning organisation chose
    # (tanba.core.access.Access.export_withholds_reference, which also never hands it to a
    # principal who may not have it).
    withhold_reference: bool | None = None
    recapture: Recapture = "missing"
    resolve: Mapping[str, str] = field(default_factory=dict)
    screenshotter: Screenshotter | None = None
    tsa: TimestampAuthority | None = None  # None: TANBA_TSA_URL decides
    signing_key: SigningKey | None = None  # None: TANBA_SIGNING_KEY or the installation key
    config: EvidenceConfig | None = None  # None: read from the environment


@dataclass(frozen=True)
class ExportResult:
    """One written package."""

    alert_id: str
    path: Path
    manifest_sha256: str
    package_sha256: str
    files: int
    timestamped: bool


def export(
    app: App,
    alert_ids: Sequence[str],
    out: Path,
    principal: Principal,
    options: ExportOptions | None = None,
) -> list[ExportResult]:
    """Write one package per alert (see the module doc); AccessDenied before writing anything."""
    options = options or ExportOptions()
    if options.lang not in LANGUAGES:
        raise InputError(f"language {options.lang!r} is not available; use {', '.join(LANGUAGES)}")
    if not alert_ids:
        raise InputError("name at least one alert id (see 'tanba alerts list')")
    if options.interface not in INTERFACES:
        raise InputError(f"interface {options.interface!r} is not one of {', '.join(INTERFACES)}")
    config = options.config or EvidenceConfig.from_env()
    tz = zone(options.timezone or config.timezone)
    alerts = [authorize(app, alert_id, principal) for alert_id in dict.fromkeys(alert_ids)]
    key = options.signing_key or load_signing_key(app.settings.home, config)
    tsa = options.tsa or (Rfc3161Client(config.tsa_url) if config.tsa_url else None)
    targets = _targets(out, [a.id for a in alerts])
    custody = CustodyLog(app.bus, app.clock)
    results = []
    for alert, target in zip(alerts, targets, strict=True):
        data, manifest_json, count = build_package(
            app, alert, principal, options,
            key=key, tsa=tsa, config=config, custody=custody, tz=tz, name=target.name,
        )  # fmt: skip
        _write_atomically(target, data)
        manifest_sha = app.blobs.put(manifest_json)
        package_sha = hashlib.sha256(data).hexdigest()
        custody.record(
            alert.id,
            principal.name,
            EXPORTED,
            f"package {target.name} (SHA-256 {package_sha}) through the {options.interface}: "
            f"{count} files, signed by {key.fingerprint}"
            + (f", timestamped by {tsa.url}" if tsa else ""),
            subject=manifest_sha,
            interface=options.interface,
            package_sha256=package_sha,
        )
        results.append(
            ExportResult(alert.id, target, manifest_sha, package_sha, count, tsa is not None)
        )
    return results


def authorize(app: App, alert_id: str, principal: Principal) -> Alert:
    alert = app.store.get(alert_id)
    if alert is None:
        raise UnknownAlert(f"no alert {alert_id!r}; list them with 'tanba alerts list'")
    if not principal.may_see(alert):
        scope = (
            f"an agency of {', '.join(principal.jurisdictions) or 'no jurisdiction'}"
            if principal.role == "agency"
            else f"a rights holder for {', '.join(principal.owners) or 'no organisation'}"
            if principal.role == "rights_holder"
            else principal.role
        )
        raise AccessDenied(
            f"{principal.name} ({scope}) may not export alert {alert_id}: it concerns a work of "
            f"{alert.owner} in jurisdiction {alert.jurisdiction}. Nothing was exported; ask "
            f"an agency of {alert.jurisdiction}, the rights holder or an administrator."
        )
    return alert


def _targets(out: Path, ids: list[str]) -> list[Path]:
    if len(ids) == 1 and not out.is_dir():
        return [out]
    if out.exists() and not out.is_dir():
        raise InputError(
            f"{out} is a file; with several alert ids -o names a directory for one zip per case"
        )
    return [out / f"{alert_id}.zip" for alert_id in ids]


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-evidence-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_package(
    app: App,
    alert: Alert,
    principal: Principal,
    options: ExportOptions,
    *,
    key: SigningKey,
    tsa: TimestampAuthority | None,
    config: EvidenceConfig,
    custody: CustodyLog,
    tz: ZoneInfo,
    name: str,
) -> tuple[bytes, bytes, int]:
    """The zip bytes, manifest.json bytes and file count of one case's package.

    ``name`` is the zip's file name, which the notices cite as the package attached.
    """
    now = app.clock.now()
    exported_at = iso(now)
    lang = options.lang
    current = None if options.recapture == "always" else latest_capture(app, alert.id, custody)
    if current is None and options.recapture != "never":
        current = capture(
            app,
            alert,
            actor=principal.name,
            resolve=options.resolve,
            screenshotter=options.screenshotter,
            custody=custody,
        )
    work = _work(app, alert.work_id)
    withhold = (
        app.access.export_withholds_reference(principal, work, options.withhold_reference)
        if work is not None
        else bool(options.withhold_reference)
    )
    jurisdiction = app.jurisdictions.get(alert.jurisdiction)
    owner_home = (
        app.jurisdictions.get(alert.owner_home)
        if alert.owner_home and alert.owner_home in app.jurisdictions
        else None
    )
    files: dict[str, tuple[bytes, str]] = {}

    def add(path: str, data: bytes, description: str) -> None:
        files[path] = (data, description)

    screenshot = b""
    if current is not None:
        record = current.record
        add("capture/capture.json", canonical(record), "the recapture: time, server, HTTP, TLS")
        if record.screenshot_sha256:
            screenshot = app.blobs.get(record.screenshot_sha256)
            add("capture/screenshot.png", screenshot, "full-page screenshot of the page")
        pems = [c.pem for ex in record.exchanges[:1] if ex.tls for c in ex.tls.chain]
        if pems:
            add("capture/tls-chain.pem", "".join(pems).encode(), "TLS certificates of the page")
    add(
        "web-archive.wacz",
        web_archive(app, alert, current, exported_at),
        "web archive (WACZ 1.1.1)",
    )

    reference = _blob(app, work.sha256) if work else None
    if work is not None:
        add("work/work.json", _json(work), "the registered work and its fingerprint")
        if reference is None:
            pass  # the blob store lost it: the report's file list shows it is absent
        elif withhold:
            withheld = {"sha256": work.sha256, "bytes": len(reference), "filename": work.filename}
            add("work/reference-withheld.json", _json(withheld), "hash of the withheld reference")
            if work.media == "image":
                add("work/thumbnail.png", thumbnail(reference), "thumbnail of the reference")
        else:
            add(f"work/reference{_ext(work.filename)}", reference, "the registered reference file")
    found = _blob(app, alert.media_sha256)
    if found is not None:
        add(
            f"found/media{_ext(urlsplit(alert.media_url).path)}",
            found,
            "the file found on the site",
        )
    match = build_match_report(app.settings, alert, work, reference, found or b"", lang)
    add("match/report.json", _json(match.report), "fingerprints, scores, matched region/span")
    if match.picture:
        add(f"match/{match.report.picture}", match.picture, "picture of the match")

    log = custody.case_log(alert)
    add("case/alert.json", _json(alert), "the alert as stored")
    add("case/jurisdiction.json", _json(jurisdiction_record(alert, jurisdiction)), "why this state")
    add("case/status-history.json", _json(alert.history), "status changes")
    add("case/custody-log.json", _json(log), "chain of custody: who did what, when")
    notices = render_notices(
        NoticeContext(
            alert=alert,
            work=work,
            jurisdiction=jurisdiction,
            owner_home=owner_home,
            capture=current.record if current else None,
            lang=lang,
            exported_at=exported_at,
            package=name,
            # What the finished package will hold: these files, the report and the seals.
            paths=(*files, "report.pdf", mf.MANIFEST, *((mf.TIMESTAMP,) if tsa else ())),
            tz=tz,
        ),
        config.templates_dir,
    )
    for letter, body in sorted(notices.items()):
        add(f"notices/{letter}", body.encode(), "draft letter (to be checked before sending)")
    add("README.txt", readme(key.fingerprint, tsa), "what this package is and how to check it")

    listing = [
        (path, hashlib.sha256(data).hexdigest()) for path, (data, _) in sorted(files.items())
    ]
    pdf = render_report(
        ReportInput(
            lang=lang,
            tz=tz,
            alert=alert,
            jurisdiction=jurisdiction,
            owner_home=owner_home,
            registry=app.jurisdictions,
            capture=current.record if current else None,
            match=match.report,
            custody=log,
            files=listing,
            screenshot=screenshot,
            picture=match.picture,
            reference_withheld=withhold,
            key_fingerprint=key.fingerprint,
            tsa_url=tsa.url if tsa else "",
            exported_at=exported_at,
            exported_by=principal.name,
        )
    )
    add("report.pdf", pdf, "the report, for reading and printing")

    manifest = mf.Manifest(
        alert_id=alert.id,
        created_at=exported_at,
        created_by=principal.name,
        software=SOFTWARE,
        language=lang,
        public_key=mf.KeyRef(algorithm=ALGORITHM, fingerprint=key.fingerprint),
        timestamp=mf.TimestampRef(tsa_url=tsa.url) if tsa else None,
        files=[
            mf.FileEntry(
                path=path,
                sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data),
                description=description,
            )
            for path, (data, description) in sorted(files.items())
        ],
    )
    manifest_json = mf.manifest_bytes(manifest)
    members = {path: data for path, (data, _) in files.items()}
    members[mf.MANIFEST] = manifest_json
    members[mf.SIGNATURE] = _b64(key.sign(manifest_json))
    members[mf.PUBLIC_KEY] = key.public_pem()
    if tsa is not None:
        members[mf.TIMESTAMP] = tsa.stamp(manifest_json)
    # Deflating media again gains nothing; the WACZ must stay stored for its own readers' sake.
    stored = {p for p in members if p.endswith((".wacz", ".png", ".jpg", ".mp3", ".ogg", ".pdf"))}
    return write_zip(members, when=zip_time(now), stored=stored), manifest_json, len(files)


def _work(app: App, work_id: str) -> Work | None:
    try:
        return app.works.get(work_id)
    except NotFound:
        return None  # withdrawn since: the package says so by its absence


def _blob(app: App, sha256: str) -> bytes | None:
    try:
        return app.blobs.get(sha256)
    except NotFound:
        return None


def _ext(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if _EXT.match(suffix) else ".bin"


def _json(value: Model | Sequence[Model] | Mapping[str, Any]) -> bytes:
    if isinstance(value, Model):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, Mapping):
        data = dict(value)
    else:
        data = [v.model_dump(mode="json") for v in value]
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _b64(signature: bytes) -> bytes:
    return base64.b64encode(signature) + b"\n"
