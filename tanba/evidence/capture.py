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
does. Addresses outside the map must be public
(:func:`tanba.core.net.is_public_address`, as for the crawler), so a hostile
page cannot redirect the capture, or Chromium's subresource loads, to the
internal network.

Determinism: WARC-Date comes from the clock and record ids from ``record_ids``
(by default derived from the alert id and the capture time), and gzip members
carry no timestamp, so the same exchanges give the same WARC bytes.

Where the parts are: this module runs a capture and keeps its result; the
HTTP refetch, its WARC records and TLS sessions are :mod:`tanba.evidence.refetch`,
the browser :mod:`tanba.evidence.screenshot`, and the record and its JSON
:mod:`tanba.evidence.capturerecord`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

from tanba.core.alerts import Alert
from tanba.core.clock import iso
from tanba.core.exceptions import NotFound
from tanba.core.wiring import App
from tanba.evidence.capturerecord import SOFTWARE, Capture, CaptureRecord, Exchange, canonical
from tanba.evidence.custody import CAPTURE_FAILED, CAPTURED, CustodyLog
from tanba.evidence.ids import derived_record_ids
from tanba.evidence.refetch import Fetcher, WarcWriter
from tanba.evidence.screenshot import ChromiumScreenshotter, Screenshotter

SCREENSHOT_URI = "urn:screenshot:"


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
    fetcher = Fetcher(resolve, settings.fetch_timeout_s, settings.user_agent)
    buffer = io.BytesIO()
    writer = WarcWriter(buffer, app.clock, ids)
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
