"""Recapture an alert's page and media as evidence: WARC, server address, TLS chain, screenshot.

Contract: :func:`capture` fetches the alert's page and then its media URL again
(following up to ``MAX_REDIRECTS`` redirects each), and records:

- every HTTP exchange as WARC/1.1 ``request`` and ``response`` records (bodies
  exactly as sent: ``Accept-Encoding: identity`` is asked for, and only the
  framing headers ``Transfer-Encoding``/``Content-Length`` are rewritten to
  describe the recorded bytes), with ``WARC-IP-Address``;
- for https, the certificate chain the server presented, whether it verified
  against the system's trust store and why not; for http, that there was none;
- the capture time from the injected clock;
- a full-page screenshot from a :class:`Screenshotter` (headless Chromium by
  default), kept as a WARC ``resource`` record ``urn:screenshot:<page url>``
  too, so replay tools show it beside the page.

The WARC file, the screenshot, each payload and the :class:`CaptureRecord`
(JSON) go into the blob store, so identical bytes are stored once; the
record's SHA-256 is logged on the custody topic (action ``captured``), which is
how :func:`latest_capture` finds it again. A failure to fetch is a result, not
an exception: it is written into the record's ``problems`` (and the custody
log), because "the page is gone" is evidence as well.

Name resolution honours a ``--resolve`` map (host → address), as the crawler
does. Addresses outside the map must be public (:func:`tanba.core.net.is_public_address`, as for the crawler), so a
hostile page cannot redirect the capture, or Chromium's subresource loads, to
the internal network.

Determinism: WARC-Date comes from the clock and record ids from ``record_ids``
(by default derived from the alert id and the capture time), and gzip members
carry no timestamp, so the same exchanges give the same WARC bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import Field
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from tanba.core.alerts import Alert
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import NotFound
from tanba.core.net import is_public_address
from tanba.core.schemas.base import Model
from tanba.core.wiring import App
from tanba.evidence.custody import CAPTURE_FAILED, CAPTURED, CustodyLog
from tanba.evidence.ids import derived_record_ids

log = logging.getLogger(__name__)

FORMAT = "tanba-capture/1"
SOFTWARE = "Tanba evidence capture"
MAX_REDIRECTS = 5
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1280, 900
SCREENSHOT_URI = "urn:screenshot:"
# _ssl.ENCODING_DER (2): not in ssl's public namespace on 3.11.
_ENCODING_DER: int = getattr(ssl, "ENCODING_DER", 2)
# Why a fetch got no response, as stable codes (Exchange.error_kind); reports word them.
ERROR_KINDS = (
    "dns", "private_address", "refused", "timeout", "connection", "tls", "protocol",
    "redirects", "scheme",
)  # fmt: skip
SCREENSHOT_STATES = ("taken", "unavailable", "failed")
# Headers that describe the transfer, not the content; rewritten to match the recorded body.
_FRAMING = {"transfer-encoding", "content-length"}


class Certificate(Model):
    """One certificate of a TLS chain, as presented by the server (leaf first)."""

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sha256: str  # of the DER encoding
    pem: str


class TlsSession(Model):
    """What a TLS handshake showed: protocol, cipher, chain, and whether the chain verified."""

    version: str
    cipher: str
    verified: bool
    verify_error: str = ""
    chain: list[Certificate] = Field(default_factory=list)


class Exchange(Model):
    """One HTTP request and its response, as recorded in the capture's WARC file."""

    url: str
    status: int = 0
    reason: str = ""
    content_type: str = ""
    payload_sha256: str = ""  # of the body, in the blob store
    payload_bytes: int = 0
    truncated: bool = False  # the body exceeded the size cap and was cut there
    server_ip: str = ""
    server_port: int = 0
    tls: TlsSession | None = None
    tls_note: str = ""  # for http: that no TLS was used
    location: str = ""  # the redirect target, for 3xx
    error: str = ""  # why no response was recorded
    error_kind: str = ""  # the same as a stable code, one of ERROR_KINDS, for reports to word


