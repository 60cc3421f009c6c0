"""Fixtures of the evidence tests: a fixed signing key, a tiny RFC 3161 TSA on loopback, a demo case.

The TSA is real enough to exercise the client and the verifier: it parses the
TimeStampReq, answers a TimeStampResp whose token is CMS SignedData over a
TSTInfo, signed (ECDSA P-256, SHA-256) with signed attributes and an ESS
signing-certificate-v2, by a TSA certificate (extended key usage timeStamping,
critical) issued by its own root, both included in the token.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import DemoSite, build
from tanba.evidence.signing import SigningKey

TSA_POLICY = "1.3.6.1.4.1.55555.1.1"


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "test key")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class LocalTsa:
    """An RFC 3161 time-stamping authority in memory; :meth:`serve` puts it on loopback HTTP."""

    def __init__(self, *, refuse: bool = False) -> None:
        now = datetime.now(UTC)
        self.refuse = refuse
        self.requests = 0
        self._serial = 0
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_ski = x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key())
        self.root = (
            x509.CertificateBuilder()
            .subject_name(_name("Tanba Test Root"))
            .issuer_name(_name("Tanba Test Root"))
            .public_key(self.root_key.public_key())
            .serial_number(1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(root_ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                critical=False,
            )
            .sign(self.root_key, hashes.SHA256())
        )
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Tanba Test TSA"))
            .issuer_name(self.root.subject)
            .public_key(self.key.public_key())
            .serial_number(2)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                critical=False,
            )
            .sign(self.root_key, hashes.SHA256())
        )

    def respond(self, body: bytes) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq."""
        self.requests += 1
        if self.refuse:
            # A TimeStampResp without a token (asn1crypto's class insists on one, so by hand).
            status = tsp.PKIStatusInfo(
                {"status": "rejection", "status_string": ["policy says no"]}
            ).dump()
            return b"\x30" + bytes([len(status)]) + status
        request = tsp.TimeStampReq.load(body)
        self._serial += 1
        info = {
            "version": "v1",
            "policy": TSA_POLICY,
            "message_imprint": request["message_imprint"],
            "serial_number": self._serial,
            "gen_time": datetime.now(UTC).replace(microsecond=0),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst = tsp.TSTInfo(info)
        tst_der = tst.dump()
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [
                        {
                            "certs": [
                                {
                                    "hash_algorithm": {"algorithm": "sha256"},
                                    "cert_hash": hashlib.sha256(cert_der).digest(),
                                }
                            ]
                        }
                    ],
                },
            ]
        )
        signature = self.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
        asn1_cert = asn1_x509.Certificate.load(cert_der)
        asn1_root = asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": asn1_cert.issuer,
                            "serial_number": asn1_cert.serial_number,
                        }
                    }
                ),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }
        )
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": cms.ParsableOctetString(tst_der),
                },
                "certificates": [asn1_cert, asn1_root],
                "signer_infos": [signer],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return tsp.TimeStampResp(
            {"status": {"status": "granted"}, "time_stamp_token": token}
        ).dump()

    def serve(self) -> _Served:
        return _Served(self)


class _Served:
    """The TSA on http://127.0.0.1:PORT/tsa while the context is open."""

    def __init__(self, tsa: LocalTsa) -> None:
        self.tsa = tsa

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = tsa.respond(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tsa"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> _Served:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def tsa_class() -> type[LocalTsa]:
    """The TSA class itself, for tests that need one that refuses (conftest is not importable)."""
    return LocalTsa


@pytest.fixture(scope="session")
def local_tsa() -> Iterator[_Served]:
    with LocalTsa().serve() as served:
        yield served


# --- a real case on the demo web ----------------------------------------------------------


def tanba(home: Path, *args: str) -> str:
    """Run the real ``tanba`` command; its stdout (asserts exit 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "tanba.app.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "TANBA_CRAWL_DELAY_S": "0"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@dataclass
class DemoCase:
    """A home with real alerts raised by ``tanba run`` on the demo web, still being served."""

    home: Path
    demo: DemoSite
    server: SiteServer

    def resolve(self) -> dict[str, str]:
        return {host: "127.0.0.1" for host in self.demo.sites}

    def url(self, host: str, path: str) -> str:
        return self.server.url(host, path)


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCase]:
    """Works imported, photo-b re-registered with its owner in RU (a cross-border case), run."""
    demo = build()
    home = tmp_path_factory.mktemp("evidence") / "home"
    with SiteServer(demo.sites) as server:
        tanba(home, "works", "import", str(demo.write_manifest(home / "works.csv")))
        photo_b = next(w for w in demo.works if w["work_id"] == "photo-b")
        tanba(
            home, "works", "add", photo_b["path"], "--owner", photo_b["owner"],
            "--title", photo_b["title"], "--work-id", "photo-b", "--owner-home", "RU",
        )  # fmt: skip
        targets = demo.write_targets(home / "targets.yaml", server.port)
        tanba(home, "run", str(targets), *server.resolve_args())
        yield DemoCase(home, demo, server)
