"""Assemble one case's evidence package: its members, report, notices, manifest, seals and zip.

Contract: :func:`build_package` recaptures the alert's page when ``options``
asks for it (``recapture="missing"``, the default: only when no capture exists
yet; ``"always"``; ``"never"``), gathers the members below, renders the report
and the notices, writes the manifest, signs it, asks the TSA for a token when
one is given, and returns the zip's bytes, the manifest's bytes and the number
of files the manifest lists. It writes no file and logs no export: that is
:func:`tanba.evidence.package.export`, which also checks who may export.

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
    match/overlay.png | match/alignment.png | match/frames.png (a video's frame pairs)
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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.clock import iso
from tanba.core.exceptions import NotFound
from tanba.core.schemas.base import Model
from tanba.core.schemas.works import Work
from tanba.core.wiring import App
from tanba.evidence import manifest as mf
from tanba.evidence.archive import write_zip, zip_time
from tanba.evidence.capture import capture, latest_capture
from tanba.evidence.capturerecord import canonical
from tanba.evidence.config import EvidenceConfig
from tanba.evidence.contents import jurisdiction_record, readme, web_archive
from tanba.evidence.custody import CustodyLog
from tanba.evidence.matchreport import build_match_report, thumbnail
from tanba.evidence.notices import NoticeContext, render_notices
from tanba.evidence.report import ReportInput, render_report
from tanba.evidence.screenshot import Screenshotter
from tanba.evidence.signing import ALGORITHM, SigningKey
from tanba.evidence.strings import DEFAULT_LANGUAGE
from tanba.evidence.timestamp import TimestampAuthority

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
    # Told the number of packages written so far after each one (a background export's
    # progress, tanba.console.exports); None: nobody is told.
    progress: Callable[[int], None] | None = None


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
    match = build_match_report(
        app.settings, alert, work, reference, found or b"", lang, withhold_reference=withhold
    )
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
