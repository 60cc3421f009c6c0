"""Fetch a URL again for evidence, writing every HTTP exchange and its TLS session into a WARC file.

Contract: :class:`Fetcher` makes plain HTTP(S)/1.1 GETs (``Accept-Encoding:
identity``), follows up to ``MAX_REDIRECTS`` redirects, honours the
``--resolve`` map and refuses hosts outside it that resolve to a non-public
address (:func:`tanba.core.net.is_public_address`), cuts bodies at a size cap,
and returns one :class:`~tanba.evidence.capturerecord.Exchange` per request; a
failure is an exchange with ``error`` and ``error_kind`` set, not an exception.
Each exchange goes to the :class:`WarcWriter` as WARC/1.1 ``request`` and
``response`` records (bodies exactly as sent; only the framing headers are
rewritten to describe the recorded bytes) with ``WARC-IP-Address``, and a
``metadata`` record describing the TLS session: for https the chain the server
presented and whether it verified against the system's trust store (an invalid
certificate does not stop the fetch: what was presented is the evidence).

Determinism: :class:`WarcWriter` takes WARC-Date from the injected clock and
record ids from an injected generator, and its gzip members carry no
timestamp, so the same exchanges give the same WARC bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from tanba.core.clock import Clock, iso
from tanba.core.net import is_public_address
from tanba.evidence.capturerecord import Certificate, Exchange, TlsSession

MAX_REDIRECTS = 5
# _ssl.ENCODING_DER (2): not in ssl's public namespace on 3.11.
_ENCODING_DER: int = getattr(ssl, "ENCODING_DER", 2)
# Headers that describe the transfer, not the content; rewritten to match the recorded body.
_FRAMING = {"transfer-encoding", "content-length"}


class WarcWriter(WARCWriter):
    """warcio's writer with the clock and the id generator injected (WARC/1.1, gzip per record)."""

    def __init__(self, out: IO[bytes], clock: Clock, record_ids: Callable[[], str]) -> None:
        super().__init__(out, gzip=True, warc_version="1.1")
        self._clock = clock
        self._record_ids = record_ids

    def _make_warc_id(self) -> str:  # type: ignore[override]
        return self._record_ids()

    def curr_warc_date(self) -> str:
        moment = self._clock.now().replace(tzinfo=None)
        return str(datetime_to_iso_date(moment, use_micros=True))


class Fetcher:
    """Plain HTTP(S)/1.1 GETs with the resolve map, the address guard and a size cap."""

    def __init__(self, resolve: Mapping[str, str], timeout_s: float, user_agent: str) -> None:
        self.resolve = resolve
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self.bodies: dict[str, bytes] = {}

    def follow(self, url: str, max_bytes: int, writer: WarcWriter) -> list[Exchange]:
        """Fetch ``url`` and its redirects; every exchange is written to ``writer``."""
        chain: list[Exchange] = []
        seen = set()
        while True:
            exchange = self.fetch(url, max_bytes, writer)
            chain.append(exchange)
            seen.add(url)
            if not (300 <= exchange.status < 400 and exchange.location):
                return chain
            url = urljoin(url, exchange.location)
            if len(chain) > MAX_REDIRECTS or url in seen:
                chain.append(
                    Exchange(
                        url=url,
                        error=f"more than {MAX_REDIRECTS} redirects",
                        error_kind="redirects",
                    )
                )
                return chain

    def fetch(self, url: str, max_bytes: int, writer: WarcWriter) -> Exchange:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Exchange(
                url=url, error="only http and https URLs can be captured", error_kind="scheme"
            )
        host = parts.hostname.rstrip(".").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = self.resolve.get(host) or _first_address(host, port)
        except OSError as exc:
            return Exchange(url=url, error=f"{host} does not resolve: {exc}", error_kind="dns")
        if host not in self.resolve and not is_public_address(address):
            return Exchange(
                url=url,
                error=f"{host} resolves to non-public address {address}; refused "
                "(map it with --resolve if this is intended)",
                error_kind="private_address",
            )
        netloc = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = [
            ("Host", netloc),
            ("User-Agent", self.user_agent),
            ("Accept", "*/*"),
            ("Accept-Encoding", "identity"),
            ("Connection", "close"),
        ]
        tls: TlsSession | None = None
        try:
            sock = socket.create_connection((address, port), timeout=self.timeout_s)
            peer = sock.getpeername()
            if parts.scheme == "https":
                sock, tls = _tls_connect(sock, host, address, port, self.timeout_s)
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
            conn.sock = sock  # already connected (to the mapped address): send() skips connect()
            try:
                conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders()
                response = conn.getresponse()
                body = response.read(max_bytes + 1)
                truncated = len(body) > max_bytes
                body = body[:max_bytes]
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            return Exchange(
                url=url, error=f"{type(exc).__name__}: {exc}", error_kind=_error_kind(exc)
            )
        sha = hashlib.sha256(body).hexdigest()
        self.bodies[sha] = body
        protocol = "HTTP/1.0" if response.version == 10 else "HTTP/1.1"
        response_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _FRAMING]
        response_headers.append(("Content-Length", str(len(body))))
        ip = str(peer[0])
        extra = {"WARC-IP-Address": ip}
        request_record = writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True),
            warc_headers_dict=dict(extra),
        )
        response_record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(
                f"{response.status} {response.reason}".strip(), response_headers, protocol=protocol
            ),
            warc_headers_dict={
                **extra,
                "WARC-Concurrent-To": request_record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        writer.write_record(request_record)
        writer.write_record(response_record)
        writer.write_record(_tls_metadata(writer, url, tls, response_record))
        return Exchange(
            url=url,
            status=response.status,
            reason=response.reason,
            content_type=response.getheader("Content-Type", ""),
            payload_sha256=sha,
            payload_bytes=len(body),
            truncated=truncated,
            server_ip=ip,
            server_port=int(peer[1]),
            tls=tls,
            tls_note="" if tls else "plain http: no TLS, no certificate",
            location=response.getheader("Location", "") if 300 <= response.status < 400 else "",
        )


def _error_kind(exc: Exception) -> str:
    """The ERROR_KINDS code of an exception raised while connecting or talking HTTP."""
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, http.client.HTTPException):
        return "protocol"
    if isinstance(exc, socket.gaierror):
        return "dns"
    return "connection"


