"""Recapture over real HTTPS on loopback: redirects, the TLS chain, WARC records, the address guard."""

from __future__ import annotations

import hashlib
import io
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from warcio.archiveiterator import ArchiveIterator

from tanba.core.alerts import Alert, MatchDetail
from tanba.core.clock import FixedClock
from tanba.core.wiring import App
from tanba.evidence.capture import NoScreenshots, capture, latest_capture
from tanba.evidence.custody import CAPTURE_FAILED, CustodyLog
from tanba.evidence.ids import derived_record_ids

HOST = "secure.example.kz"
MEDIA = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes are bytes"


class _Served:
    def __init__(self, tmp: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(7)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
        self.hosts: list[str] = []

        served = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                served.hosts.append(self.headers.get("Host", ""))
                if self.path == "/old":
                    self._reply(301, b"", {"Location": "/page"})
                elif self.path == "/page":
                    self._reply(200, b"<html><title>t</title><img src=/a.jpg></html>",
                                {"Content-Type": "text/html"})  # fmt: skip
                elif self.path == "/a.jpg":
                    self._reply(200, MEDIA, {"Content-Type": "image/jpeg"})
                else:
                    self._reply(404, b"no", {})

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return "Sun, 01 Mar 2026 12:00:00 GMT"  # the same answer every time

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[_Served]:
    served = _Served(tmp_path)
    yield served
    served.close()


def _alert(page: str, media: str) -> Alert:
    return Alert(
        id="case-1", work_id="w", owner="o", media="image", score=1.0,
        match=MatchDetail(algorithm="phash64", distance=0), page_url=page, media_url=media,
        media_sha256=hashlib.sha256(MEDIA).hexdigest(), site=HOST, jurisdiction="KZ",
        first_seen="2026-03-01T00:00:00.000Z", last_seen="2026-03-01T00:00:00.000Z",
    )  # fmt: skip


def test_https_capture_records_redirects_tls_chain_and_warc(app: App, site: _Served) -> None:
    base = f"https://{HOST}:{site.port}"
    alert = _alert(f"{base}/old", f"{base}/a.jpg")
    result = capture(
        app, alert, actor="agent-7", resolve={HOST: "127.0.0.1"},
        screenshotter=NoScreenshots("off in this test"),
    )  # fmt: skip
    record = result.record
    assert [(e.url.removeprefix(base), e.status) for e in record.exchanges] == [
        ("/old", 301),
        ("/page", 200),
        ("/a.jpg", 200),
    ]
    assert record.captured_at == "2026-03-01T12:00:00.000Z" and record.actor == "agent-7"
    assert record.media_unchanged and record.media_sha256 == alert.media_sha256
    assert record.screenshot_note == "off in this test" and not record.screenshot_sha256
    tls = record.exchanges[1].tls
    assert tls is not None and tls.version.startswith("TLS")
    assert not tls.verified and "self" in tls.verify_error.lower()
    assert [c.sha256 for c in tls.chain] == [hashlib.sha256(site.cert_der).hexdigest()]
    assert tls.chain[0].subject == f"CN={HOST}"
    assert site.hosts and all(h == f"{HOST}:{site.port}" for h in site.hosts)  # the name

    warc = app.blobs.get(record.warc_sha256)
    records = [
        (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-IP-Address"))
        for r in ArchiveIterator(io.BytesIO(warc))
    ]  # fmt: skip
    assert [r[0] for r in records] == ["warcinfo"] + ["request", "response", "metadata"] * 3
    assert all(ip == "127.0.0.1" for kind, _, ip in records if kind in ("request", "response"))
    for r in ArchiveIterator(io.BytesIO(warc)):
        if r.rec_type == "response" and r.rec_headers.get_header("WARC-Target-URI").endswith(
            "a.jpg"
        ):
            assert r.content_stream().read() == MEDIA
        if r.rec_type == "metadata":
            assert b"tls-verified: no" in r.content_stream().read()
    assert latest_capture(app, alert.id) == result
    assert app.blobs.get(result.sha256)  # the record itself is content-addressed


def test_the_same_exchanges_at_the_same_time_give_the_same_warc_bytes(
    app: App, site: _Served
) -> None:
    base = f"https://{HOST}:{site.port}"
    alert = _alert(f"{base}/page", f"{base}/a.jpg")
    runs = [
        capture(
            app,
            alert,
            actor="a",
            resolve={HOST: "127.0.0.1"},
            screenshotter=NoScreenshots(),
            record_ids=derived_record_ids("seed"),
        )
        for _ in range(2)
    ]
    assert runs[0].record.warc_sha256 == runs[1].record.warc_sha256
    assert runs[0].sha256 == runs[1].sha256


def test_unmapped_private_addresses_are_refused_and_logged(app: App, clock: FixedClock) -> None:
    alert = _alert("http://127.0.0.1:9/page", "http://127.0.0.1:9/a.jpg")
    result = capture(app, alert, actor="a", screenshotter=NoScreenshots())
    exchanges = result.record.exchanges
    assert [e.url for e in exchanges] == [alert.page_url, alert.media_url]
    assert all("non-public address 127.0.0.1" in e.error for e in exchanges)
    assert len(result.record.problems) == 2
    events = CustodyLog(app.bus, clock).events(alert.id)
    assert [e.action for e in events] == [CAPTURE_FAILED]
    assert latest_capture(app, alert.id) is None
