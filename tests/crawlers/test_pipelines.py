"""tanba.crawlers.pipelines, driven by hand on a real (unstarted) Scrapy crawler: capture, media, publish.

What needs the downloader (one download per URL shared by the pages that wait
for it) is the crawl's: tests/crawlers/test_crawl.py and test_media_sharing.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.pipelines.media import FileInfoOrError
from scrapy.spidermiddlewares.referer import DefaultReferrerPolicy
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure
from warcio.archiveiterator import ArchiveIterator

from tanba.core.blobs import FileBlobStore
from tanba.core.clock import FixedClock
from tanba.core.exceptions import DiskFull
from tanba.core.schemas.common import CaptureRef
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.extract import MediaRef
from tanba.crawlers.failures import ROBOTS_FORBIDDEN_STAT
from tanba.crawlers.gate import WriteGate
from tanba.crawlers.items import FetchedMedia, PageItem
from tanba.crawlers.pipelines.capture import CapturePipeline
from tanba.crawlers.pipelines.media import (
    CanonicalFingerprinter,
    InlineBodies,
    MediaPipeline,
    NotPublished,
)
from tanba.crawlers.pipelines.publish import PublishPipeline
from tanba.crawlers.scope import KIND_META, MEDIA
from tanba.crawlers.spiders.site import SiteSpider
from tests.crawlers.sinks import FullSink, ListSink

SITE = "http://kino.example.kz"
PHOTO = "http://cdn.example.ru/img/photo.jpg"
JPEG = b"\xff\xd8\xff\xe0not-really-a-jpeg\xff\xd9"


class FullDisk(FileBlobStore):
    """A blob store whose disk is full until ``space_back`` is set."""

    space_back = False

    def put(self, data: bytes) -> str:
        if not self.space_back:
            raise DiskFull("disk full: cannot write the blob (test)")
        return super().put(data)


def crawler_for(tmp_path: Path, **parts: object) -> tuple[Crawler, TargetCrawl]:
    target = Target(name="kino", seeds=(f"{SITE}/",), jurisdiction="KZ")
    settings = Settings(home=tmp_path, page_max_bytes=1000, media_max_bytes=5000)
    fields: dict[str, object] = {
        "blobs": FileBlobStore(tmp_path / "blobs"),
        "sink": ListSink(),
        **parts,
    }
    target_crawl = TargetCrawl(
        target=target,
        settings=settings,
        crawl_id="c1",
        captures_dir=tmp_path / "captures",
        clock=FixedClock("2026-01-01T00:00:00Z"),
        **fields,  # type: ignore[arg-type]
    )
    crawler = get_crawler(SiteSpider.for_target(target, settings))
    crawler.spider = SiteSpider.from_crawler(crawler, target_crawl=target_crawl)
    return crawler, target_crawl


def media_pipeline(crawler: Crawler) -> MediaPipeline:
    pipeline = MediaPipeline.from_crawler(crawler)
    pipeline.open_spider()
    return pipeline


def page_item(url: str = f"{SITE}/", *media: str) -> PageItem:
    response = HtmlResponse(url, body=b"<html>page</html>", request=Request(url), encoding="utf-8")
    refs = tuple(MediaRef(m, "video" if m.endswith(".mp4") else "image", "img.src") for m in media)
    return PageItem(url, "kino.example.kz", "Home", "kk", refs, response=response)


def media_response(url: str = PHOTO, status: int = 200, body: bytes = JPEG) -> Response:
    return Response(
        url,
        status=status,
        body=body,
        headers={"Content-Type": "image/jpeg"},
        request=Request(url),
        ip_address=ipaddress.ip_address("203.0.113.7"),
    )


def download(pipeline: MediaPipeline, response: Response) -> FetchedMedia:
    request = response.request
    assert request is not None
    return asyncio.run(pipeline.media_downloaded(response, request, pipeline.spiderinfo))


def record_at(target_crawl: TargetCrawl, ref: CaptureRef):  # type: ignore[no-untyped-def]
    with open(target_crawl.captures_dir / ref.warc, "rb") as f:
        f.seek(ref.offset)
        record = next(iter(ArchiveIterator(f)))
        return record, record.content_stream().read()


def test_the_capture_pipeline_writes_the_page_record_and_lets_go_of_the_response(
    tmp_path: Path,
) -> None:
    crawler, target_crawl = crawler_for(tmp_path)
    item = asyncio.run(CapturePipeline.from_crawler(crawler).process_item(page_item()))
    assert item.response is None and item.capture is not None
    assert item.capture.warc == "c1/kino.warc.gz"
    record, body = record_at(target_crawl, item.capture)
    assert (record.rec_type, body) == ("response", b"<html>page</html>")
    assert record.rec_headers.get_header("WARC-Target-URI") == f"{SITE}/"


def test_media_requests_are_marked_media_and_capped(tmp_path: Path) -> None:
    crawler, _ = crawler_for(tmp_path)
    pipeline = media_pipeline(crawler)
    item = page_item(f"{SITE}/", PHOTO, f"{SITE}/v.mp4")
    requests = pipeline.get_media_requests(item, pipeline.spiderinfo)
    assert [r.url for r in requests] == [PHOTO, f"{SITE}/v.mp4"]
    assert all(r.meta[KIND_META] == MEDIA and r.meta["download_maxsize"] == 5000 for r in requests)
    assert [r.headers.get("Referer") for r in requests] == [None, None]  # the item has no policy

    item.referrer_policy = DefaultReferrerPolicy()
    item.url = f"{SITE}/page.html#part"
    referers = [
        r.headers.get("Referer") for r in pipeline.get_media_requests(item, pipeline.spiderinfo)
    ]
    assert referers == [f"{SITE}/page.html".encode()] * 2  # the page, as a browser sends it
    item.url = "https://kino.example.kz/"  # https page, http media: none (no downgrade leaks)
    assert pipeline.get_media_requests(item, pipeline.spiderinfo)[1].headers.get("Referer") is None


def test_the_fingerprint_is_the_canonical_url(tmp_path: Path) -> None:
    crawler, _ = crawler_for(tmp_path)
    assert isinstance(crawler.request_fingerprinter, CanonicalFingerprinter)  # the setting works
    same = [PHOTO, "HTTP://CDN.example.ru:80/img/photo.jpg?utm_source=x#top"]
    fingerprints = {crawler.request_fingerprinter.fingerprint(Request(u)) for u in same}
    assert len(fingerprints) == 1
    other = crawler.request_fingerprinter.fingerprint(Request(PHOTO + "?w=2"))
    assert other not in fingerprints


def test_a_status_200_media_is_captured_stored_and_counted(tmp_path: Path) -> None:
    crawler, target_crawl = crawler_for(tmp_path)
    media = download(media_pipeline(crawler), media_response())
    assert FileBlobStore(tmp_path / "blobs").get(media["checksum"] or "") == JPEG
    assert (tmp_path / "blobs" / media["path"]).read_bytes() == JPEG
    assert (media["size"], media["content_type"], media["http_status"]) == (
        len(JPEG),
        "image/jpeg",
        200,
    )
    assert media["headers"]["Content-Type"] == "image/jpeg"
    assert (media["server_ip"], media["fetched_at"]) == ("203.0.113.7", "2026-01-01T00:00:00.000Z")
    record, body = record_at(target_crawl, media["capture"])
    assert (record.rec_type, body) == ("response", JPEG)
    assert target_crawl.tally.media_downloaded == 1


def test_other_statuses_are_counted_once_and_not_stored(tmp_path: Path) -> None:
    crawler, target_crawl = crawler_for(tmp_path)
    pipeline = media_pipeline(crawler)
    with pytest.raises(NotPublished, match="HTTP status 203"):
        download(pipeline, media_response(status=203))
    # Scrapy hands media_downloaded's exception to media_failed: not a second count.
    with pytest.raises(NotPublished):
        pipeline.media_failed(Failure(NotPublished("x")), Request(PHOTO), pipeline.spiderinfo)
    assert target_crawl.tally.http_errors == 1 and target_crawl.tally.media_downloaded == 0
    assert not (tmp_path / "captures").exists() and not list((tmp_path / "blobs").iterdir())


@pytest.mark.parametrize(
    ("error", "counter"),
    [
        (DownloadCancelledError("too big"), "too_large"),
        (ConnectionRefusedError(), "errors"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots_disallowed"),
    ],
)
def test_failed_downloads_count_as_failed_pages_do(
    tmp_path: Path, error: Exception, counter: str
) -> None:
    crawler, target_crawl = crawler_for(tmp_path)
    pipeline = media_pipeline(crawler)
    assert crawler.stats is not None
    crawler.stats.set_value(ROBOTS_FORBIDDEN_STAT, 1)  # what Scrapy's robots.txt middleware does
    with pytest.raises(NotPublished):
        pipeline.media_failed(Failure(error), Request(PHOTO), pipeline.spiderinfo)
    counts = {
        name: getattr(target_crawl.tally, name)
        for name in ("too_large", "errors", "robots_disallowed")
    }
    assert counts == {name: int(name == counter) for name in counts}


def test_item_completed_keeps_the_stored_media_in_page_order(tmp_path: Path) -> None:
    crawler, _ = crawler_for(tmp_path)
    pipeline = media_pipeline(crawler)
    item = page_item(f"{SITE}/", PHOTO, f"{SITE}/missing.jpg", f"{SITE}/a.jpg")
    photo = download(pipeline, media_response())
    local = download(pipeline, media_response(f"{SITE}/a.jpg", body=b"other"))
    results: list[FileInfoOrError] = [
        (True, photo),
        (False, Failure(NotPublished("404"))),
        (True, local),
    ]
    done = pipeline.item_completed(results, item, pipeline.spiderinfo)
    assert [(ref.url, media["url"]) for ref, media in done.fetched] == [
        (PHOTO, PHOTO),
        (f"{SITE}/a.jpg", f"{SITE}/a.jpg"),
    ]


def test_failures_counted_here_are_not_logged_again_by_scrapy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crawler, _ = crawler_for(tmp_path)
    media_pipeline(crawler)
    scrapy_media_log = logging.getLogger("scrapy.pipelines.media")
    for error in (NotPublished("counted"), ValueError("a bug")):
        try:
            raise error
        except Exception:
            scrapy_media_log.exception("as MediaPipeline logs a failed download")
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert [type(e) for e in logged] == [ValueError]  # a real bug still shows


def test_a_full_disk_parks_the_media_pauses_and_loses_nothing(tmp_path: Path) -> None:
    disk = FullDisk(tmp_path / "blobs")
    crawler, target_crawl = crawler_for(tmp_path, blobs=disk)
    pipeline = media_pipeline(crawler)
    seen: dict[str, object] = {}

    async def space_comes_back(seconds: float) -> None:
        seen["paused"] = target_crawl.gate.paused
        seen["downloaded"] = target_crawl.tally.media_downloaded
        seen["new download"] = pipeline.media_to_download(
            Request(f"{SITE}/b.jpg"), pipeline.spiderinfo
        )
        disk.space_back = True

    target_crawl.gate = WriteGate("kino", target_crawl.tally, sleep=space_comes_back)
    media = download(pipeline, media_response())
    assert seen["paused"] is True and seen["downloaded"] == 0  # nothing counted while refused
    assert seen["new download"] is not None  # a Deferred: no new download while paused
    assert disk.get(media["checksum"] or "") == JPEG
    assert target_crawl.tally.media_downloaded == 1 and target_crawl.tally.paused == 1
    assert pipeline.media_to_download(Request(f"{SITE}/c.jpg"), pipeline.spiderinfo) is None


def test_publish_gives_one_event_per_page_and_media_pair(tmp_path: Path) -> None:
    crawler, target_crawl = crawler_for(tmp_path)
    pipeline = media_pipeline(crawler)
    capture = CapturePipeline.from_crawler(crawler)
    publish = PublishPipeline.from_crawler(crawler)
    photo = download(pipeline, media_response())
    video = download(pipeline, media_response(f"{SITE}/v.mp4", body=b"video"))

    async def through(item: PageItem, results: list[FileInfoOrError]) -> PageItem:
        item = await capture.process_item(item)
        item = pipeline.item_completed(results, item, pipeline.spiderinfo)
        return await publish.process_item(item)

    both: list[FileInfoOrError] = [(True, photo), (True, video)]
    home = asyncio.run(through(page_item(f"{SITE}/", PHOTO, f"{SITE}/v.mp4"), both))
    only_photo: list[FileInfoOrError] = [(True, photo)]
    other = asyncio.run(through(page_item(f"{SITE}/a.html", PHOTO), only_photo))
    sink = target_crawl.sink
    assert isinstance(sink, ListSink)
    events = sink.events()
    assert [(e.occurrence.page_url, e.occurrence.media_url) for e in events] == [
        (f"{SITE}/", PHOTO),
        (f"{SITE}/", f"{SITE}/v.mp4"),
        (f"{SITE}/a.html", PHOTO),
    ]
    assert [r.key for r in sink.records] == ["kino.example.kz"] * 3
    assert target_crawl.tally.media_published == 3
    video_event, photo_again = events[1], events[2]
    o = video_event.occurrence
    assert video_event.kind_hint == "video"
    assert (o.target, o.site, o.page_title, o.page_lang) == (
        "kino",
        "kino.example.kz",
        "Home",
        "kk",
    )
    assert (o.server_ip, o.jurisdiction_override, o.crawl_id) == ("203.0.113.7", "KZ", "c1")
    assert (o.sha256, o.size, o.http_status) == (video["checksum"], 5, 200)
    assert o.fetched_at == "2026-01-01T00:00:00.000Z"
    assert o.page_capture == home.capture and o.media_capture == video["capture"]
    assert photo_again.occurrence.page_capture == other.capture != home.capture
    assert photo_again.occurrence.media_capture == events[0].occurrence.media_capture
    assert other.capture is not None
    assert record_at(target_crawl, other.capture)[1] == b"<html>page</html>"


def test_a_bus_that_cannot_publish_pauses_the_crawl_until_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FullSink()
    crawler, target_crawl = crawler_for(tmp_path, sink=sink)
    pipeline = media_pipeline(crawler)
    photo = download(pipeline, media_response())
    item = page_item(f"{SITE}/", PHOTO)
    item.fetched.append((item.media[0], photo))
    publish = PublishPipeline.from_crawler(crawler)

    async def bus_comes_back(seconds: float) -> None:
        assert len(sink.records) == 1 and sink.flushes == 0  # kept, not lost
        sink.space_back = True

    target_crawl.gate = WriteGate("kino", target_crawl.tally, sleep=bus_comes_back)
    asyncio.run(publish.process_item(item))
    assert len(sink.records) == 1 and sink.flushes == 1  # retried as a flush, not a second add
    assert target_crawl.tally.paused == 1 and target_crawl.tally.media_published == 1
    publish.close_spider()
    assert sink.flushes == 2

    sink.space_back = False
    with caplog.at_level(logging.WARNING):
        publish.close_spider()  # the runner's final flush keeps trying; this one says so
    assert "kino: events not published yet: disk full" in caplog.text


class RemoteFiles(FileBlobStore):
    """A file store that says it is remote (as object storage does), for the inline bodies."""

    remote = True


def test_small_files_travel_inline_only_when_the_blobs_are_remote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tanba.crawlers.pipelines.media.INLINE_MAX_BYTES", len(JPEG))
    bodies = {}
    for name, store in (("local", FileBlobStore), ("remote", RemoteFiles)):
        crawler, target_crawl = crawler_for(tmp_path / name, blobs=store(tmp_path / name / "b"))
        pipeline = media_pipeline(crawler)
        publish = PublishPipeline.from_crawler(crawler)
        small = download(pipeline, media_response())
        large = download(pipeline, media_response(f"{SITE}/a.jpg", body=JPEG + b"!"))
        results: list[FileInfoOrError] = [(True, small), (True, large)]
        item = pipeline.item_completed(
            results, page_item(f"{SITE}/", PHOTO, f"{SITE}/a.jpg"), pipeline.spiderinfo
        )
        asyncio.run(publish.process_item(item))
        sink = target_crawl.sink
        assert isinstance(sink, ListSink)
        bodies[name] = [e.body for e in sink.events()]  # decoded from the records' JSON
        # Stored all the same: the evidence and the console read the store.
        assert target_crawl.blobs.get(small["checksum"] or "") == JPEG
    assert bodies == {"local": [None, None], "remote": [JPEG, None]}


def test_the_bodies_kept_for_inlining_stay_within_their_bound() -> None:
    kept = InlineBodies(limit=10)
    kept.add("a", b"1234")
    kept.add("b", b"5678")
    kept.add("c", b"90ab")  # 12 bytes: the oldest goes
    kept.add("d", b"x" * 11)  # larger than the bound: never kept
    assert [kept.get(k) for k in "abcd"] == [None, b"5678", b"90ab", None]