def _first_address(host: str, port: int) -> str:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError("no address")
    return str(infos[0][4][0]).split("%")[0]


def _tls_connect(
    sock: socket.socket, host: str, address: str, port: int, timeout_s: float
) -> tuple[ssl.SSLSocket, TlsSession]:
    """Handshake, verifying against the system trust store; on failure, again without verifying.

    An invalid certificate does not stop the capture: what the server presented is
    the evidence, and whether it verified (and why not) is recorded beside it.
    """
    try:
        wrapped = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        return wrapped, _session(wrapped, verified=True, error="")
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or str(exc)
        sock.close()
    sock = socket.create_connection((address, port), timeout=timeout_s)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    wrapped = context.wrap_socket(sock, server_hostname=host)
    return wrapped, _session(wrapped, verified=False, error=error)


def _session(sock: ssl.SSLSocket, *, verified: bool, error: str) -> TlsSession:
    cipher = sock.cipher()
    return TlsSession(
        version=sock.version() or "",
        cipher=cipher[0] if cipher else "",
        verified=verified,
        verify_error=error,
        chain=[_certificate(der) for der in _chain_der(sock)],
    )


def _chain_der(sock: ssl.SSLSocket) -> list[bytes]:
    """The chain as the server sent it, leaf first (Python 3.13 makes this public API)."""
    sslobj: Any = getattr(sock, "_sslobj", None)
    getter = getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        return [cert.public_bytes(_ENCODING_DER) for cert in getter() or []]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _certificate(der: bytes) -> Certificate:
    cert = x509.load_der_x509_certificate(der)
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=iso(cert.not_valid_before_utc),
        not_after=iso(cert.not_valid_after_utc),
        sha256=hashlib.sha256(der).hexdigest(),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
    )


def _tls_metadata(writer: WarcWriter, url: str, tls: TlsSession | None, response: Any) -> Any:
    """A WARC metadata record (warc-fields, so replay indexes skip it) describing the TLS session."""
    if tls is None:
        lines = ["tls: none (plain http)"]
    else:
        lines = [
            f"tls-version: {tls.version}",
            f"tls-cipher: {tls.cipher}",
            f"tls-verified: {'yes' if tls.verified else 'no'}",
        ]
        if tls.verify_error:
            lines.append(f"tls-verify-error: {tls.verify_error}")
        for cert in tls.chain:
            lines.append(f"tls-certificate: sha256={cert.sha256} subject={cert.subject}")
    payload = ("\r\n".join(lines) + "\r\n").encode()
    return writer.create_warc_record(
        url,
        "metadata",
        payload=io.BytesIO(payload),
        length=len(payload),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
        },
    )
