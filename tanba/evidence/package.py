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

What a package holds, and how it is built and sealed: :mod:`tanba.evidence.assembly`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.exceptions import InputError
from tanba.core.wiring import App
from tanba.evidence.assembly import ExportOptions, Interface, build_package
from tanba.evidence.config import EvidenceConfig
from tanba.evidence.custody import EXPORTED, INTERFACES, CustodyLog
from tanba.evidence.dates import zone
from tanba.evidence.exceptions import AccessDenied, UnknownAlert
from tanba.evidence.signing import load_signing_key
from tanba.evidence.strings import LANGUAGES
from tanba.evidence.timestamp import Rfc3161Client

# ExportOptions is defined with the assembly it steers; callers take it from here.
__all__ = ["ExportOptions", "ExportResult", "authorize", "export", "record_export"]


@dataclass(frozen=True)
class ExportResult:
    """One written package."""

    alert_id: str
    path: Path
    manifest_sha256: str
    package_sha256: str
    files: int
    timestamped: bool
    signer: str = ""  # the signing key's fingerprint
    tsa_url: str = ""  # the time-stamping authority asked, if any


def export(
    app: App,
    alert_ids: Sequence[str],
    out: Path,
    principal: Principal,
    options: ExportOptions | None = None,
    *,
    record: bool = True,
) -> list[ExportResult]:
    """Write one package per alert (see the module doc); AccessDenied before writing anything.

    With ``record=False`` nothing is logged on the custody topic: the caller logs each
    result with :func:`record_export` once the packages have reached their reader (a
    bundle is written only after every package is).
    """
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
        result = ExportResult(
            alert.id,
            target,
            app.blobs.put(manifest_json),
            hashlib.sha256(data).hexdigest(),
            count,
            tsa is not None,
            key.fingerprint,
            tsa.url if tsa else "",
        )
        if record:
            record_export(custody, principal, options.interface, result)
        results.append(result)
        if options.progress is not None:
            options.progress(len(results))
    return results


def record_export(
    custody: CustodyLog, principal: Principal, interface: Interface, result: ExportResult
) -> None:
    """Log one written package in its case's chain of custody: who, the zip, its signer."""
    custody.record(
        result.alert_id,
        principal.name,
        EXPORTED,
        f"package {result.path.name} (SHA-256 {result.package_sha256}) through the {interface}: "
        f"{result.files} files, signed by {result.signer}"
        + (f", timestamped by {result.tsa_url}" if result.tsa_url else ""),
        subject=result.manifest_sha256,
        interface=interface,
        package_sha256=result.package_sha256,
    )


def authorize(app: App, alert_id: str, principal: Principal) -> Alert:
    """The alert ``alert_id`` when ``principal`` may export it; else an error saying whom to ask."""
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
