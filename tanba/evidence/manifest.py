"""The manifest of an evidence package: every file with its SHA-256, the key, the timestamp.

Contract: a package is a zip whose members are the files listed in
``manifest.json`` plus the seals, which cannot list themselves:
``manifest.json``, ``manifest.sig`` (the Ed25519 signature of the exact bytes
of manifest.json, base64), ``public-key.pem`` (the key that signed, named in
the manifest by fingerprint) and ``manifest.tsr`` (the RFC 3161 token over
manifest.json; present exactly when the manifest names a TSA). Anything else
in the zip that the manifest does not list was added after signing.
:func:`manifest_bytes` is the one serialisation (sorted keys, two-space
indent, UTF-8): the same manifest always gives the same bytes.
"""

from __future__ import annotations

import json

from pydantic import Field

from tanba.core.schemas.base import Model

FORMAT = "tanba-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public-key.pem"
TIMESTAMP = "manifest.tsr"
SEALS = (MANIFEST, SIGNATURE, PUBLIC_KEY, TIMESTAMP)


class FileEntry(Model):
    """One file of the package: where, its SHA-256 and size, and what it is in plain words."""

    path: str
    sha256: str
    bytes: int
    description: str = ""


class KeyRef(Model):
    """The key that signed the manifest."""

    algorithm: str
    fingerprint: str
    file: str = PUBLIC_KEY


class TimestampRef(Model):
    """The time-stamping authority asked for a token over manifest.json."""

    tsa_url: str
    file: str = TIMESTAMP


class Manifest(Model):
    """What a package holds and who made it, when."""

    format: str = FORMAT
    alert_id: str
    created_at: str
    created_by: str
    software: str
    language: str
    public_key: KeyRef
    timestamp: TimestampRef | None = None
    files: list[FileEntry] = Field(default_factory=list)


def manifest_bytes(manifest: Manifest) -> bytes:
    data = manifest.model_dump(mode="json")
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
