"""Which keys 'tanba evidence verify' trusts: the installation's, the trust store's, the command line's.

Packages here are sealed by hand (manifest, signature, key), as an exporter
would, so that each test controls exactly which key signed; the commands run
through ``tanba.evidence.cli``'s handlers on a temporary home.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanba.core.exceptions import InputError, NotFound
from tanba.evidence import manifest as mf
from tanba.evidence.archive import write_zip, zip_time
from tanba.evidence.signing import ALGORITHM, SigningKey
from tanba.evidence.trust import TrustStore, normalize_fingerprint
from tests.support.evidence import private_pem, run_evidence

OURS = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "ours")
THEIRS = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))), "theirs")
FORGER = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34))), "forger")


def seal(key: SigningKey, notice: str = "Правообладатель: Qazaq Pictures\n") -> bytes:
    """A minimal package signed by ``key``."""
    files = {"notices/notice-to-host.txt": notice.encode(), "case/alert.json": b'{"id": "a1"}\n'}
    manifest = mf.Manifest(
        alert_id="a1", created_at="2026-05-04T10:00:00.000Z", created_by="tests",
        software="tests", language="ru",
        public_key=mf.KeyRef(algorithm=ALGORITHM, fingerprint=key.fingerprint),
        files=[
            mf.FileEntry(path=p, sha256=hashlib.sha256(d).hexdigest(), bytes=len(d))
            for p, d in sorted(files.items())
        ],
    )  # fmt: skip
    body = mf.manifest_bytes(manifest)
    members = {
        **files,
        mf.MANIFEST: body,
        mf.SIGNATURE: base64.b64encode(key.sign(body)) + b"\n",
        mf.PUBLIC_KEY: key.public_pem(),
    }
    return write_zip(members, when=zip_time(datetime(2026, 5, 4, 10, tzinfo=UTC)))


def run(home: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``tanba evidence ARGV`` on ``home``, with no signing key or trust store set but ``env``'s."""
    return run_evidence(
        home, *argv, env={"TANBA_SIGNING_KEY": "", "TANBA_EVIDENCE_TRUST_STORE": "", **(env or {})}
    )


def test_only_known_keys_are_trusted_and_the_store_is_managed_from_the_command_line(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    ours, theirs = tmp_path / "ours.zip", tmp_path / "theirs.zip"
    ours.write_bytes(seal(OURS))
    theirs.write_bytes(seal(THEIRS))
    own = {"TANBA_SIGNING_KEY": private_pem(OURS)}

    status, printed = run(home, "verify", str(ours), env=own)
    assert status == 0 and "trusted as this installation's signing key" in printed

    status, printed = run(home, "verify", str(theirs), env=own)
    assert status == 1 and f"signed by an unknown key {THEIRS.fingerprint}" in printed
    assert f"tanba evidence trust add signer.pem --fingerprint {THEIRS.fingerprint}" in printed
    assert "never from the package itself" in printed

    pem = tmp_path / "theirs.pem"
    pem.write_bytes(THEIRS.public_pem())
    with pytest.raises(InputError, match="not trusted"):
        run(home, "trust", "add", str(pem), "--fingerprint", OURS.fingerprint)  # not the one
    status, printed = run(
        home, "trust", "add", str(pem), "--fingerprint", THEIRS.fingerprint, "--label", "Агентство"
    )
    assert status == 0 and "now trusted" in printed
    assert run(home, "trust", "add", str(pem))[1].count("already trusted") == 1
    listed = json.loads(run(home, "trust", "list", "--json", env=own)[1])
    assert [(k["fingerprint"], k["label"]) for k in listed] == [
        (OURS.fingerprint, ""),
        (THEIRS.fingerprint, "Агентство"),
    ]
    status, printed = run(home, "verify", str(theirs), env=own)
    assert status == 0 and "trust store" in printed and "Агентство" in printed

    assert run(home, "trust", "remove", THEIRS.fingerprint)[0] == 0
    assert run(home, "verify", str(theirs), env=own)[0] == 1
    with pytest.raises(NotFound, match="holds no key"):
        run(home, "trust", "remove", THEIRS.fingerprint)

    # Without an installation key or a store, nothing verifies; the command line can pin one.
    bare = tmp_path / "bare"
    assert run(bare, "verify", str(ours))[0] == 1
    assert run(bare, "verify", str(ours), "--fingerprint", OURS.fingerprint)[0] == 0
    assert not (bare / "keys").exists()  # verifying never makes the installation a key


def test_a_package_resealed_with_a_new_key_fails_whatever_it_carries(tmp_path: Path) -> None:
    genuine = seal(OURS)
    forged = seal(FORGER, notice="Правообладатель: Someone Else\n")  # changed, rehashed, resigned
    (tmp_path / "forged.zip").write_bytes(forged)
    own = {"TANBA_SIGNING_KEY": private_pem(OURS)}
    status, printed = run(tmp_path / "home", "verify", str(tmp_path / "forged.zip"), env=own)
    assert status == 1 and f"signed by an unknown key {FORGER.fingerprint}" in printed
    # Pinning the genuine key's fingerprint refuses it as well; the genuine package passes.
    pinned = ("--fingerprint", OURS.fingerprint)
    assert run(tmp_path, "verify", str(tmp_path / "forged.zip"), *pinned)[0] == 1
    (tmp_path / "genuine.zip").write_bytes(genuine)
    assert run(tmp_path, "verify", str(tmp_path / "genuine.zip"), *pinned)[0] == 0


def test_a_trust_store_file_named_by_the_setting_holds_several_keys(tmp_path: Path) -> None:
    bundle = tmp_path / "agency" / "trusted.pem"
    store = TrustStore(bundle)
    _, new = store.add(OURS.public_pem(), "ours", "Tanba KZ")
    assert new and store.add(OURS.public_pem(), "ours")[1] is False
    store.add(THEIRS.public_pem(), "theirs")
    assert [k.fingerprint for k in store.trusted()] == [OURS.fingerprint, THEIRS.fingerprint]
    assert bundle.read_text().startswith("# Tanba KZ\n-----BEGIN PUBLIC KEY-----")
    store.remove(OURS.fingerprint.removeprefix("SHA256:").upper())  # bare hex is accepted
    assert [k.fingerprint for k in TrustStore(bundle).trusted()] == [THEIRS.fingerprint]

    (tmp_path / "theirs.zip").write_bytes(seal(THEIRS))
    setting = {"TANBA_EVIDENCE_TRUST_STORE": str(bundle)}
    status, printed = run(tmp_path / "home", "verify", str(tmp_path / "theirs.zip"), env=setting)
    assert status == 0 and str(bundle) in printed

    bundle.write_text("not a key\n")
    with pytest.raises(InputError, match=f"trust store file {bundle}"):
        TrustStore(bundle).trusted()
    with pytest.raises(InputError, match="64 hex digits"):
        normalize_fingerprint("SHA256:abc")


def test_a_zip_verified_against_a_given_public_key_file(tmp_path: Path) -> None:
    (tmp_path / "p.zip").write_bytes(seal(THEIRS))
    key = tmp_path / "theirs.pem"
    key.write_bytes(THEIRS.public_pem())
    assert run(tmp_path / "h", "verify", str(tmp_path / "p.zip"), "--public-key", str(key))[0] == 0
    with pytest.raises(InputError, match=r"--public-key .* is key"):
        run(tmp_path / "h", "verify", str(tmp_path / "p.zip"), "--public-key", str(key),
            "--fingerprint", OURS.fingerprint)  # fmt: skip
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        assert z.read(mf.PUBLIC_KEY) == THEIRS.public_pem()
