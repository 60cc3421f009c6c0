"""The installation's Ed25519 signing key, and checking signatures with a public key alone.

Contract: :func:`load_signing_key` takes the private key from ``TANBA_SIGNING_KEY``
(PEM, unencrypted PKCS#8) when it is set; otherwise it uses the installation key
file ``home/keys/evidence-ed25519.pem``, generating it once (directory 0700,
file 0600, created exclusively so two processes cannot both write one) and
logging a warning that says where it is and how to supply a key instead.
A key is named by its fingerprint: ``SHA256:`` and the hex SHA-256 of the raw
32-byte public key. :func:`verify_signature` needs nothing but the public key PEM.

Why Ed25519: deterministic signatures (the same manifest signed twice gives the
same bytes, which keeps exports reproducible), small keys, no parameters to
get wrong.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tanba.evidence.config import SIGNING_KEY_ENV, EvidenceConfig
from tanba.evidence.exceptions import PackageError, SigningKeyError

log = logging.getLogger(__name__)

KEY_FILE = Path("keys") / "evidence-ed25519.pem"
ALGORITHM = "Ed25519"
# What an error about a private key tells its user to do.
_MAKE_A_KEY = "make one with 'openssl genpkey -algorithm ed25519'"


@dataclass(frozen=True)
class SigningKey:
    """A private key, with its public half and fingerprint."""

    private: Ed25519PrivateKey
    source: str  # "TANBA_SIGNING_KEY" or the key file's path, for messages

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def public_pem(self) -> bytes:
        return public_pem(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:<hex>`` of the raw public key: how packages and users name a key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_signing_key(home: Path, config: EvidenceConfig | None = None) -> SigningKey:
    """The key from the environment, else the installation key (generated on first use)."""
    config = config or EvidenceConfig.from_env()
    if config.signing_key_pem:
        return _from_environment(config)
    path = Path(home) / KEY_FILE
    if not path.exists():
        _generate(path)
    return _from_file(path)


def existing_signing_key(home: Path, config: EvidenceConfig) -> SigningKey | None:
    """The key :func:`load_signing_key` would use, or None when there is none yet.

    Never generates a key: a verifier asks what this installation signs with
    without making it start signing.
    """
    if config.signing_key_pem:
        return _from_environment(config)
    path = Path(home) / KEY_FILE
    return _from_file(path) if path.exists() else None


def _from_environment(config: EvidenceConfig) -> SigningKey:
    return SigningKey(_private_from_pem(config.signing_key_pem.encode(), SIGNING_KEY_ENV),
                      SIGNING_KEY_ENV)  # fmt: skip


def _from_file(path: Path) -> SigningKey:
    if path.stat().st_mode & 0o077:
        log.warning("the signing key %s can be read by other users; run: chmod 600 %s", path, path)
    return SigningKey(_private_from_pem(path.read_bytes(), str(path)), str(path))


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process generated it first: use theirs
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    key = _private_from_pem(pem, str(path))
    log.warning(
        "no %s set: generated this installation's evidence signing key at %s (%s). "
        "Back it up and keep it private; packages signed with it verify only against it. "
        "To use your own key, set %s to an Ed25519 private key in PEM.",
        SIGNING_KEY_ENV,
        path,
        fingerprint(key.public_key()),
        SIGNING_KEY_ENV,
    )


def _private_from_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{source} is not an unencrypted PEM private key ({exc}); {_MAKE_A_KEY}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"{source} holds a {type(key).__name__}, not an Ed25519 key; {_MAKE_A_KEY}"
        )
    return key


def load_public_key(pem: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; :class:`PackageError` naming ``source`` otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise PackageError(
            f"{source} is not a PEM public key ({exc}); give public-key.pem from a package, "
            "or the output of 'tanba evidence key'"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise PackageError(f"{source} is a {type(key).__name__}, not an Ed25519 public key")
    return key


def verify_signature(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
