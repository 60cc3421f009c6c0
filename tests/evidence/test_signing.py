"""The installation's signing key: from the environment, or generated once with mode 0600."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanba.evidence.config import EvidenceConfig
from tanba.evidence.exceptions import SigningKeyError
from tanba.evidence.signing import KEY_FILE, fingerprint, load_signing_key, verify_signature


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_an_installation_key_is_generated_once_private_and_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tanba.evidence.signing"):
        first = load_signing_key(tmp_path, EvidenceConfig())
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "TANBA_SIGNING_KEY" in caplog.text and str(path) in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tanba.evidence.signing"):
        again = load_signing_key(tmp_path, EvidenceConfig())
    assert again.fingerprint == first.fingerprint and caplog.text == ""
    signature = again.sign(b"data")
    assert verify_signature(first.public, signature, b"data")
    assert not verify_signature(first.public, signature, b"date")


def test_the_environment_key_wins_and_bad_keys_say_what_to_do(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    flattened = _pem(key).replace("\n", "\\n")  # as some secret stores hand it over
    loaded = load_signing_key(tmp_path, EvidenceConfig.from_env({"TANBA_SIGNING_KEY": flattened}))
    assert loaded.fingerprint == fingerprint(key.public_key())
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(SigningKeyError, match="openssl genpkey -algorithm ed25519"):
        load_signing_key(tmp_path, EvidenceConfig(signing_key_pem="not a key"))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        load_signing_key(tmp_path, EvidenceConfig(signing_key_pem=_pem(rsa_key)))
