"""Alerts written straight into a store, with a crawl's derived fields: for benches and tests.

Contract: :func:`make_alert` returns a valid :class:`Alert` of ``work_id`` found on
``page``. What a real alert derives from its page is derived the same way here: the id
from (work, page, media URL), the site from the page's host, the target from the host's
first label (``kino.example.kz`` -> ``kino``), a ccTLD signal for the jurisdiction, the
match figures from the medium. Any other :class:`Alert` field is set by name, so a caller
says only what it is about. :func:`with_page_capture` gives one a crawl capture of its page.

Why here: benches (bench/evidence_bundle.py) need the same alerts as the tests, and a
bench must not import the tests; the demo package is the application's own generated
data, above every layer these helpers use (tanba.core, tanba.crawlers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tanba.core.alerts import Alert, MatchDetail, Signal, alert_id
from tanba.core.clock import Clock

# The match figures of an alert on each medium (as the matcher reports them).
MATCHES = {
    "image": MatchDetail(algorithm="phash64", distance=4),
    "audio": MatchDetail(
        algorithm="chromaprint", ber=0.1, offset_s=30.0, duration_s=10.0, query_offset_s=2.0
    ),
    "video": MatchDetail(
        algorithm="pdq-frames",
        evidence="picture",
        frames=16,
        scale=1.0,
        offset_s=30.0,
        duration_s=8.0,
        query_offset_s=0.0,
    ),
}


def make_alert(
    *,
    work_id: str = "w-a",
    owner: str = "Owner A",
    page: str = "http://kino.example.kz/1",
    media_url: str = "",
    jurisdiction: str = "KZ",
    seen: str = "2026-03-01T12:00:00.000Z",
    score: float = 0.9,
    media: str = "image",
    **fields: Any,
) -> Alert:
    """An alert of ``work_id`` on ``page`` first and last seen at ``seen``; ``fields`` override."""
    host = page.split("/")[2]
    media_url = media_url or page + "/a.jpg"
    values: dict[str, Any] = {
        "id": alert_id(work_id, page, media_url),
        "work_id": work_id,
        "owner": owner,
        "work_title": f"Title of {work_id}",
        "media": media,
        "score": score,
        "match": MATCHES[media],
        "page_url": page,
        "media_url": media_url,
        "media_sha256": "0" * 64,
        "site": host,
        "target": host.split(".")[0],
        "jurisdiction": jurisdiction,
        "signals": [Signal(name="cctld", value=jurisdiction, weight=0.6, detail=host)],
        "first_seen": seen,
        "last_seen": seen,
    }
    return Alert(**(values | fields))


def with_page_capture(alert: Alert, captures_dir: Path, clock: Clock) -> Alert:
    """``alert`` with a crawl capture of its page (a small HTML page in a WARC of
    ``captures_dir``), as a crawl keeps it: what an evidence export replays."""
    from scrapy.http import HtmlResponse, Request

    from tanba.crawlers.warc import WarcWriter

    body = f"<html><head><title>{alert.page_title or alert.site}</title></head>".encode()
    response = HtmlResponse(
        alert.page_url,
        body=body + b"<body><img src='photo.jpg'></body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
        request=Request(alert.page_url),
    )
    writer = WarcWriter(captures_dir, f"test/{alert.id}.warc.gz", clock=clock)
    try:
        ref = writer.write(response)
    finally:
        writer.close()
    return alert.model_copy(update={"page_capture": ref})
