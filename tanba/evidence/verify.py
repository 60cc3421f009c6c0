"""Verify an evidence package against the keys the verifier trusts, and nothing the package claims.

Contract: :func:`verify_package` takes the package's bytes and the keys to
trust (:class:`~tanba.evidence.trust.TrustedKey`, gathered by the caller: the
``tanba evidence verify`` command passes this installation's key and the trust
store's, or only the key or fingerprint given on its command line). It checks,
and reports every failure in plain words naming the member concerned:

- the zip is readable and every member decompresses (a damaged member is named);
- ``manifest.json`` parses; ``public-key.pem`` is the key the manifest names by
  fingerprint;
- that key is one of the trusted keys; a package signed by any other key fails
  with "signed by an unknown key" and its fingerprint (``unknown_signer``), since
  anyone can make a key pair, re-hash a changed package and sign it;
- ``manifest.sig`` is a valid Ed25519 signature of manifest.json by that key
  (by the trusted copy of it when the verifier holds one);
- every listed file is present with the listed SHA-256 and size (a changed WACZ
  is opened to say which file inside it changed), and no unlisted member was added;
- ``manifest.tsr``, when the manifest names a TSA, is a valid RFC 3161 token
  over manifest.json (:func:`tanba.evidence.timestamp.verify_token`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from tanba.evidence import manifest as mf
from tanba.evidence.archive import read_zip
from tanba.evidence.exceptions import PackageError, TimestampError
from tanba.evidence.signing import fingerprint, load_public_key, verify_signature
from tanba.evidence.timestamp import TimestampInfo, verify_token
from tanba.evidence.trust import TrustedKey
from tanba.evidence.wacz import wacz_problems


@dataclass
class Verification:
    """The outcome: ``ok`` when ``problems`` is empty; what was checked, for the summary."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alert_id: str = ""
    files: int = 0
    key_fingerprint: str = ""
    trusted_as: str = ""  # the origin of the trusted key that signed
    unknown_signer: str = ""  # the fingerprint of a signer none of the trusted keys is
    created_at: str = ""
    timestamp: TimestampInfo | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_package(
    data: bytes, trusted: Sequence[TrustedKey], *, name: str = "the package"
) -> Verification:
    """Check a package's bytes against the ``trusted`` keys (see the module doc)."""
    result = Verification()
    problems = result.problems
    opened = read_members(data, name, problems)
    if opened is None:
        return result
    members, damaged = opened

    manifest_json = members.get(mf.MANIFEST)
    if manifest_json is None:
        if mf.MANIFEST not in damaged:
            problems.append(f"{mf.MANIFEST} is missing: nothing in {name} can be checked")
        return result
    try:
        manifest = mf.Manifest.model_validate_json(manifest_json)
    except ValidationError as exc:
        problems.append(
            f"{mf.MANIFEST} was changed: it is no longer a valid manifest ({exc.errors()[0]['msg']})"
        )
        return result
    if manifest.format != mf.FORMAT:
        problems.append(f"{mf.MANIFEST} has format {manifest.format!r}, not {mf.FORMAT!r}")
    result.alert_id = manifest.alert_id
    result.created_at = manifest.created_at
    result.files = len(manifest.files)

    key = _key(members, manifest, trusted, result)
    signature = members.get(mf.SIGNATURE)
    if signature is None:
        if mf.SIGNATURE not in damaged:
            problems.append(f"{mf.SIGNATURE} is missing: the manifest is not signed")
    elif key is not None:
        try:
            raw = base64.b64decode(signature.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 64:
            problems.append(f"{mf.SIGNATURE} was changed: it is not an Ed25519 signature")
        elif not verify_signature(key, raw, manifest_json):
            problems.append(
                f"{mf.MANIFEST} or {mf.SIGNATURE} was changed after signing: the signature "
                f"does not verify with key {result.key_fingerprint}"
            )

    listed = {entry.path for entry in manifest.files}
    for entry in manifest.files:
        content = members.get(entry.path)
        if content is None:
            if entry.path not in damaged:
                problems.append(f"{entry.path} is missing")
            continue
        found = hashlib.sha256(content).hexdigest()
        if found != entry.sha256 or len(content) != entry.bytes:
            why = f"{entry.path} was changed (SHA-256 listed {entry.sha256[:16]}…, found {found[:16]}…)"
            if entry.path.endswith(".wacz"):
                inner = _inner(content)
                if inner:
                    why += f"; inside it: {'; '.join(inner)}"
            problems.append(why)
    seals = set(mf.SEALS) if manifest.timestamp else set(mf.SEALS) - {mf.TIMESTAMP}
    for extra in sorted(set(members) - listed - seals):
        problems.append(f"{extra} was added: the manifest does not list it")

    if manifest.timestamp is not None:
        token = members.get(manifest.timestamp.file)
        if token is None:
            if manifest.timestamp.file not in damaged:
                problems.append(
                    f"{manifest.timestamp.file} is missing: the manifest says "
                    f"{manifest.timestamp.tsa_url} time-stamped it"
                )
        else:
            try:
                result.timestamp = verify_token(token, manifest_json)
                result.notes += list(result.timestamp.notes)
            except TimestampError as exc:
                problems.append(f"{manifest.timestamp.file}: {exc}")
    else:
        result.notes.append("no timestamp: no time-stamping authority was configured at export")
    return result


def read_members(
    data: bytes, name: str, problems: list[str]
) -> tuple[dict[str, bytes], dict[str, str]] | None:
    """The zip's readable members and its damaged ones (each damaged one added to
    ``problems``), or None when it is no readable zip at all (that said in ``problems``)."""
    try:
        members, damaged = read_zip(data, name)
    except PackageError as exc:
        problems.append(str(exc))
        return None
    problems += [f"{m} is damaged and cannot be read ({why})" for m, why in sorted(damaged.items())]
    return members, damaged


def _key(
    members: dict[str, bytes],
    manifest: mf.Manifest,
    trusted: Sequence[TrustedKey],
    result: Verification,
) -> Ed25519PublicKey | None:
    """The key to check the signature with, recording an untrusted or changed key as a problem."""
    problems = result.problems
    named = manifest.public_key.fingerprint
    result.key_fingerprint = named
    inside = members.get(mf.PUBLIC_KEY)
    inside_key = None
    if inside is None:
        problems.append(f"{mf.PUBLIC_KEY} is missing")
    else:
        try:
            inside_key = load_public_key(inside, mf.PUBLIC_KEY)
        except PackageError:
            problems.append(f"{mf.PUBLIC_KEY} was changed: it is no longer a readable Ed25519 key")
        else:
            if fingerprint(inside_key) != named:
                problems.append(
                    f"{mf.PUBLIC_KEY} was changed: it is not the key {named} that manifest.json names"
                )
                inside_key = None
    match = next((t for t in trusted if t.fingerprint.lower() == named.lower()), None)
    if match is None:
        result.unknown_signer = named
        known = "; ".join(f"{t.fingerprint} ({t.origin})" for t in trusted) or "none"
        problems.append(
            f"signed by an unknown key {named}: it is none of the keys this check trusts "
            f"(trusted: {known}), so the signature proves nothing about who made the package"
        )
        return inside_key  # still checked, so a damaged seal is reported as well
    result.trusted_as = match.origin
    return match.key or inside_key


def _inner(wacz: bytes) -> list[str]:
    try:
        return wacz_problems(wacz)
    except PackageError as exc:
        return [str(exc)]


def summary(result: Verification, name: str) -> str:
    """What a person reads: OK with what was checked, or FAILED with every problem."""
    lines = []
    if result.ok:
        lines.append(f"OK: {name} is intact.")
        lines.append(
            f"  case {result.alert_id}, {result.files} files, exported {result.created_at}"
        )
        lines.append(f"  signed by Ed25519 key {result.key_fingerprint}")
        lines.append(f"  trusted as {result.trusted_as}")
        if result.timestamp is not None:
            ts = result.timestamp
            lines.append(f"  time-stamped {ts.gen_time} by {ts.tsa} (serial {ts.serial})")
    else:
        lines.append(f"FAILED: {name} cannot be relied on; {len(result.problems)} problem(s):")
        lines += [f"  - {p}" for p in result.problems]
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)
