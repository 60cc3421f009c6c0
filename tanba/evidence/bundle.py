"""Many cases in one archive an agency can file: each case's signed package, and a signed index.

Contract: :func:`export_bundle` exports every alert asked for with
:func:`tanba.evidence.package.export` (so each case is checked against the
principal before anything is written, recaptured as ``options`` say, signed and
timestamped when a TSA is configured), writes one zip to ``out`` atomically, and
only then records each package in its own case's chain of custody, with the
principal as actor and ``options.interface`` (a bundle that fails is in no log)::

    packages/<alert id>.zip   each case's package, byte for byte as a single export writes it
    index.json                the packages: alert id, file, SHA-256 of the zip and its manifest
    index.json.sig            Ed25519 signature of index.json (base64) by the key that signed
                              the packages

Why a bundle of packages and not one package of many cases: a package is the
unit a court or an agency checks (its manifest, signature and timestamp cover
exactly one case), and one case can still be handed on without disclosing the
others; the signed index says which packages belong to the bundle, so a missing
or swapped package is noticed. Nothing about a single package is weakened.

:func:`verify_bundle` checks such an archive as ``tanba evidence verify`` checks a
package: every package inside with :func:`tanba.evidence.verify.verify_package`
against the trusted keys, the index's signature by the key that signed them, each
package's SHA-256 against the index, and that no package is missing or added.

At most :data:`MAX_BUNDLE` cases a bundle (InputError beyond, before anything is
exported): every package is built in the caller's request, and an archive of
thousands of cases is neither quick to write nor to read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tanba.core.access import Principal
from tanba.core.clock import iso
from tanba.core.exceptions import InputError
from tanba.core.wiring import App
from tanba.evidence import manifest as mf
from tanba.evidence.config import EvidenceConfig
from tanba.evidence.custody import CustodyLog
from tanba.evidence.exceptions import PackageError
from tanba.evidence.package import ExportOptions, ExportResult, export, record_export
from tanba.evidence.signing import fingerprint, load_public_key, load_signing_key, verify_signature
from tanba.evidence.trust import TrustedKey
from tanba.evidence.verify import Verification, read_members, verify_package

# Most cases one bundle holds: each package is built and signed while the caller waits, and
# a case with real media costs ~0.7 s and ~3 MB (bench/evidence_bundle.py, cases of a
# wallpaper on 2 shared cores: 200 took 137 s and 663 MB, 50 took 36.8 s and 166 MB), so
# 50 stay within a web request's minute.
MAX_BUNDLE = 50
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
            archive.writestr(SIGNATURE, base64.b64encode(key.sign(index)) + b"\n")
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


def is_bundle(data: bytes) -> bool:
    """True when ``data`` is a zip with a bundle's index (not a single package)."""
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
    return INDEX in names and mf.MANIFEST not in names


@dataclass
class BundleVerification:
    """The outcome for a bundle: its own problems, and each package's verification."""

    problems: list[str] = field(default_factory=list)
    packages: dict[str, Verification] = field(default_factory=dict)  # by member name
    exported_by: str = ""
    exported_at: str = ""
    signed_by: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and all(v.ok for v in self.packages.values())

    @property
    def unknown_signer(self) -> str:
        return next((v.unknown_signer for v in self.packages.values() if v.unknown_signer), "")


def verify_bundle(
    data: bytes, trusted: Sequence[TrustedKey], *, name: str = "the archive"
) -> BundleVerification:
    """Check a bundle's bytes against the ``trusted`` keys (see the module doc)."""
    result = BundleVerification()
    opened = read_members(data, name, result.problems)
    if opened is not None:
        _check_bundle(result, *opened, trusted)
    return result


def _check_bundle(
    result: BundleVerification,
    members: dict[str, bytes],
    damaged: dict[str, str],
    trusted: Sequence[TrustedKey],
) -> None:
    """Each package, the index and its signature, and the index against the members."""
    problems = result.problems
    for member in sorted(m for m in members if m.startswith("packages/")):
        result.packages[member] = verify_package(members[member], trusted, name=member)
    try:
        index = json.loads(members[INDEX])
        listed = {p["file"]: p for p in index["packages"]}
        result.exported_by, result.exported_at = index["exported_by"], index["exported_at"]
        result.signed_by = index["signed_by"]
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"{INDEX} is missing or was changed: it cannot be read ({exc})")
        return
    if index.get("format") != FORMAT:
        problems.append(f"{INDEX} has format {index.get('format')!r}, not {FORMAT!r}")
    _check_index_signature(members, result, trusted)
    for file, entry in sorted(listed.items()):
        content = members.get(file)
        if content is None:
            if file not in damaged:
                problems.append(f"{file} is missing: the index lists it")
        elif hashlib.sha256(content).hexdigest() != entry.get("package_sha256"):
            problems.append(f"{file} was changed or swapped: its SHA-256 is not the index's")
    for extra in sorted(set(members) - set(listed) - {INDEX, SIGNATURE}):
        problems.append(f"{extra} was added: the index does not list it")


def _check_index_signature(
    members: dict[str, bytes], result: BundleVerification, trusted: Sequence[TrustedKey]
) -> None:
    """The index must be signed by a trusted key; the key is the trusted copy, else the one
    the packages carry with that fingerprint (their own checks say whether it is trusted)."""
    signer = result.signed_by
    match = next((t for t in trusted if t.fingerprint.lower() == signer.lower()), None)
    if match is None:
        result.problems.append(f"{INDEX} is signed by an unknown key {signer}")
        return
    key: Ed25519PublicKey | None = match.key
    for member in result.packages:
        if key is not None:
            break
        key = _package_key(members[member], signer)
    try:
        raw = base64.b64decode(members.get(SIGNATURE, b"").strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if key is None or len(raw) != 64 or not verify_signature(key, raw, members[INDEX]):
        result.problems.append(
            f"{INDEX} or {SIGNATURE} was changed after signing: the signature does not verify "
            f"with key {signer}"
        )


def _package_key(package: bytes, signer: str) -> Ed25519PublicKey | None:
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            key = load_public_key(archive.read(mf.PUBLIC_KEY), mf.PUBLIC_KEY)
    except (KeyError, PackageError, zipfile.BadZipFile, OSError, ValueError):
        return None
    return key if fingerprint(key) == signer else None


def bundle_summary(result: BundleVerification, name: str) -> str:
    """What a person reads: OK with what was checked, or FAILED with every problem."""
    from tanba.evidence.verify import summary

    failed = [m for m, v in result.packages.items() if not v.ok]
    if result.ok:
        lines = [
            f"OK: {name} is intact: {len(result.packages)} packages, each signed and checked, "
            f"and their index signed by {result.signed_by}",
            f"  exported {result.exported_at} by {result.exported_by}",
        ]
    else:
        count = len(result.problems) + len(failed)
        lines = [f"FAILED: {name} cannot be relied on; {count} problem(s):"]
        lines += [f"  - {p}" for p in result.problems]
        lines += [f"  - {m}: {len(result.packages[m].problems)} problem(s)" for m in failed]
    for member, verification in result.packages.items():
        lines += ["  " + line for line in summary(verification, member).splitlines()]
    return "\n".join(lines)
