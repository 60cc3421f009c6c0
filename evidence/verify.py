"""Verify an evidence package with nothing but the package and (optionally) the expected public key.

Contract: :func:`verify_package` checks, and reports every failure in plain
words naming the member concerned:

- the zip is readable and every member decompresses (a damaged member is named);
- ``manifest.json`` parses; ``public-key.pem`` is the key the manifest names by
  fingerprint, and, when the caller gives a key (``--public-key``) or a
  fingerprint, it is that key;
- ``manifest.sig`` is a valid Ed25519 signature of manifest.json by that key;
- every listed file is present with the listed SHA-256 and size (a changed WACZ
  is opened to say which file inside it changed), and no unlisted member was added;
- ``manifest.tsr``, when the manifest names a TSA, is a valid RFC 3161 token
  over manifest.json (:func:`evidence.timestamp.verify_token`).

It never trusts the package to tell which key is right: with no key given, a
valid package proves only that whoever holds the key with the printed
fingerprint sealed it, so the fingerprint must be compared with the one the
installation publishes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from evidence import manifest as mf
from evidence.archive import read_zip
from evidence.exceptions import PackageError, TimestampError
from evidence.signing import fingerprint, load_public_key, verify_signature
from evidence.timestamp import TimestampInfo, verify_token
from evidence.wacz import wacz_problems


@dataclass
class Verification:
    """The outcome: ``ok`` when ``problems`` is empty; what was checked, for the summary."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alert_id: str = ""
    files: int = 0
    key_fingerprint: str = ""
    created_at: str = ""
    timestamp: TimestampInfo | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_package(
    data: bytes,
    *,
    public_key_pem: bytes | None = None,
    expected_fingerprint: str = "",
    name: str = "the package",
) -> Verification:
    """Check a package's bytes (see the module doc)."""
    result = Verification()
    problems = result.problems
    try:
        members, damaged = read_zip(data, name)
    except PackageError as exc:
        problems.append(str(exc))
        return result
    problems += [f"{m} is damaged and cannot be read ({why})" for m, why in sorted(damaged.items())]

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

    key = _key(members, manifest, public_key_pem, expected_fingerprint, result)
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


def _key(
    members: dict[str, bytes],
    manifest: mf.Manifest,
    given_pem: bytes | None,
    expected_fingerprint: str,
    result: Verification,
) -> Ed25519PublicKey | None:
    """The key to check the signature with, recording any disagreement as a problem."""
    problems = result.problems
    named = manifest.public_key.fingerprint
    inside = members.get(mf.PUBLIC_KEY)
    inside_key = None
    if inside is None:
        problems.append(f"{mf.PUBLIC_KEY} is missing")
    else:
        try:
            inside_key = load_public_key(inside, mf.PUBLIC_KEY)
            if fingerprint(inside_key) != named:
                problems.append(
                    f"{mf.PUBLIC_KEY} was changed: it is not the key {named} that manifest.json names"
                )
        except PackageError:
            problems.append(f"{mf.PUBLIC_KEY} was changed: it is no longer a readable Ed25519 key")
    key = inside_key
    if given_pem is not None:
        key = load_public_key(given_pem, "--public-key")
        if fingerprint(key) != named:
            problems.append(
                f"the package was signed by key {named}, not by the key you gave "
                f"({fingerprint(key)})"
            )
    if expected_fingerprint and expected_fingerprint.lower() not in (
        named.lower(),
        named.removeprefix("SHA256:").lower(),
    ):
        problems.append(f"the package was signed by key {named}, not {expected_fingerprint}")
    result.key_fingerprint = fingerprint(key) if key is not None else named
    return key


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
        if result.timestamp is not None:
            ts = result.timestamp
            lines.append(f"  time-stamped {ts.gen_time} by {ts.tsa} (serial {ts.serial})")
    else:
        lines.append(f"FAILED: {name} cannot be relied on; {len(result.problems)} problem(s):")
        lines += [f"  - {p}" for p in result.problems]
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)
