"""Case files of a package that are assembled from the installation's state: WACZ, jurisdiction, README.

Contract: :func:`web_archive` builds the WACZ from the crawl's own WARC records
of the sighting and the recapture's WARC (EvidenceError when neither exists);
:func:`jurisdiction_record` is ``case/jurisdiction.json`` (why this state, with
the registry's sources); :func:`readme` is the package's ``README.txt``, which
mentions a timestamp only when the package carries one.
"""

from __future__ import annotations

import io
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from tanba.core.alerts import Alert
from tanba.core.exceptions import NotFound
from tanba.core.jurisdictions.attribution import alert_confidence
from tanba.core.jurisdictions.model import Jurisdiction
from tanba.core.wiring import App
from tanba.evidence.capturerecord import Capture
from tanba.evidence.exceptions import EvidenceError
from tanba.evidence.timestamp import TimestampAuthority
from tanba.evidence.wacz import Page, WarcFile, build_wacz


def jurisdiction_record(alert: Alert, j: Jurisdiction) -> dict[str, Any]:
    authority = j.authority
    term = j.copyright_term
    return {
        "code": j.code,
        "status": j.status,
        "names": dict(j.names),
        "confidence": alert_confidence(alert),
        "signals": [s.model_dump(mode="json") for s in alert.signals],
        "cross_border": alert.cross_border,
        "owner_home": alert.owner_home,
        "authority": None
        if authority is None
        else {
            "names": dict(authority.names),
            "website": authority.website,
            "verified": authority.verified,
            "source": authority.source,
            "note": authority.note,
        },
        "copyright_term": None
        if term is None
        else {
            "rule": term.rule,
            "years_after_death": term.years_after_death,
            "statute": term.statute,
            "verified": term.verified,
            "source": term.source,
        },
    }


def web_archive(app: App, alert: Alert, current: Capture | None, created: str) -> bytes:
    """The WACZ: the crawl's own records of the sighting, then the recapture's WARC."""
    warcs: list[WarcFile] = []
    pages: list[Page] = []
    crawl = b""
    crawl_date = ""
    # A player's page (an iframe's document) comes between the page and the media it shows;
    # a stream's media capture spans its manifest and every segment fetched.
    for ref in (alert.page_capture, alert.player_capture, alert.media_capture):
        if ref is None:
            continue
        try:
            chunk = app.captures.read(ref)
        except NotFound:
            continue  # captures pruned (or not yet uploaded): the recapture still stands
        crawl += chunk
        if ref is alert.page_capture:
            crawl_date = warc_date(chunk)
    if crawl:
        warcs.append(WarcFile("crawl.warc.gz", crawl))
        if crawl_date:
            pages.append(Page(alert.page_url, crawl_date, alert.page_title))
    # A recapture that got no response at all has nothing to replay (capture.json says why).
    if current is not None and any(e.status for e in current.record.exchanges):
        warcs.append(WarcFile("capture.warc.gz", app.blobs.get(current.record.warc_sha256)))
        if current.record.page_sha256:
            pages.append(Page(alert.page_url, current.record.captured_at, alert.page_title))
    if not warcs:
        raise EvidenceError(
            f"alert {alert.id} has no crawl capture on disk and no recapture; run the export "
            "with recapture allowed (drop --no-recapture) while the site is reachable"
        )
    # The recapture first: it is what a reader replays by default.
    pages.sort(key=lambda p: p.ts, reverse=True)
    return build_wacz(warcs, pages, created=created, title=f"Tanba case {alert.id}")


def warc_date(chunk: bytes) -> str:
    """The WARC-Date of the first record in ``chunk`` ("" when it holds none)."""
    for record in ArchiveIterator(io.BytesIO(chunk)):
        return str(record.rec_headers.get_header("WARC-Date") or "")
    return ""


def readme(fingerprint: str, tsa: TimestampAuthority | None) -> bytes:
    """README.txt: what the package is and how to check it, in English and Russian."""
    lines = [
        "TANBA EVIDENCE PACKAGE / ПАКЕТ ДОКАЗАТЕЛЬСТВ TANBA",
        "",
        "Read report.pdf first. manifest.json lists every file with its SHA-256; manifest.sig",
        f"is its Ed25519 signature by the key in public-key.pem ({fingerprint}).",
        "Check everything with:  tanba evidence verify THIS.zip",
        "It succeeds only if the key is your installation's or in its trust store: confirm",
        "the fingerprint with the sender (not from this package), then",
        f"'tanba evidence verify THIS.zip --fingerprint {fingerprint}'.",
        "web-archive.wacz opens in ReplayWeb.page (replayweb.page) to replay the page.",
        "The drafts in notices/ must be checked by a person before anything is sent.",
        "",
        "Сначала прочитайте report.pdf. manifest.json содержит SHA-256 каждого файла;",
        "manifest.sig - его подпись Ed25519 ключом из public-key.pem.",
        "Проверка: tanba evidence verify ПАКЕТ.zip - успешна, только если ключ принадлежит",
        "вашей установке или есть в её хранилище доверенных ключей; иначе сверьте отпечаток",
        "с отправителем (не по этому пакету) и выполните",
        f"'tanba evidence verify ПАКЕТ.zip --fingerprint {fingerprint}'.",
        "web-archive.wacz можно открыть в ReplayWeb.page (replayweb.page), чтобы воспроизвести страницу.",
    ]
    if tsa is not None:
        lines.insert(8, f"manifest.tsr is an RFC 3161 timestamp of manifest.json by {tsa.url}.")
    return ("\n".join(lines) + "\n").encode()
