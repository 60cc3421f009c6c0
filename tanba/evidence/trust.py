"""Which signing keys a verifier trusts: this installation's own, and the agency's trust store.

Contract: a :class:`TrustedKey` is a key fingerprint with where the trust comes
from (``origin``, for messages) and, when known, the public key itself; a key
known by its fingerprint alone (``tanba evidence verify --fingerprint``) pins
the key a package carries, since the fingerprint is the key's SHA-256.
:func:`installation_key` is this installation's signing key (from
``TANBA_SIGNING_KEY`` or the key file), never generating one.
:class:`TrustStore` keeps the keys an agency has checked out of band: a
directory of ``.pem`` files (by default ``home/keys/trusted/``) or one ``.pem``
file (``TANBA_EVIDENCE_TRUST_STORE``), each file holding one or more PEM public
keys, each optionally preceded by ``# label`` lines. :meth:`TrustStore.add`
and :meth:`TrustStore.remove` rewrite files atomically; adding a key already
trusted changes nothing.

Why a trust store: a package carries its own public key, so a package that
verifies against it proves only that *someone* sealed it. Forging one takes a
new key pair; what cannot be forged is a key the verifier knew beforehand.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tanba.core.exceptions import InputError, NotFound
from tanba.evidence.config import EvidenceConfig
from tanba.evidence.exceptions import PackageError
from tanba.evidence.signing import existing_signing_key, fingerprint, load_public_key, public_pem

TRUST_DIR = Path("keys") / "trusted"
INSTALLATION = "this installation's signing key"
_BLOCK = re.compile(
    r"((?:^#[^\n]*\n)*)(-----BEGIN PUBLIC KEY-----\n.*?\n-----END PUBLIC KEY-----\n?)",
    re.S | re.M,
)
_FINGERPRINT = re.compile(r"^(?:SHA256:)?([0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class TrustedKey:
    """A key the verifier trusts: its fingerprint, why it is trusted, and the key when known."""

    fingerprint: str
    origin: str
    key: Ed25519PublicKey | None = None
    label: str = ""


def normalize_fingerprint(text: str) -> str:
    """``SHA256:<lower hex>`` from that form or bare hex; InputError for anything else."""
    found = _FINGERPRINT.match(text.strip())
    if found is None:
        raise InputError(
            f"{text!r} is not a key fingerprint; give it as printed by 'tanba evidence key' "
            "or 'tanba evidence trust list' (SHA256: and 64 hex digits)"
        )
    return "SHA256:" + found.group(1).lower()


def installation_key(home: Path, config: EvidenceConfig) -> TrustedKey | None:
    """This installation's signing key, or None when it has none yet (never generates one)."""
    own = existing_signing_key(home, config)
    if own is None:
        return None
    return TrustedKey(own.fingerprint, f"{INSTALLATION} ({own.source})", own.public)


def store_location(home: Path, config: EvidenceConfig) -> Path:
    """Where the trust store is: the setting, else ``home/keys/trusted/``."""
    return config.trust_store if config.trust_store is not None else Path(home) / TRUST_DIR


class TrustStore:
    """The agency's trusted keys at ``location`` (a directory, or a file ending in .pem)."""

    def __init__(self, location: Path) -> None:
        self.location = location

    @property
    def is_file(self) -> bool:
        return self.location.is_file() or (
            not self.location.exists() and self.location.suffix == ".pem"
        )

    def files(self) -> list[Path]:
        if self.is_file:
            return [self.location] if self.location.exists() else []
        if not self.location.is_dir():
            return []
        return sorted(self.location.glob("*.pem"))

    def trusted(self) -> list[TrustedKey]:
        """Every trusted key, in file order; a file that is not PEM keys is an InputError."""
        found: dict[str, TrustedKey] = {}
        for path in self.files():
            for label, block in _blocks(path):
                try:
                    key = load_public_key(block.encode(), str(path))
                except PackageError as exc:
                    raise InputError(
                        f"the trust store file {path} holds something that is not an Ed25519 "
                        f"public key ({exc}); remove it or fix the file"
                    ) from None
                fp = fingerprint(key)
                origin = f"trust store {path}" + (f" ({label})" if label else "")
                found.setdefault(fp, TrustedKey(fp, origin, key, label))
        return list(found.values())

    def add(self, pem: bytes, source: str, label: str = "") -> tuple[TrustedKey, bool]:
        """Trust the key in ``pem``; (the key, True if it was new)."""
        key = load_public_key(pem, source)
        fp = fingerprint(key)
        for known in self.trusted():
            if known.fingerprint == fp:
                return known, False
        label = " ".join(label.split())
        block = (f"# {label}\n" if label else "") + public_pem(key).decode()
        if self.is_file:
            existing = self.location.read_text("utf-8") if self.location.exists() else ""
            if existing and not existing.endswith("\n"):
                existing += "\n"
            _write(self.location, existing + block)
            path = self.location
        else:
            path = self.location / f"{fp.removeprefix('SHA256:')}.pem"
            _write(path, block)
        origin = f"trust store {path}" + (f" ({label})" if label else "")
        return TrustedKey(fp, origin, key, label), True

    def remove(self, fingerprint_text: str) -> TrustedKey:
        """Stop trusting the key with this fingerprint; NotFound if the store does not hold it."""
        wanted = normalize_fingerprint(fingerprint_text)
        removed: TrustedKey | None = None
        for path in self.files():
            kept = []
            for label, block in _blocks(path):
                key = load_public_key(block.encode(), str(path))
                if fingerprint(key) == wanted:
                    removed = removed or TrustedKey(wanted, f"trust store {path}", key, label)
                    continue
                kept.append((f"# {label}\n" if label else "") + block)
            if len(kept) == len(_blocks(path)):
                continue
            if kept or self.is_file:
                _write(path, "".join(kept))
            else:
                path.unlink()
        if removed is None:
            raise NotFound(
                f"the trust store {self.location} holds no key {wanted}; "
                "see 'tanba evidence trust list'"
            )
        return removed


def _blocks(path: Path) -> list[tuple[str, str]]:
    """(label, PEM block) of every public key in the file; the label joins its # lines."""
    text = path.read_text("utf-8").replace("\r\n", "\n")
    blocks = []
    for comments, block in _BLOCK.findall(text):
        label = " ".join(line[1:].strip() for line in comments.splitlines())
        blocks.append((label, block if block.endswith("\n") else block + "\n"))
    if not blocks and text.strip():
        raise InputError(
            f"the trust store file {path} holds no PEM public key; remove it or fix the file"
        )
    return blocks


def _write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-trust-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
