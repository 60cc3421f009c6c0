"""tanba.crawlers.spiders.site, driven by hand (no reactor): page items, budget, depth, traps, counters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from tanba.core.blobs import FileBlobStore
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.items import PageItem
from tanba.crawlers.pipelines import ITEM_PIPELINES
from tanba.crawlers.scope import KIND_META, PAGE
from tanba.crawlers.spiders.site import SiteSpider
from tests.crawlers.sinks import ListSink

SITE = "http://kino.example.kz"
PHOTO = "http://cdn.example.ru/img/photo.jpg"


def make_spider(tmp_path: Path, **target: object) -> SiteSpider:
    fields: dict[str, object] = {"name": "kino", "seeds": (f"{SITE}/",), "jurisdiction": "KZ"}
    fields.update(target)
    target_crawl = TargetCrawl(
        target=Target(**fields),  # type: ignore[arg-type]
        settings=Settings(home=tmp_path, page_max_bytes=1000, media_max_bytes=5000),
        crawl_id="c1",
        blobs=FileBlobStore(tmp_path / "blobs"),
        sink=ListSink(),
        captures_dir=tmp_path / "captures",
        clock=FixedClock("2026-01-01T00:00:00Z"),
    )
    return SiteSpider(target_crawl=target_crawl)


def start(spider: SiteSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    return asyncio.run(collect())


def page(request: Request, body: str, **headers: str) -> list[PageItem | Request]:
    response = HtmlResponse(
        request.url, body=body.encode(), request=request, headers=headers, encoding="utf-8"
    )
    return list(request.callback(response))  # type: ignore[misc]


def fail(request: Request, exc: Exception) -> list[Request]:
    failure = Failure(exc)
    failure.request = request  # type: ignore[attr-defined]
    return list(request.errback(failure) or [])  # type: ignore[misc]


def pages(out: list[PageItem | Request]) -> list[Request]:
    return [r for r in out if isinstance(r, Request)]


def items(out: list[PageItem | Request]) -> list[PageItem]:
    return [i for i in out if isinstance(i, PageItem)]


def test_a_page_gives_one_item_with_its_media_then_its_links(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    assert home.meta["download_maxsize"] == 1000 and home.meta[KIND_META] == PAGE
    out = page(
        home,
        f'<html lang="kk"><title>Home</title><a href="/a.html">a</a><img src="{PHOTO}">'
        '<video src="/v.mp4"></video><img src="/a.jpg"></html>',
    )
    (item,) = items(out)
    assert out[0] is item  # the item before the pages it links to
    assert [r.url for r in pages(out)] == [f"{SITE}/a.html"]
    assert (item.url, item.site, item.title, item.lang) == (
        f"{SITE}/",
        "kino.example.kz",
        "Home",
        "kk",
    )
    assert [(m.url, m.kind_hint) for m in item.media] == [
        (PHOTO, "image"),
        (f"{SITE}/v.mp4", "video"),
        (f"{SITE}/a.jpg", "image"),
    ]
    assert item.response is not None and item.response.url == f"{SITE}/"
    assert item.capture is None and item.fetched == []  # the pipelines' to fill in
    assert spider.tally.pages == 1 and spider.tally.media_found == 3
    assert spider.tally.page_urls == [f"{SITE}/"]


def test_the_item_carries_the_referrer_policy_of_the_page(tmp_path: Path) -> None:
    crawler = get_crawler(SiteSpider)
    spider = SiteSpider.from_crawler(crawler, target_crawl=make_spider(tmp_path).target_crawl)
    (home,) = start(spider)
    (item,) = items(page(home, "<p>x</p>"))
    assert item.referrer_policy is not None
    assert item.referrer_policy.referrer(item.url, PHOTO) == f"{SITE}/"
    (home,) = start(make_spider(tmp_path / "2"))
    (strict,) = items(page(home, "<p>x</p>", **{"Referrer-Policy": "no-referrer"}))
    assert strict.referrer_policy is None  # a spider without a crawler: no RefererMiddleware
    spider = SiteSpider.from_crawler(
        get_crawler(SiteSpider), target_crawl=make_spider(tmp_path / "3").target_crawl
    )
    (home,) = start(spider)
    (strict,) = items(page(home, "<p>x</p>", **{"Referrer-Policy": "no-referrer"}))
    assert strict.referrer_policy is not None
    assert strict.referrer_policy.referrer(strict.url, PHOTO) is None  # the page said so


def test_every_page_reports_its_media_also_media_seen_before(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    out = page(home, f'<a href="/b.html">b</a><img src="{PHOTO}">')
    (item_b,) = items(page(pages(out)[0], f'<img src="{PHOTO}#x">'))
    assert [m.url for m in item_b.media] == [PHOTO]  # de-duplication is the pipeline's
    assert spider.tally.media_found == 2


def test_content_language_header_when_html_has_no_lang(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    (item,) = items(page(home, '<img src="/a.jpg">', **{"Content-Language": "ru, en"}))
    assert item.lang == "ru"


def test_max_pages_counts_pages_and_failures_free_the_budget(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, max_pages=3)
    (home,) = start(spider)
    links = "".join(f'<a href="/p{i}.html">{i}</a>' for i in range(5))
    first = pages(page(home, links))
    assert [r.url for r in first] == [f"{SITE}/p0.html", f"{SITE}/p1.html"]  # 1 done + 2 in flight

    # p0 is a 404: it does not count, so p2 takes its place.
    not_found = Response(first[0].url, status=404, request=first[0])
    refill = fail(first[0], HttpError(not_found, "404"))
    assert [r.url for r in refill] == [f"{SITE}/p2.html"]
    assert spider.tally.http_errors == 1

    assert pages(page(first[1], "<p>1</p>")) == []
    assert pages(page(refill[0], "<p>2</p>")) == []
    assert spider.tally.pages == 3


def test_non_html_page_response_is_not_a_page(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    out = list(home.callback(Response(home.url, body=b"%PDF", request=home)))  # type: ignore[misc]
    assert out == [] and spider.tally.pages == 0


def test_a_page_reached_twice_through_redirects_is_one_item(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    a, b = pages(page(home, '<a href="/a.html">a</a><a href="/b.html">b</a>'))
    assert len(items(page(a, "<p>same</p>"))) == 1
    # /b.html redirected to /a.html: Scrapy hands the spider a response for /a.html again.
    again = HtmlResponse(a.url, body=b"<p>same</p>", request=b, encoding="utf-8")
    assert items(list(b.callback(again))) == []  # type: ignore[misc]
    assert spider.tally.pages == 2


def test_depth_links_scope_and_canonical_dedup(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, max_depth=1)
    (home,) = start(spider)
    out = pages(
        page(
            home,
            '<a href="/a.html?utm_source=x">a</a><a href="/a.html#top">a</a>'
            '<a href="http://KINO.example.kz:80/a.html">a</a><a href="http://other.kz/">o</a>'
            '<a href="http://www.kino.example.kz/w">w</a><a href="/">home</a>',
        )
    )
    assert [r.url for r in out] == [f"{SITE}/a.html?utm_source=x", "http://www.kino.example.kz/w"]
    assert all(r.meta["tanba_depth"] == 1 for r in out)
    # Depth 1 is max_depth: its links are not followed.
    assert pages(page(out[0], '<a href="/deeper.html">d</a>')) == []


def test_ignored_requests_are_not_errors_but_other_failures_are(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    fail(home, IgnoreRequest("Forbidden by robots.txt"))  # counted by robots.txt/guard/scope
    assert spider.tally.errors == 0

    spider = make_spider(tmp_path / "other")
    (home,) = start(spider)
    fail(home, ConnectionRefusedError())
    assert spider.tally.errors == 1


def test_an_error_signal_of_this_spider_counts_as_an_error(tmp_path: Path) -> None:
    spider, other = make_spider(tmp_path), make_spider(tmp_path / "other")
    spider._on_error(Failure(ValueError("bug")), spider=spider, item=None)
    spider._on_error(Failure(ValueError("bug")), spider=other, response=None)
    assert spider.tally.errors == 1 and other.tally.errors == 0


def test_for_target_carries_the_target_settings(tmp_path: Path) -> None:
    target = Target(name="kino-site", seeds=(f"{SITE}/",), delay_s=2.0)
    cls = SiteSpider.for_target(target, Settings(home=tmp_path))
    assert issubclass(cls, SiteSpider) and cls.name == "kino-site"
    assert cls.custom_settings is not None
    assert cls.custom_settings["DOWNLOAD_DELAY"] == 2.0
    assert cls.custom_settings["ITEM_PIPELINES"] == ITEM_PIPELINES


@pytest.mark.parametrize("length", [2083, 3000])
def test_overlong_urls_are_not_queued(tmp_path: Path, length: int) -> None:
    spider = make_spider(tmp_path)
    (home,) = start(spider)
    long_link = "/" + "a" * (length - len(SITE) - 1)
    out = pages(page(home, f'<a href="{long_link}">x</a>'))
    assert len(out) == (1 if length <= 2083 else 0)


def test_each_url_shape_gets_its_share_of_pages_and_failures_give_it_back(
    tmp_path: Path,
) -> None:
    spider = make_spider(tmp_path, max_pages=50, max_pages_per_pattern=2, max_depth=10)
    (home,) = start(spider)
    links = "".join(f'<a href="/day?d={i}">{i}</a>' for i in range(5)) + '<a href="/a/">loop</a>'
    out = pages(page(home, links))
    assert [r.url for r in out] == [f"{SITE}/day?d=0", f"{SITE}/day?d=1", f"{SITE}/a/"]
    assert spider.tally.traps == 3  # d=2..4: the shape /day?d had its two pages

    # A failed page gives its share back: the next link of that shape may go.
    spider = make_spider(tmp_path / "2", max_pages=50, max_pages_per_pattern=1)
    (home,) = start(spider)
    first, loop = pages(page(home, '<a href="/day?d=0">0</a><a href="/a/">a</a>'))
    assert fail(first, ConnectionRefusedError()) == []
    assert [r.url for r in pages(page(loop, '<a href="/day?d=1">1</a>'))] == [f"{SITE}/day?d=1"]


def test_looping_paths_are_not_followed(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, max_depth=20)
    (request,) = start(spider)
    for _ in range(5):
        out = pages(page(request, '<a href="a/">deeper</a>'))
        if not out:
            break
        (request,) = out
    assert request.url == f"{SITE}/a/a/a/" and spider.tally.traps == 1
