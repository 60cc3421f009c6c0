"""A real crawl (subprocess, loopback server, --resolve): what it fetched, published and archived."""

from __future__ import annotations

import hashlib
import io
import json

from warcio.archiveiterator import ArchiveIterator

from tanba.core.blobs import FileBlobStore
from tests.support.crawling import CrawlRun

CRAWL_ID = "20260101T000000Z"  # run_crawl's default


def _events_for(run: CrawlRun, suffix: str) -> list:
    return [e for _, e in run.events if e.occurrence.media_url.endswith(suffix)]


def test_paused_targets_are_skipped_and_stats_cover_the_others(crawl_run: CrawlRun) -> None:
    assert set(crawl_run.stats["targets"]) == {"kino", "many", "intra"}
    assert crawl_run.stats["crawl_id"] == CRAWL_ID


def test_media_on_two_pages_gives_two_events_and_one_download(crawl_run: CrawlRun) -> None:
    events = _events_for(crawl_run, "/img/photo.jpg")
    assert sorted(e.occurrence.page_url.rsplit("/", 1)[1] for e in events) == ["", "a.html"]
    assert crawl_run.requests["cdn.example.ru"].count("/img/photo.jpg") == 1
    assert len({e.occurrence.sha256 for e in events}) == 1
    assert len({e.occurrence.media_capture for e in events}) == 1


def test_media_and_page_requests_send_the_referer_of_the_page(crawl_run: CrawlRun) -> None:
    home = f"http://kino.example.kz:{crawl_run.port}/"
    assert crawl_run.referers[("cdn.example.ru", "/img/photo.jpg")] == home
    assert crawl_run.referers[("kino.example.kz", "/img/big.png")] == home
    assert crawl_run.referers[("kino.example.kz", "/a.html")] == home
    assert crawl_run.referers[("kino.example.kz", "/")] == ""  # a seed has none


def test_event_fields_describe_page_media_and_target(crawl_run: CrawlRun) -> None:
    photo = crawl_run.files["photo.jpg"]
    events = _events_for(crawl_run, "/img/photo.jpg")
    (home_event,) = [e for e in events if e.occurrence.page_url.endswith("/")]
    o = home_event.occurrence
    assert home_event.kind_hint == "image"
    assert o.target == "kino"
    assert o.site == "kino.example.kz"
    assert o.page_url == f"http://kino.example.kz:{crawl_run.port}/"
    assert o.media_url == f"http://cdn.example.ru:{crawl_run.port}/img/photo.jpg"
    assert o.page_title == "Кино онлайн"
    assert o.page_lang == "ru"
    assert o.sha256 == hashlib.sha256(photo).hexdigest()
    assert o.size == len(photo)
    assert o.content_type == "image/jpeg"
    assert o.http_status == 200
    assert o.headers["Content-Type"] == "image/jpeg"
    assert o.server_ip == "127.0.0.1"
    assert o.jurisdiction_override == "KZ"
    assert o.crawl_id == CRAWL_ID
    assert o.fetched_at.endswith("Z")
    assert FileBlobStore(crawl_run.home / "blobs").get(o.sha256) == photo


def test_events_are_keyed_by_site_host(crawl_run: CrawlRun) -> None:
    assert crawl_run.events
    assert {key for key, _ in crawl_run.events} == {"kino.example.kz"}


def test_picture_source_media_is_published(crawl_run: CrawlRun) -> None:
    (event,) = _events_for(crawl_run, "/img/local.png")
    assert event.occurrence.page_url.endswith("/a.html")
    assert event.occurrence.size == len(crawl_run.files["local.png"])


def test_page_disallowed_by_robots_is_never_requested(crawl_run: CrawlRun) -> None:
    assert "/private/secret.html" not in crawl_run.requests["kino.example.kz"]
    assert "/blocked/x.jpg" not in crawl_run.requests["cdn.example.ru"]
    assert crawl_run.stats["targets"]["kino"]["robots_disallowed"] == 2


def test_depth_limit(crawl_run: CrawlRun) -> None:
    kino = crawl_run.requests["kino.example.kz"]
    assert "/deep2.html" in kino
    assert "/deep3.html" not in kino


def test_max_pages_counts_pages(crawl_run: CrawlRun) -> None:
    pages = [p for p in crawl_run.requests["many.example.kz"] if p != "/robots.txt"]
    assert len(pages) == 3
    assert crawl_run.stats["targets"]["many"]["pages"] == 3


def test_each_page_is_fetched_once(crawl_run: CrawlRun) -> None:
    kino = crawl_run.requests["kino.example.kz"]
    assert len(kino) == len(set(kino))
    # /, /a.html, /deep1.html, /deep2.html
    assert crawl_run.stats["targets"]["kino"]["pages"] == 4


