"""The record of an evidence recapture: its typed model and the canonical JSON it is kept as.

Contract: a :class:`CaptureRecord` lists every HTTP :class:`Exchange` of a
recapture (with its TLS session and certificates), the SHA-256 of the page,
the media, the WARC file and the screenshot in the blob store, and the problems
met; :func:`canonical` turns it into the bytes that are stored and exported
(``capture/capture.json``), the same bytes for the same record. Reports, notices
and package texts read these models; :mod:`tanba.evidence.capture` makes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import Field

from tanba.core.schemas.base import Model

FORMAT = "tanba-capture/1"
SOFTWARE = "Tanba evidence capture"
# Why a fetch got no response, as stable codes (Exchange.error_kind); reports word them.
ERROR_KINDS = (
    "dns", "private_address", "refused", "timeout", "connection", "tls", "protocol",
    "redirects", "scheme",
)  # fmt: skip
SCREENSHOT_STATES = ("taken", "unavailable", "failed")


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


def canonical(record: Model) -> bytes:
    """The record as sorted, indented UTF-8 JSON: the same record always gives the same bytes."""
    data = record.model_dump(mode="json")
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
