"""What the evidence documents say, derived from what the package holds, in the reader's language.

Contract: each function takes facts (a capture record, the package's member
paths, a custody entry, a signal, a match) and a language, and returns phrases
of :mod:`tanba.evidence.strings` only: no code, status name or error text of Tanba's
own reaches a reader untranslated (names, addresses, hashes and people's
comments are data and are shown as they are). Nothing is stated that the facts
do not show: a recapture that fetched nothing is a failed one with its reason;
a screenshot, a timestamp or a file is named only when the package holds it.
The report (:mod:`tanba.evidence.report`) and the notices (:mod:`tanba.evidence.notices`)
both word the case through here, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tanba.core.access import SYSTEM
from tanba.core.alerts import Alert, Signal
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.signals.image import FULL
from tanba.core.signals.image_detail import window_geometry
from tanba.evidence.capturerecord import CaptureRecord, Exchange
from tanba.evidence.custody import (
    CAPTURE_FAILED,
    CAPTURED,
    EXPORTED,
    NOTE,
    STATUS_CHANGED,
    CustodyEntry,
)
from tanba.evidence.dates import local
from tanba.evidence.strings import has, localized, text

# What a package may hold, in the order a letter lists it: (item, member path or prefix).
_ITEMS = (
    ("web_archive", "web-archive.wacz"),
    ("screenshot", "capture/screenshot.png"),
    ("capture_record", "capture/capture.json"),
    ("tls_chain", "capture/tls-chain.pem"),
    ("found_file", "found/"),
    ("reference", "work/reference."),
    ("reference_hash", "work/reference-withheld.json"),
    ("match_report", "match/report.json"),
    ("match_picture", "match/overlay.png"),
    ("match_picture", "match/alignment.png"),
    ("custody_log", "case/custody-log.json"),
    ("report", "report.pdf"),
    ("manifest", "manifest.json"),
    ("timestamp", "manifest.tsr"),
)
_MIRROR = "-mirror"


@dataclass(frozen=True)
class Recapture:
    """What the recapture in a package showed (the notices' ``recapture`` variable).

    ``state``: "none" (no recapture in the package), "ok" (the page or the file
    answered) or "failed" (neither did); ``media``: "same", "changed", "gone"
    (HTTP error) or "unknown" (not fetched), "" for none; ``at``: when, in the
    reader's time zone; ``reason``: why it failed or why the file is unknown.
    """

    state: str
    at: str = ""
    media: str = ""
    reason: str = ""


def chains(record: CaptureRecord) -> list[list[Exchange]]:
    """The exchanges split per fetched URL: the page's redirects and answer, then the file's."""
    out: list[list[Exchange]] = [[]]
    for exchange in record.exchanges:
        out[-1].append(exchange)
        if not (300 <= exchange.status < 400 and exchange.location and not exchange.error):
            out.append([])
    return [chain for chain in out if chain]


def failure(exchange: Exchange, lang: str) -> str:
    """Why ``exchange`` got no response, in words."""
    kind = exchange.error_kind if has(lang, f"error.{exchange.error_kind}") else "unknown"
    return text(lang, f"error.{kind}", host=urlsplit(exchange.url).hostname or exchange.url)


def recapture(record: CaptureRecord | None, lang: str, tz: ZoneInfo) -> Recapture:
    """The outcome of the package's recapture (see :class:`Recapture`)."""
    if record is None:
        return Recapture("none")
    found = chains(record)
    page = found[0][-1] if found else None
    media = found[1][-1] if len(found) > 1 else None
    at = local(record.captured_at, tz)
    if (page is None or page.error) and (media is None or media.error):
        failed = page or media
        return Recapture("failed", at, "unknown", failure(failed, lang) if failed else "")
    if record.media_unchanged:
        return Recapture("ok", at, "same")
    if media is None or media.error:
        reason = failure(media, lang) if media else text(lang, "error.unknown")
        return Recapture("ok", at, "unknown", reason)
    return Recapture("ok", at, "gone" if media.status >= 400 else "changed")


def media_sentence(outcome: Recapture, record: CaptureRecord | None, lang: str) -> str:
    """The report's sentence on whether the file is still online ("" without a recapture)."""
    if outcome.state != "ok":
        return ""
    if outcome.media == "gone" and record is not None:
        return text(lang, "media_gone", status=chains(record)[-1][-1].status)
    if outcome.media == "unknown":
        return text(lang, "media_unknown", reason=outcome.reason)
    return text(lang, f"media_{outcome.media}")


def screenshot_state(record: CaptureRecord) -> str:
    """taken, unavailable or failed (records made before the field say it in their note)."""
    if record.screenshot_state:
        return record.screenshot_state
    if record.screenshot_sha256:
        return "taken"
    return "failed" if record.screenshot_note.startswith("the screenshot failed") else "unavailable"


def exchange_line(exchange: Exchange, lang: str) -> str:
    """One HTTP exchange of a recapture: status, type, size, server and TLS, or why it failed."""
    if exchange.error:
        return text(lang, "fetch_failed", reason=failure(exchange, lang))
    if exchange.tls is None:
        tls = text(lang, "tls_none")
    else:
        state = "tls_verified" if exchange.tls.verified else "tls_not_verified"
        tls = text(lang, state, version=exchange.tls.version)
        if exchange.tls.chain:
            leaf = exchange.tls.chain[0]
            tls += "; " + text(
                lang,
                "tls_certificate",
                subject=leaf.subject,
                issuer=leaf.issuer,
                sha256=leaf.sha256,
            )
    line = text(
        lang,
        "fetch_ok",
        status=exchange.status,
        type=exchange.content_type or "-",
        size=text(lang, "bytes", count=exchange.payload_bytes),
        ip=exchange.server_ip,
        port=exchange.server_port,
        tls=tls,
    )
    if exchange.location:
        line += f"; {text(lang, 'redirected')} → {exchange.location}"
    if exchange.truncated:
        line += f"; {text(lang, 'fetch_truncated')}"
    return line


def evidence_items(paths: Collection[str], lang: str) -> list[str]:
    """The evidence a package holds, named in words, each once, in letter order."""
    named: list[str] = []
    for item, path in _ITEMS:
        present = (
            any(p.startswith(path) for p in paths) if path.endswith(("/", ".")) else path in paths
        )
        if present and item not in named:
            named.append(item)
    return [text(lang, f"item.{item}") for item in named]


def status_name(status: str, lang: str) -> str:
    return text(lang, f"status.{status}") if has(lang, f"status.{status}") else status


def actor_name(actor: str, lang: str) -> str:
    return text(lang, "actor.system") if actor in ("", SYSTEM.name) else actor


def custody_line(entry: CustodyEntry, lang: str) -> str:
    """What one custody entry records, in words (hashes shortened; the log holds them whole).

    An export's package SHA-256 is not part of the line: the caller sets it apart,
    whole, so a reader can copy it and compare it with a file they hold.
    """
    if entry.action == STATUS_CHANGED:
        line = text(lang, "custody.status_changed", status=status_name(entry.status, lang))
        if entry.comment:
            line += "; " + text(lang, "custody.comment", comment=entry.comment)
        return line
    if entry.action in (CAPTURED, CAPTURE_FAILED):
        return text(lang, f"custody.{entry.action}", record=entry.subject[:16] + "…")
    if entry.action == EXPORTED:
        interface = entry.interface if has(lang, f"interface.{entry.interface}") else "unknown"
        return text(lang, "custody.exported", interface=text(lang, f"interface.{interface}"))
    if entry.action == NOTE:
        return text(lang, "custody.note") + (f": {entry.detail}" if entry.detail else "")
    return entry.action


def signal_row(
    signal: Signal, alert: Alert, registry: JurisdictionRegistry | None, lang: str
) -> tuple[str, str, str, str]:
    """(signal, state it points to, weight, detail) in words."""
    name = (
        text(lang, f"signal.{signal.name}") if has(lang, f"signal.{signal.name}") else signal.name
    )
    value = signal.value
    if registry is not None and signal.value in registry:
        value = f"{localized(registry.get(signal.value).names, lang)} ({signal.value})"
    detail = signal.detail
    if signal.name == "target_override":
        detail = text(lang, "signal_detail.target_override", target=alert.target)
    elif signal.name == "page_language" and has(lang, f"language.{signal.detail}"):
        detail = f"{text(lang, f'language.{signal.detail}')} ({signal.detail})"
    return name, value, f"{signal.weight:.2f}", detail


def algorithm_name(algorithm: str, lang: str) -> str:
    key = f"algorithm.{algorithm}"
    return text(lang, key) if has(lang, key) else text(lang, "algorithm.other", name=algorithm)


def variant_name(variant: str, lang: str) -> str:
    """Which window of the work matched: whole, cropped, turned, mirrored."""
    base = variant.removesuffix(_MIRROR)
    geometry = window_geometry(base)
    if geometry is None:
        return text(lang, "variant.other", name=variant)
    left, right, top, bottom, angle = geometry
    if base == FULL:
        words = text(lang, "variant.full")
    elif base.startswith("rot:"):
        words = text(lang, "variant.rotation", angle=f"{angle:+g}")
    else:
        cut = dict(zip(("left", "right", "top", "bottom"), (left, right, top, bottom), strict=True))
        words = text(
            lang, "variant.crop", **{side: round(share * 100) for side, share in cut.items()}
        )
    return text(lang, "variant.mirrored", variant=words) if variant != base else words