def test_redirect_off_the_site_is_not_followed(crawl_run: CrawlRun) -> None:
    assert "/away.html" in crawl_run.requests["kino.example.kz"]
    assert crawl_run.requests.get("elsewhere.example.kz", []) == []
    assert crawl_run.stats["targets"]["kino"]["errors"] == 0


def test_private_address_is_refused_without_allow_private(crawl_run: CrawlRun) -> None:
    assert crawl_run.requests.get("intra.example.kz", []) == []
    intra = crawl_run.stats["targets"]["intra"]
    assert intra["blocked_private"] >= 1
    assert intra["pages"] == 0


def test_oversized_media_is_skipped(crawl_run: CrawlRun) -> None:
    assert _events_for(crawl_run, "/img/big.png") == []
    assert crawl_run.stats["targets"]["kino"]["too_large"] == 1
    digest = hashlib.sha256(crawl_run.files["big.png"]).hexdigest()
    assert not FileBlobStore(crawl_run.home / "blobs").exists(digest)


def test_http_errors_are_counted_not_published(crawl_run: CrawlRun) -> None:
    assert _events_for(crawl_run, "/img/missing.jpg") == []
    assert crawl_run.stats["targets"]["kino"]["http_errors"] == 1


def test_counters_add_up(crawl_run: CrawlRun) -> None:
    kino = crawl_run.stats["targets"]["kino"]
    # photo.jpg x2, big.png, missing.jpg, blocked/x.jpg on "/"; local.png on /a.html
    assert kino["media_found"] == 6
    assert kino["media_downloaded"] == 2
    assert kino["media_published"] == len(crawl_run.events) == 3
    assert kino["errors"] == 0
    assert crawl_run.stats["total"]["pages"] == 4 + 3


def _record_at(run: CrawlRun, warc: str, offset: int, length: int):  # type: ignore[no-untyped-def]
    path = run.home / "captures" / warc
    with open(path, "rb") as f:
        f.seek(offset)
        chunk = f.read(length)
        f.seek(offset)
        record = next(iter(ArchiveIterator(f)))
        body = record.content_stream().read()
    assert len(chunk) == length
    return record, body, chunk


def test_warc_records_exist_at_published_offsets(crawl_run: CrawlRun) -> None:
    # photo.jpg on / and on /a.html, local.png on /a.html: a loop over no events proves nothing.
    assert len(crawl_run.events) == 3
    for _, event in crawl_run.events:
        o = event.occurrence
        assert o.media_capture is not None and o.page_capture is not None
        assert o.media_capture.warc == f"{CRAWL_ID}/kino.warc.gz"

        record, body, chunk = _record_at(
            crawl_run, o.media_capture.warc, o.media_capture.offset, o.media_capture.length
        )
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == o.media_url
        assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        assert hashlib.sha256(body).hexdigest() == o.sha256
        # The length covers exactly one gzip member: the record alone.
        assert len(list(ArchiveIterator(io.BytesIO(chunk)))) == 1

        record, body, _ = _record_at(
            crawl_run, o.page_capture.warc, o.page_capture.offset, o.page_capture.length
        )
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == o.page_url
        assert b"<html" in body


def test_warc_file_starts_with_warcinfo_and_pairs_requests(crawl_run: CrawlRun) -> None:
    with open(crawl_run.home / "captures" / CRAWL_ID / "kino.warc.gz", "rb") as f:
        types = [r.rec_type for r in ArchiveIterator(f)]
    assert types[0] == "warcinfo"
    assert types.count("request") == types.count("response") == 4 + 2  # 4 pages, 2 media


def test_progress_reports_running_totals(crawl_run: CrawlRun) -> None:
    reports = [json.loads(line) for line in crawl_run.stderr.splitlines() if line.startswith("{")]
    assert reports, crawl_run.stderr
    assert reports[-1] == crawl_run.stats["total"]  # the last report is the final one


def test_scrapy_stays_quiet(crawl_run: CrawlRun) -> None:
    # Only the size-cap warning may appear: no DEBUG/INFO flood, no deprecation warnings;
    # Tanba's own lines say which targets the file recorded and which one is paused.
    recorded = f"{crawl_run.home / 'targets.yaml'}: 4 targets recorded (4 added)"
    paused = "tanba: target 'sleeping' is paused; skipped (resume it in the console)"
    noisy = [
        line
        for line in crawl_run.stderr.splitlines()
        if line
        and not line.startswith("{")  # --progress
        and "download max size" not in line
        and line not in (recorded, paused)
    ]
    assert noisy == [], crawl_run.stderr
    assert recorded in crawl_run.stderr and paused in crawl_run.stderr
