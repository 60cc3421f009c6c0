"""crawlers.spiders.site, driven by hand (no reactor): budget, depth, media sharing, counters."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.scope import KIND_META, MEDIA, PAGE
from crawlers.spiders.site import SiteSpider
from crawlers.targets import Target
from tanba.blobs import BlobStore
from tanba.bus import Record
from tanba.clock import FixedClock
from tanba.exceptions import DiskFull
from tanba.schemas.base import decode
from tanba.schemas.media import MediaDiscovered
from tanba.settings import Settings

SITE = "http://kino.example.kz"
PHOTO = "http://cdn.example.ru/img/photo.jpg"
JPEG = b"\xff\xd8\xff\xe0not-really-a-jpeg\xff\xd9"


class ListSink:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.flushes = 0

    def add(self, record: Record) -> None:
        self.records.append(record)

    def flush(self) -> None:
        self.flushes += 1

    def events(self) -> list[MediaDiscovered]:
        return [decode(r.value, MediaDiscovered) for r in self.records]


def make_spider(tmp_path: Path, **target: object) -> tuple[SiteSpider, ListSink]:
    sink = ListSink()
    fields: dict[str, object] = {"name": "kino", "seeds": (f"{SITE}/",), "jurisdiction": "KZ"}
    fields.update(target)
    spider = SiteSpider(
        target=Target(**fields),  # type: ignore[arg-type]
        tanba_settings=Settings(home=tmp_path, page_max_bytes=1000, media_max_bytes=5000),
        blobs=BlobStore(tmp_path / "blobs"),
        sink=sink,
        captures_dir=tmp_path / "captures",
        crawl_id="c1",
        clock=FixedClock("2026-01-01T00:00:00Z"),
    )
    return spider, sink


def start(spider: SiteSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    return asyncio.run(collect())


def page(request: Request, body: str, **headers: str) -> list[Request]:
    response = HtmlResponse(
        request.url, body=body.encode(), request=request, headers=headers, encoding="utf-8"
    )
    return list(request.callback(response))  # type: ignore[misc]


def media(request: Request, body: bytes = JPEG, status: int = 200) -> None:
    response = Response(
        request.url,
        status=status,
        body=body,
        headers={"Content-Type": "image/jpeg"},
        request=request,
        ip_address=ipaddress.ip_address("203.0.113.7"),
    )
    request.callback(response)  # type: ignore[misc]


def fail(request: Request, exc: Exception) -> list[Request]:
    failure = Failure(exc)
    failure.request = request  # type: ignore[attr-defined]
    return list(request.errback(failure) or [])  # type: ignore[misc]


def by_kind(requests: list[Request], kind: str) -> list[Request]:
    return [r for r in requests if r.meta[KIND_META] == kind]


def test_media_seen_while_its_download_is_in_flight_gives_one_event_per_page(
    tmp_path: Path,
) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    assert home.meta["download_maxsize"] == 1000
    out = page(home, f'<title>Home</title><a href="/a.html">a</a><img src="{PHOTO}">')
    (photo,) = by_kind(out, MEDIA)
    (a,) = by_kind(out, PAGE)
    assert photo.meta["download_maxsize"] == 5000 and photo.meta["allow_offsite"]

    # /a.html arrives before the photo: no second download, its occurrence waits.
    assert by_kind(page(a, f'<img src="{PHOTO}#x">'), MEDIA) == []
    assert sink.records == []

    media(photo)
    events = sink.events()
    assert [e.occurrence.page_url for e in events] == [f"{SITE}/", f"{SITE}/a.html"]
    assert {e.occurrence.media_capture for e in events} == {events[0].occurrence.media_capture}
    assert events[0].occurrence.page_title == "Home"
    assert [r.key for r in sink.records] == ["kino.example.kz", "kino.example.kz"]
    assert spider.tally.media_downloaded == 1 and spider.tally.media_published == 2


def test_media_already_fetched_is_published_at_once_for_a_later_page(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    out = page(home, f'<a href="/b.html">b</a><img src="{PHOTO}">')
    media(by_kind(out, MEDIA)[0])
    assert by_kind(page(by_kind(out, PAGE)[0], f'<img src="{PHOTO}">'), MEDIA) == []
    assert len(sink.records) == 2


def test_event_fields(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    out = page(home, '<html lang="kk"><video src="/v.mp4"></video></html>')
    media(out[0])
    (event,) = sink.events()
    o = event.occurrence
    assert event.kind_hint == "audio"
    assert (o.target, o.site, o.media_url) == ("kino", "kino.example.kz", f"{SITE}/v.mp4")
    assert (o.page_lang, o.server_ip, o.jurisdiction_override, o.crawl_id) == (
        "kk",
        "203.0.113.7",
        "KZ",
        "c1",
    )
    assert o.fetched_at == "2026-01-01T00:00:00.000Z"
    assert (o.size, o.content_type, o.http_status) == (len(JPEG), "image/jpeg", 200)
    assert BlobStore(tmp_path / "blobs").get(o.sha256) == JPEG
    assert o.page_capture is not None and o.page_capture.warc == "c1/kino.warc.gz"


def test_content_language_header_when_html_has_no_lang(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    media(page(home, '<img src="/a.jpg">', **{"Content-Language": "ru, en"})[0])
    assert sink.events()[0].occurrence.page_lang == "ru"


def test_non_200_media_is_counted_not_published(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    media(page(home, '<img src="/a.jpg">')[0], status=203)
    assert sink.records == [] and spider.tally.http_errors == 1


def test_failed_media_drops_waiting_occurrences_and_is_not_retried(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    out = page(home, '<a href="/b.html">b</a><img src="/big.jpg">')
    fail(by_kind(out, MEDIA)[0], DownloadCancelledError("too big"))
    assert by_kind(page(by_kind(out, PAGE)[0], '<img src="/big.jpg">'), MEDIA) == []
    assert sink.records == [] and spider.tally.too_large == 1
    assert spider.tally.media_found == 2


def test_max_pages_counts_pages_and_failures_free_the_budget(tmp_path: Path) -> None:
    spider, _ = make_spider(tmp_path, max_pages=3)
    (home,) = start(spider)
    links = "".join(f'<a href="/p{i}.html">{i}</a>' for i in range(5))
    first = by_kind(page(home, links), PAGE)
    assert [r.url for r in first] == [f"{SITE}/p0.html", f"{SITE}/p1.html"]  # 1 done + 2 in flight

    # p0 is a 404: it does not count, so p2 takes its place.
    not_found = Response(first[0].url, status=404, request=first[0])
    refill = fail(first[0], HttpError(not_found, "404"))
    assert [r.url for r in refill] == [f"{SITE}/p2.html"]
    assert spider.tally.http_errors == 1

    # Media and non-HTML responses do not count as pages either.
    assert page(first[1], "<p>1</p>") == []
    assert page(refill[0], "<p>2</p>") == []
    assert spider.tally.pages == 3


def test_non_html_page_response_is_not_a_page(tmp_path: Path) -> None:
    spider, _ = make_spider(tmp_path)
    (home,) = start(spider)
    home.callback(Response(home.url, body=b"%PDF", request=home))  # type: ignore[misc]
    assert spider.tally.pages == 0


def test_depth_links_scope_and_canonical_dedup(tmp_path: Path) -> None:
    spider, _ = make_spider(tmp_path, max_depth=1)
    (home,) = start(spider)
    out = by_kind(
        page(
            home,
            '<a href="/a.html?utm_source=x">a</a><a href="/a.html#top">a</a>'
            '<a href="http://KINO.example.kz:80/a.html">a</a><a href="http://other.kz/">o</a>'
            '<a href="http://www.kino.example.kz/w">w</a><a href="/">home</a>',
        ),
        PAGE,
    )
    assert [r.url for r in out] == [f"{SITE}/a.html?utm_source=x", "http://www.kino.example.kz/w"]
    assert all(r.meta["tanba_depth"] == 1 for r in out)
    # Depth 1 is max_depth: its links are not followed.
    assert by_kind(page(out[0], '<a href="/deeper.html">d</a>'), PAGE) == []


def test_ignored_requests_are_not_errors_but_other_failures_are(tmp_path: Path) -> None:
    spider, _ = make_spider(tmp_path)
    (home,) = start(spider)
    fail(home, IgnoreRequest("Forbidden by robots.txt"))  # counted by robots.txt/guard/scope
    assert spider.tally.errors == 0

    spider, _ = make_spider(tmp_path / "other")
    (home,) = start(spider)
    fail(home, ConnectionRefusedError())
    assert spider.tally.errors == 1


def test_closed_flushes_the_sink_and_closes_the_warc(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    (home,) = start(spider)
    page(home, "<p>x</p>")
    spider.closed("finished")
    assert sink.flushes == 1
    assert (tmp_path / "captures/c1/kino.warc.gz").stat().st_size > 0


def test_for_target_carries_the_target_settings(tmp_path: Path) -> None:
    target = Target(name="kino-site", seeds=(f"{SITE}/",), delay_s=2.0)
    cls = SiteSpider.for_target(target, Settings(home=tmp_path))
    assert issubclass(cls, SiteSpider) and cls.name == "kino-site"
    assert cls.custom_settings["DOWNLOAD_DELAY"] == 2.0  # type: ignore[index]


@pytest.mark.parametrize("length", [2083, 3000])
def test_overlong_urls_are_not_queued(tmp_path: Path, length: int) -> None:
    spider, _ = make_spider(tmp_path)
    (home,) = start(spider)
    long_link = "/" + "a" * (length - len(SITE) - 1)
    out = by_kind(page(home, f'<a href="{long_link}">x</a>'), PAGE)
    assert len(out) == (1 if length <= 2083 else 0)


def test_each_url_shape_gets_its_share_of_pages_and_failures_give_it_back(
    tmp_path: Path,
) -> None:
    spider, _ = make_spider(tmp_path, max_pages=50, max_pages_per_pattern=2, max_depth=10)
    (home,) = start(spider)
    links = "".join(f'<a href="/day?d={i}">{i}</a>' for i in range(5)) + '<a href="/a/">loop</a>'
    out = by_kind(page(home, links), PAGE)
    assert [r.url for r in out] == [f"{SITE}/day?d=0", f"{SITE}/day?d=1", f"{SITE}/a/"]
    assert spider.tally.traps == 3  # d=2..4: the shape /day?d had its two pages

    # A failed page gives its share back: the next link of that shape may go.
    spider, _ = make_spider(tmp_path / "2", max_pages=50, max_pages_per_pattern=1)
    (home,) = start(spider)
    first, loop = by_kind(page(home, '<a href="/day?d=0">0</a><a href="/a/">a</a>'), PAGE)
    assert by_kind(fail(first, ConnectionRefusedError()), PAGE) == []
    assert [r.url for r in by_kind(page(loop, '<a href="/day?d=1">1</a>'), PAGE)] == [
        f"{SITE}/day?d=1"
    ]


def test_looping_paths_are_not_followed(tmp_path: Path) -> None:
    spider, _ = make_spider(tmp_path, max_depth=20)
    (request,) = start(spider)
    for _ in range(5):
        out = by_kind(page(request, '<a href="a/">deeper</a>'), PAGE)
        if not out:
            break
        (request,) = out
    assert request.url == f"{SITE}/a/a/a/" and spider.tally.traps == 1


class FullDisk(BlobStore):
    """A blob store whose disk is full until ``space_back`` is set."""

    space_back = False

    def put(self, data: bytes) -> str:
        if not self.space_back:
            raise DiskFull("disk full: cannot write the blob (test)")
        return super().put(data)


def test_a_full_disk_parks_the_response_and_nothing_is_lost(tmp_path: Path) -> None:
    spider, sink = make_spider(tmp_path)
    spider.blobs = FullDisk(tmp_path / "blobs")
    (home,) = start(spider)
    (photo,) = by_kind(page(home, '<img src="/a.jpg">'), MEDIA)
    media(photo)
    assert sink.records == [] and spider.tally.paused == 1
    assert spider.tally.media_downloaded == 0  # nothing counted for the refused write
    spider.retry_parked()  # still full: stays parked
    assert sink.records == []
    spider.blobs.space_back = True  # type: ignore[attr-defined]
    spider.retry_parked()
    assert [e.occurrence.media_url for e in sink.events()] == [f"{SITE}/a.jpg"]
    assert spider.tally.media_downloaded == 1 and spider.tally.paused == 1


class FullSink(ListSink):
    """A sink that keeps records but cannot publish them until ``space_back`` is set."""

    space_back = False

    def add(self, record: Record) -> None:
        super().add(record)
        if not self.space_back:
            raise DiskFull("disk full: cannot write the embedded bus (test)")

    def flush(self) -> None:
        if not self.space_back:
            raise DiskFull("disk full: cannot write the embedded bus (test)")
        super().flush()


def test_a_bus_that_cannot_publish_pauses_the_crawl_until_it_can(tmp_path: Path) -> None:
    spider, _ = make_spider(tmp_path)
    sink = FullSink()
    spider.sink = sink
    (home,) = start(spider)
    (photo,) = by_kind(page(home, '<img src="/a.jpg">'), MEDIA)
    media(photo)
    assert spider.tally.paused == 1 and len(sink.records) == 1  # kept, not lost
    sink.space_back = True
    spider.retry_parked()
    assert sink.flushes == 1
    spider.closed("finished")  # the last flush goes through too
    assert sink.flushes == 2
