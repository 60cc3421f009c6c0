"""SiteSpider: finds the pages of one target's site and the media on them.

Contract (one spider instance per target per crawl):

- Starts from the target's seeds and follows links within ``allowed_domains``
  up to ``max_depth`` links from a seed, fetching at most ``max_pages`` HTML
  pages (non-HTML responses and media do not count), each canonical URL once
  (:func:`tanba.crawlers.urls.canonicalize`).
- For each HTML page it yields one :class:`~tanba.crawlers.items.PageItem`: the
  page's URL, site, title and language, its response, and the media it
  references (:func:`tanba.crawlers.extract.extract`; for a target with
  ``render: true`` also what its scripts built and asked for in Chromium,
  :mod:`tanba.crawlers.render`), counted as ``media_found``, and the players it
  embeds (its ``frames``, fetched by :mod:`tanba.crawlers.pipelines.players`).
  What happens to them is the item pipelines' work (:mod:`tanba.crawlers.pipelines`):
  the page's WARC record, each media URL downloaded once per crawl (from any
  host, still subject to robots.txt and the private-address guard), the blob
  and the media's WARC record, and one ``MediaDiscovered`` per (page, media
  URL) pair, also when the media URL was already fetched, or is still being
  fetched, for an earlier page. Only status-200 media are published; a full
  disk or a bus that cannot take events pauses the crawl without losing
  anything fetched (:mod:`tanba.crawlers.gate`).
- Counters go to the target crawl's :class:`~tanba.crawlers.stats.TargetStats`
  (``tally``): pages here, failed page requests as
  :func:`tanba.crawlers.failures.count_failure` says, errors raised by a callback or
  a pipeline as ``errors``.
- Crawler traps: a link whose path loops (:func:`tanba.crawlers.urls.trap_reason`)
  is not followed, and each URL shape (:func:`tanba.crawlers.urls.pattern_of`) gets
  at most ``target.pattern_budget`` pages, so an endless calendar cannot use
  up ``max_pages``; both count as ``traps``.

Why the spider keeps its own frontier instead of yielding every link at once:
``max_pages`` counts pages actually fetched, and a link that fails (404,
refused by robots.txt) must not use up the budget. Links wait in the frontier
and are released as budget frees up; requests that never come back (scheduler
drops) are covered by re-pumping the frontier when the spider goes idle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.spidermiddlewares.referer import RefererMiddleware, ReferrerPolicy
from twisted.python.failure import Failure

from tanba.core.clock import iso
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.extract import extract
from tanba.crawlers.failures import count_failure, sync_robots
from tanba.crawlers.headers import first_header
from tanba.crawlers.items import PageItem
from tanba.crawlers.render import merge
from tanba.crawlers.scope import KIND_META, PAGE
from tanba.crawlers.settings import scrapy_settings
from tanba.crawlers.urls import canonicalize, host_of, in_domains, pattern_of, trap_reason

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

# Browsers and most servers stop around here; longer URLs are usually crawler traps.
MAX_URL_LENGTH = 2083
_DEPTH = "tanba_depth"
_PATTERN = "tanba_pattern"


class SiteSpider(Spider):
    """Crawls one :class:`~tanba.core.targets.Target` (see the module doc)."""

    name = "tanba-site"

    def __init__(self, *, target_crawl: TargetCrawl, **kwargs: Any) -> None:
        super().__init__(name=target_crawl.target.name, **kwargs)
        # The pipelines and middlewares find the crawl, its target and its tally here.
        self.target_crawl = target_crawl
        self.target = target_crawl.target
        self.tally = target_crawl.tally
        self.allowed_domains = list(self.target.allowed_domains)
        self._seen: set[str] = set()  # canonical page URLs ever queued
        self._parsed: set[str] = set()  # canonical URLs of pages parsed (after redirects)
        self._frontier: deque[tuple[str, int]] = deque()
        self._pages_in_flight = 0
        self._pattern_used: dict[str, int] = {}  # URL shape -> pages fetched or in flight
        self._referrers: RefererMiddleware | None = None
        self._closed = False

    @classmethod
    def for_target(cls, target: Target, settings: Settings) -> type[SiteSpider]:
        """A subclass carrying the target's Scrapy settings (Scrapy reads them per class)."""
        attrs = {"name": target.name, "custom_settings": scrapy_settings(settings, target)}
        return type(f"SiteSpider_{target.name.replace('-', '_')}", (cls,), attrs)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_error, signal=signals.spider_error)
        crawler.signals.connect(spider._on_error, signal=signals.item_error)
        crawler.signals.connect(spider._on_request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        try:
            # Media requests are made by the media pipeline, past the spider middlewares: the
            # item carries the page's referrer policy so they get the Referer these would give.
            spider._referrers = RefererMiddleware.from_crawler(crawler)
        except NotConfigured:  # REFERER_ENABLED is off: no Referer for anything
            spider._referrers = None
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for seed in self.target.seeds:
            self._enqueue(seed, depth=0)
        for request in self._pump():
            yield request

    def _enqueue(self, url: str, depth: int) -> None:
        if len(url) > MAX_URL_LENGTH or not in_domains(host_of(url), self.allowed_domains):
            return
        key = canonicalize(url)
        if key in self._seen:
            return
        self._seen.add(key)
        if trap_reason(url) is not None:
            self.tally.traps += 1
            return
        self._frontier.append((url, depth))

    def _pump(self) -> Iterator[Request]:
        """Page requests from the frontier, as many as the ``max_pages`` budget allows."""
        budget = self.target.pattern_budget
        while self._frontier and self.tally.pages + self._pages_in_flight < self.target.max_pages:
            url, depth = self._frontier.popleft()
            pattern = pattern_of(url)
            if self._pattern_used.get(pattern, 0) >= budget:
                self.tally.traps += 1  # this shape had its share of max_pages
                continue
            self._pattern_used[pattern] = self._pattern_used.get(pattern, 0) + 1
            self._pages_in_flight += 1
            yield Request(
                url,
                callback=self.parse_page,
                errback=self.page_failed,
                meta={
                    KIND_META: PAGE,
                    _DEPTH: depth,
                    _PATTERN: pattern,
                    "download_maxsize": self.target_crawl.settings.page_max_bytes,
                },
            )

    def _release_pattern(self, meta: dict[str, Any]) -> None:
        """A page request that did not become a page gives its shape's share back."""
        pattern = meta.get(_PATTERN)
        if pattern is not None and self._pattern_used.get(pattern, 0) > 0:
            self._pattern_used[pattern] -= 1

    def parse_page(self, response: Response) -> Iterator[PageItem | Request]:
        """The page's item (when it is a new HTML page within budget), then more pages."""
        self._pages_in_flight -= 1
        key = canonicalize(response.url)
        if (
            isinstance(response, HtmlResponse)
            and key not in self._parsed
            and self.tally.pages < self.target.max_pages
        ):
            self._parsed.add(key)
            self._seen.add(key)
            self.tally.pages += 1
            self.tally.page_urls.append(response.url)
            yield self._page(response)
        else:
            self._release_pattern(response.meta)
        yield from self._pump()

    def _page(self, response: HtmlResponse) -> PageItem:
        found = merge(extract(response.body, response.url), response)
        depth = int(response.meta.get(_DEPTH, 0))
        if depth < self.target.max_depth:
            for link in found.links:
                self._enqueue(link, depth + 1)
        self.tally.media_found += len(found.media)
        content_language = first_header(response, b"Content-Language").split(",")[0].strip()
        return PageItem(
            url=response.url,
            site=host_of(response.url),
            title=found.title,
            lang=found.lang or content_language,
            media=tuple(found.media),
            frames=tuple(found.frames),
            response=response,
            referrer_policy=self._referrer_policy(response),
        )

    def _referrer_policy(self, response: HtmlResponse) -> ReferrerPolicy | None:
        if self._referrers is None:
            return None
        # No media request carries a referrer_policy meta: the page's Referrer-Policy header
        # decides, or the REFERRER_POLICY setting.
        return self._referrers.policy(response, Request(response.url))

    def page_failed(self, failure: Failure) -> Iterator[Request]:
        self._pages_in_flight -= 1
        request = getattr(failure, "request", None)
        if request is not None:
            self._release_pattern(request.meta)
        count_failure(
            self.tally,
            failure,
            self._stats(),
            request,
            kind="page",
            at=iso(self.target_crawl.clock.now()),
        )
        yield from self._pump()

    def sync_stats(self) -> None:
        """Copy the counters Scrapy keeps (robots.txt refusals) into the tally."""
        if not self._closed:
            sync_robots(self.tally, self._stats())

    def _stats(self) -> StatsCollector | None:
        """Scrapy's stats of this spider's crawler (none when driven without one)."""
        crawler: Crawler | None = getattr(self, "crawler", None)
        return crawler.stats if crawler is not None else None

    def _on_error(self, failure: Failure, spider: Spider, **_: Any) -> None:
        """A callback (spider_error) or a pipeline (item_error) raised: one more error."""
        if spider is self:
            self.tally.errors += 1

    def _on_request_dropped(self, request: Request, spider: Spider) -> None:
        if spider is self and request.meta.get(KIND_META) == PAGE:
            self._pages_in_flight -= 1
            self._release_pattern(request.meta)

    def _on_idle(self, spider: Spider) -> None:
        if spider is not self:
            return
        requests = list(self._pump())
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    def closed(self, reason: str) -> None:
        self.sync_stats()
        self._closed = True