class CaptureRecord(Model):
    """The typed summary of one evidence capture; its bytes sit in the blob store by SHA-256."""

    format: str = FORMAT
    alert_id: str
    page_url: str
    media_url: str
    captured_at: str
    actor: str
    user_agent: str
    software: str = SOFTWARE
    exchanges: list[Exchange]
    page_sha256: str = ""  # final page body after redirects ("" when not fetched)
    media_sha256: str = ""  # final media body after redirects
    media_unchanged: bool = False  # the media bytes are those the alert was raised on
    warc_sha256: str
    warc_bytes: int
    screenshot_sha256: str = ""
    screenshot_note: str = ""
    screenshot_state: str = ""  # taken, unavailable or failed ("" in records made before it)
    problems: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Capture:
    """A capture record and the SHA-256 of its JSON in the blob store."""

    record: CaptureRecord
    sha256: str


class Screenshotter(Protocol):
    """Takes a full-page PNG of a URL; raises on failure with a message saying why."""

    def available(self) -> str:
        """ "" when ready, else the reason no screenshot can be taken (e.g. not installed)."""
        ...

    def shoot(self, url: str, resolve: Mapping[str, str], timeout_s: float) -> bytes: ...


class NoScreenshots:
    """The screenshotter of installations without a browser: never takes one, and says so."""

    def __init__(self, reason: str = "screenshots are turned off for this capture") -> None:
        self.reason = reason

    def available(self) -> str:
        return self.reason

    def shoot(self, url: str, resolve: Mapping[str, str], timeout_s: float) -> bytes:
        raise RuntimeError(self.reason)


class ChromiumScreenshotter:
    """Headless Debian Chromium driven by Playwright; never downloads a browser."""

    def __init__(self, executable: Path = CHROMIUM) -> None:
        self.executable = executable

    def available(self) -> str:
        if not self.executable.exists():
            return (
                f"Chromium is not installed at {self.executable} (apt-get install chromium);"
                " no screenshot was taken"
            )
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "the playwright Python package is not installed; no screenshot was taken"
        return ""

    def shoot(self, url: str, resolve: Mapping[str, str], timeout_s: float) -> bytes:
        from playwright.sync_api import Route, sync_playwright

        args = list(CHROMIUM_ARGS)
        if resolve:
            rules = ", ".join(f"MAP {host} {address}" for host, address in sorted(resolve.items()))
            args.append(f"--host-resolver-rules={rules}")

        def guard(route: Route) -> None:
            why = _refusal(route.request.url, resolve)
            if why:
                log.warning("screenshot of %s: blocked %s (%s)", url, route.request.url, why)
                route.abort("addressunreachable")
            else:
                route.continue_()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(self.executable), args=args)
            try:
                context = browser.new_context(
                    viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT},
                    ignore_https_errors=True,
                )
                page = context.new_page()
                page.route("**/*", guard)
                page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                return page.screenshot(full_page=True, type="png")
            finally:
                browser.close()


