"""Many cases in one archive an agency can file: each case's signed package, and a signed index.

Contract: :func:`export_bundle` exports every alert asked for with
:func:`tanba.evidence.package.export` (so each case is checked against the
principal before anything is written, recaptured as ``options`` say, signed and
timestamped when a TSA is configured), writes one zip to ``out`` atomically, and
only then records each package in its own case's chain of custody, with the
principal as actor and ``options.interface`` (a bundle that fails is in no log)::

    packages/<alert id>.zip   each case's package, byte for byte as a single export writes it
    index.json                the packages: alert id, file, SHA-256 of the zip and its manifest
    index.json.sig            Ed25519 signature of index.json by the key that signed the packages

Why a bundle of packages and not one package of many cases: a package is the
unit a court or an agency checks (its manifest, signature and timestamp cover
exactly one case), and one case can still be handed on without disclosing the
others; the signed index says which packages belong to the bundle, so a missing
or swapped package is noticed. Nothing about a single package is weakened.

At most :data:`MAX_BUNDLE` cases a bundle (InputError beyond, before anything is
exported): every package is built in the caller's request, and an archive of
thousands of cases is neither quick to write nor to read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tanba.core.access import Principal
from tanba.core.clock import iso
from tanba.core.exceptions import InputError
from tanba.core.wiring import App
from tanba.evidence.config import EvidenceConfig
from tanba.evidence.custody import CustodyLog
from tanba.evidence.package import ExportOptions, ExportResult, export, record_export
from tanba.evidence.signing import load_signing_key

# Most cases one bundle holds (each package is built and signed while the caller waits).
MAX_BUNDLE = 200
INDEX = "index.json"
SIGNATURE = "index.json.sig"
FORMAT = "tanba-evidence-bundle/1"


@dataclass(frozen=True)
class BundleResult:
    """The written bundle: its file, its SHA-256 and the packages inside."""

    path: Path
    sha256: str
    packages: list[ExportResult]


def export_bundle(
    app: App,
    alert_ids: Sequence[str],
    out: Path,
    principal: Principal,
    options: ExportOptions | None = None,
) -> BundleResult:
    """Write the bundle of ``alert_ids`` to the file ``out`` (see the module doc)."""
    options = options or ExportOptions()
    ids = list(dict.fromkeys(alert_ids))
    if len(ids) > MAX_BUNDLE:
        raise InputError(
            f"{len(ids):,} cases were asked for; one bundle holds at most {MAX_BUNDLE:,}: "
            "narrow the selection (a site, a work, a status or a date range) and export it "
            "part by part"
        )
    config = options.config or EvidenceConfig.from_env()
    key = options.signing_key or load_signing_key(app.settings.home, config)
    # The index and the packages are signed by one key.
    options = replace(options, signing_key=key, config=config)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".tmp-bundle-") as work:
        packages = Path(work) / "packages"
        packages.mkdir()
        results = export(app, ids, packages, principal, options, record=False)
        index = _index(results, principal, app, key.fingerprint)
        staged = Path(work) / "bundle.zip"
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_STORED) as archive:
            for result in results:  # zips already: stored, not compressed again
                archive.write(result.path, f"packages/{result.path.name}")
            archive.writestr(INDEX, index)
            archive.writestr(SIGNATURE, key.sign(index))
        with staged.open("rb") as f:
            os.fsync(f.fileno())
        digest = _sha256(staged)
        os.replace(staged, out)
    moved = [_moved(r, out) for r in results]
    custody = CustodyLog(app.bus, app.clock)
    for result in moved:  # only now: a failed bundle leaves no export in any case's log
        record_export(custody, principal, options.interface, result)
    return BundleResult(out, digest, moved)


def _index(results: list[ExportResult], principal: Principal, app: App, signer: str) -> bytes:
    body = {
        "format": FORMAT,
        "exported_at": iso(app.clock.now()),
        "exported_by": principal.name,
        "signed_by": signer,
        "packages": [
            {
                "alert_id": r.alert_id,
                "file": f"packages/{r.path.name}",
                "package_sha256": r.package_sha256,
                "manifest_sha256": r.manifest_sha256,
                "timestamped": r.timestamped,
            }
            for r in results
        ],
    }
    return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def _moved(result: ExportResult, bundle: Path) -> ExportResult:
    """The result with its path inside the bundle (the loose file is gone with the work dir)."""
    return replace(result, path=bundle / "packages" / result.path.name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