def capture(
    app: App,
    alert: Alert,
    *,
    actor: str,
    resolve: Mapping[str, str] | None = None,
    screenshotter: Screenshotter | None = None,
    record_ids: Callable[[], str] | None = None,
    custody: CustodyLog | None = None,
) -> Capture:
    """Fetch the alert's page and media again and store the evidence (see the module doc)."""
    resolve = {k.lower(): v for k, v in (resolve or {}).items()}
    shooter = screenshotter or ChromiumScreenshotter()
    custody = custody or CustodyLog(app.bus, app.clock)
    settings = app.settings
    captured_at = iso(app.clock.now())
    ids = record_ids or derived_record_ids(f"{alert.id}/{captured_at}")
    fetcher = _Fetcher(resolve, settings.fetch_timeout_s, settings.user_agent)
    buffer = io.BytesIO()
    writer = _Writer(buffer, app.clock, ids)
    writer.write_record(
        writer.create_warcinfo_record(
            f"evidence-{alert.id}.warc.gz",
            {
                "software": SOFTWARE,
                "format": "WARC File Format 1.1",
                "description": f"Evidence capture of Tanba alert {alert.id}",
                "isPartOf": alert.id,
            },
        )
    )
    problems: list[str] = []
    exchanges: list[Exchange] = []
    finals: dict[str, Exchange | None] = {}
    for role, url, cap in (
        ("page", alert.page_url, settings.page_max_bytes),
        ("media", alert.media_url, settings.media_max_bytes),
    ):
        chain = fetcher.follow(url, cap, writer)
        exchanges += chain
        last = chain[-1]
        if last.error:
            problems.append(f"the {role} {url} could not be fetched: {last.error}")
            finals[role] = None
        else:
            if last.status >= 400:
                problems.append(f"the {role} {url} answered HTTP {last.status} {last.reason}")
            if last.truncated:
                problems.append(f"the {role} body was cut at {cap} bytes (size cap)")
            finals[role] = last
    for exchange in exchanges:
        if exchange.payload_sha256:
            app.blobs.put(fetcher.bodies[exchange.payload_sha256])

    screenshot_sha = ""
    note = shooter.available()
    state = "unavailable" if note else "taken"
    if not note:
        try:
            png = shooter.shoot(alert.page_url, resolve, settings.fetch_timeout_s)
            screenshot_sha = app.blobs.put(png)
            writer.write_record(
                writer.create_warc_record(
                    SCREENSHOT_URI + alert.page_url,
                    "resource",
                    payload=io.BytesIO(png),
                    length=len(png),
                    warc_content_type="image/png",
                )
            )
            note = "full-page screenshot, headless Chromium, viewport 1280x900"
        except Exception as exc:  # the browser's errors are many and all mean "no screenshot"
            note = f"the screenshot failed: {str(exc).splitlines()[0][:300]}"
            state = "failed"
            problems.append(note)
    warc = buffer.getvalue()
    page, media = finals["page"], finals["media"]
    unchanged = bool(media and media.payload_sha256 == alert.media_sha256)
    if media is not None and not unchanged:
        problems.append("the media URL now serves different bytes than when the alert was raised")
    record = CaptureRecord(
        alert_id=alert.id,
        page_url=alert.page_url,
        media_url=alert.media_url,
        captured_at=captured_at,
        actor=actor,
        user_agent=settings.user_agent,
        exchanges=exchanges,
        page_sha256=page.payload_sha256 if page else "",
        media_sha256=media.payload_sha256 if media else "",
        media_unchanged=unchanged,
        warc_sha256=app.blobs.put(warc),
        warc_bytes=len(warc),
        screenshot_sha256=screenshot_sha,
        screenshot_note=note,
        screenshot_state=state,
        problems=problems,
    )
    sha = app.blobs.put(canonical(record))
    if page is None and media is None:
        custody.record(alert.id, actor, CAPTURE_FAILED, "; ".join(problems), subject=sha)
    else:
        summary = (
            f"page HTTP {page.status if page else '-'}, media HTTP {media.status if media else '-'}"
            f", screenshot {'yes' if screenshot_sha else 'no'}"
        )
        custody.record(alert.id, actor, CAPTURED, summary, subject=sha)
    return Capture(record, sha)


def latest_capture(app: App, alert_id: str, custody: CustodyLog | None = None) -> Capture | None:
    """The most recent capture of the alert that fetched anything, or None."""
    custody = custody or CustodyLog(app.bus, app.clock)
    for event in reversed(custody.events(alert_id)):
        if event.action == CAPTURED and event.subject:
            try:
                raw = app.blobs.get(event.subject)
            except NotFound:
                continue  # a blob store restored without it: look further back
            return Capture(CaptureRecord.model_validate_json(raw), event.subject)
    return None


def canonical(record: Model) -> bytes:
    """The record as sorted, indented UTF-8 JSON: the same record always gives the same bytes."""
    import json

    data = record.model_dump(mode="json")
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


# --- fetching ------------------------------------------------------------------------------


class _Writer(WARCWriter):
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


def _refusal(url: str, resolve: Mapping[str, str]) -> str:
    """Why ``url`` may not be fetched ("" when it may): mapped hosts are the operator's choice."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "" if parts.scheme in ("data", "blob", "about") else f"scheme {parts.scheme!r}"
    host = (parts.hostname or "").rstrip(".").lower()
    if host in resolve:
        return ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"{host} does not resolve ({exc})"
    for info in infos:
        address = str(info[4][0]).split("%")[0]
        if not is_public_address(address):
            return f"{host} resolves to non-public address {address}"
    return ""


class _Fetcher:
    """Plain HTTP(S)/1.1 GETs with the resolve map, the address guard and a size cap."""

    def __init__(self, resolve: Mapping[str, str], timeout_s: float, user_agent: str) -> None:
        self.resolve = resolve
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self.bodies: dict[str, bytes] = {}

    def follow(self, url: str, max_bytes: int, writer: _Writer) -> list[Exchange]:
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

    def fetch(self, url: str, max_bytes: int, writer: _Writer) -> Exchange:
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


def _tls_metadata(writer: _Writer, url: str, tls: TlsSession | None, response: Any) -> Any:
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
