"""SiteSpider: crawls one target's site and publishes every media file found on its pages.

Contract (one spider instance per target per crawl):

- Starts from the target's seeds and follows links within ``allowed_domains``
  up to ``max_depth`` links from a seed, fetching at most ``max_pages`` HTML
  pages (non-HTML responses and media do not count), each canonical URL once
  (:func:`crawlers.urls.canonicalize`).
- For each media URL a page references (:func:`crawlers.extract.extract`) it
  downloads the file once per crawl, from any host (CDNs), still subject to
  robots.txt and the private-address guard. Every (page, media URL) pair gives
  one ``MediaDiscovered`` event, also when the media URL was already fetched,
  or is still being fetched, for an earlier page.
- Page and media responses are appended to the target's WARC file
  ``captures/<crawl_id>/<target>.warc.gz``; media bytes go to the blob store;
  then the event is handed to the sink (a :class:`~crawlers.publish.BatchPublisher`)
  with key = the page's host. Only status-200 media are published.
- Counters go to the :class:`~crawlers.stats.TargetStats` passed as ``tally``.
- Crawler traps: a link whose path loops (:func:`crawlers.urls.trap_reason`)
  is not followed, and each URL shape (:func:`crawlers.urls.pattern_of`) gets
  at most ``target.pattern_budget`` pages, so an endless calendar cannot use
  up ``max_pages``; both count as ``traps``.
- A full disk (or a bus that cannot take events) pauses the crawl instead of
  losing what was fetched: the response whose capture or blob could not be
  written is parked with the engine paused, retried with backoff, and the
  crawl resumes once the write succeeds. The error is logged once per pause,
  saying where the disk is full.

Why the spider keeps its own frontier instead of yielding every link at once:
``max_pages`` counts pages actually fetched, and a link that fails (404,
refused by robots.txt) must not use up the budget. Links wait in the frontier
and are released as budget frees up; requests that never come back (scheduler
drops) are covered by re-pumping the frontier when the spider goes idle.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from crawlers.extract import MediaRef, extract
from crawlers.scope import KIND_META, MEDIA, PAGE
from crawlers.settings import scrapy_settings
from crawlers.stats import TargetStats
from crawlers.targets import Target
from crawlers.urls import canonicalize, host_of, in_domains, pattern_of, trap_reason
from crawlers.warc import WarcWriter
from tanba.blobs import BlobStore
from tanba.bus import Record
from tanba.clock import Clock, SystemClock, iso
from tanba.exceptions import TransientError
from tanba.schemas.base import encode
from tanba.schemas.common import CaptureRef, MediaOccurrence
from tanba.schemas.media import MediaDiscovered
from tanba.settings import Settings

# Browsers and most servers stop around here; longer URLs are usually crawler traps.
MAX_URL_LENGTH = 2083
_DEPTH = "tanba_depth"
_MEDIA_KEY = "tanba_media_key"
_PATTERN = "tanba_pattern"
# Backoff between attempts to write what a full disk refused.
_FIRST_RETRY_S = 1.0
_MAX_RETRY_S = 30.0

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    """Where events go: :class:`~crawlers.publish.BatchPublisher`, or a list in tests."""

    def add(self, record: Record) -> None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class PageContext:
    """What an occurrence needs to know about the page a media URL was found on."""

    url: str
    site: str
    title: str
    lang: str
    capture: CaptureRef


@dataclass(frozen=True)
class FetchedMedia:
    """The result of downloading one media URL, shared by all its occurrences."""

    sha256: str
    size: int
    content_type: str
    http_status: int
    headers: dict[str, str]
    server_ip: str
    fetched_at: str
    capture: CaptureRef


@dataclass
class MediaState:
    """One media URL of this crawl: occurrences waiting for it, then its result."""

    waiting: list[tuple[PageContext, MediaRef]] = field(default_factory=list)
    fetched: FetchedMedia | None = None
    failed: bool = False


class SiteSpider(Spider):
    """Crawls one :class:`~crawlers.targets.Target` (see the module doc)."""

    name = "tanba-site"

    def __init__(
        self,
        *,
        target: Target,
        tanba_settings: Settings,
        blobs: BlobStore,
        sink: RecordSink,
        captures_dir: Path,
        crawl_id: str,
        clock: Clock | None = None,
        tally: TargetStats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=target.name, **kwargs)
        self.target = target
        self.allowed_domains = list(target.allowed_domains)
        self.tanba_settings = tanba_settings
        self.blobs = blobs
        self.sink = sink
        self.captures_dir = Path(captures_dir)
        self.crawl_id = crawl_id
        self.clock: Clock = clock or SystemClock()
        self.tally = tally if tally is not None else TargetStats()
        self._seen: set[str] = set()  # canonical page URLs ever queued
        self._parsed: set[str] = set()  # canonical URLs of pages parsed (after redirects)
        self._frontier: deque[tuple[str, int]] = deque()
        self._pages_in_flight = 0
        self._media: dict[str, MediaState] = {}
        self._pattern_used: dict[str, int] = {}  # URL shape -> pages fetched or in flight
        # Writes a full disk refused, oldest first; each returns the requests it yields.
        self._parked: deque[Callable[[], list[Request]]] = deque()
        self._retry_s = _FIRST_RETRY_S
        self._warc: WarcWriter | None = None
        self._closed = False

    @classmethod
    def for_target(cls, target: Target, settings: Settings) -> type[SiteSpider]:
        """A subclass carrying the target's Scrapy settings (Scrapy reads them per class)."""
        attrs = {"name": target.name, "custom_settings": scrapy_settings(settings, target)}
        return type(f"SiteSpider_{target.name.replace('-', '_')}", (cls,), attrs)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_spider_error, signal=signals.spider_error)
        crawler.signals.connect(spider._on_request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider  # type: ignore[return-value]

    # -- pages ---------------------------------------------------------------------------

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
                    "download_maxsize": self.tanba_settings.page_max_bytes,
                },
            )

    def _release_pattern(self, meta: dict[str, Any]) -> None:
        """A page request that did not become a page gives its shape's share back."""
        pattern = meta.get(_PATTERN)
        if pattern is not None and self._pattern_used.get(pattern, 0) > 0:
            self._pattern_used[pattern] -= 1

    def parse_page(self, response: Response) -> Iterator[Request]:
        yield from self._durably(lambda: list(self._take_page(response)))
        yield from self._pump()

    def _take_page(self, response: Response) -> Iterator[Request]:
        key = canonicalize(response.url)
        if not (
            isinstance(response, HtmlResponse)
            and key not in self._parsed
            and self.tally.pages < self.target.max_pages
        ):
            self._pages_in_flight -= 1
            self._release_pattern(response.meta)
            return
        # The capture first: when the disk is full nothing has been counted yet, so the
        # parked page is taken again, whole, once space is back.
        capture = self._warc_writer().write(response)
        self._pages_in_flight -= 1
        self._parsed.add(key)
        self._seen.add(key)
        self.tally.pages += 1
        self.tally.page_urls.append(response.url)
        yield from self._page(response, capture)

    def _page(self, response: HtmlResponse, capture: CaptureRef) -> Iterator[Request]:
        found = extract(response.body, response.url)
        depth = int(response.meta.get(_DEPTH, 0))
        if depth < self.target.max_depth:
            for link in found.links:
                self._enqueue(link, depth + 1)
        content_language = _header(response, b"Content-Language").split(",")[0].strip()
        page = PageContext(
            url=response.url,
            site=host_of(response.url),
            title=found.title,
            lang=found.lang or content_language,
            capture=capture,
        )
        for ref in found.media:
            yield from self._media_on_page(page, ref)

    def page_failed(self, failure: Failure) -> Iterator[Request]:
        self._pages_in_flight -= 1
        request = getattr(failure, "request", None)
        if request is not None:
            self._release_pattern(request.meta)
        self._count_failure(failure)
        yield from self._pump()

    # -- media ---------------------------------------------------------------------------

    def _media_on_page(self, page: PageContext, ref: MediaRef) -> Iterator[Request]:
        self.tally.media_found += 1
        key = canonicalize(ref.url)
        state = self._media.get(key)
        if state is None:
            self._media[key] = MediaState(waiting=[(page, ref)])
            yield Request(
                ref.url,
                callback=self.parse_media,
                errback=self.media_failed,
                priority=1,  # before more pages: keeps occurrences waiting for it few
                meta={
                    KIND_META: MEDIA,
                    _MEDIA_KEY: key,
                    "download_maxsize": self.tanba_settings.media_max_bytes,
                    "allow_offsite": True,  # in case Scrapy's OffsiteMiddleware is re-enabled
                },
            )
        elif state.fetched is not None:
            self._publish(page, ref, state.fetched)
        elif not state.failed:
            state.waiting.append((page, ref))  # its download is in flight

    def parse_media(self, response: Response) -> list[Request]:
        return list(self._durably(lambda: self._take_media(response)))

    def _take_media(self, response: Response) -> list[Request]:
        state = self._media[response.meta[_MEDIA_KEY]]
        if response.status != 200:
            self.tally.http_errors += 1
            self._give_up(state)
            return []
        # Both writes before any state changes: a full disk parks the response unchanged.
        capture = self._warc_writer().write(response)
        sha256 = self.blobs.put(response.body)
        self.tally.media_downloaded += 1
        state.fetched = FetchedMedia(
            sha256=sha256,
            size=len(response.body),
            content_type=_header(response, b"Content-Type"),
            http_status=response.status,
            headers={_text(k): _text(v[0]) for k, v in response.headers.items() if v},
            server_ip=str(response.ip_address) if response.ip_address is not None else "",
            fetched_at=iso(self.clock.now()),
            capture=capture,
        )
        waiting, state.waiting = state.waiting, []
        for page, ref in waiting:
            self._publish(page, ref, state.fetched)
        return []

    def media_failed(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        key = request.meta.get(_MEDIA_KEY) if request is not None else None
        if key in self._media:
            self._give_up(self._media[key])
        self._count_failure(failure)

    def _give_up(self, state: MediaState) -> None:
        state.failed = True
        state.waiting = []

    def _publish(self, page: PageContext, ref: MediaRef, media: FetchedMedia) -> None:
        occurrence = MediaOccurrence(
            target=self.target.name,
            site=page.site,
            page_url=page.url,
            media_url=ref.url,
            page_title=page.title,
            page_lang=page.lang,
            sha256=media.sha256,
            size=media.size,
            content_type=media.content_type,
            http_status=media.http_status,
            headers=media.headers,
            server_ip=media.server_ip,
            fetched_at=media.fetched_at,
            jurisdiction_override=self.target.jurisdiction,
            crawl_id=self.crawl_id,
            page_capture=page.capture,
            media_capture=media.capture,
        )
        event = MediaDiscovered(occurrence=occurrence, kind_hint=ref.kind_hint)
        self.tally.media_published += 1
        try:
            self.sink.add(Record(key=page.site, value=encode(event)))
        except TransientError as exc:
            # The sink keeps the record; pause until it can publish again.
            self._park(lambda: _flushed(self.sink), exc)

    # -- a full disk ---------------------------------------------------------------------

    def _durably(self, take: Callable[[], list[Request]]) -> Iterator[Request]:
        """The requests ``take`` yields; if a write fails for now, park it and pause the crawl."""
        try:
            requests = take()
        except TransientError as exc:
            self._park(take, exc)
            return
        yield from requests

    def _park(self, retry: Callable[[], list[Request]], exc: TransientError) -> None:
        self._parked.append(retry)
        if len(self._parked) > 1:
            return  # already paused; the retry loop will take this one in turn
        self.tally.paused += 1
        log.error("%s: %s; crawl paused, nothing fetched is lost", self.target.name, exc)
        engine = self._engine()
        if engine is not None:
            engine.pause()
            self._retry_later()

    def _retry_later(self) -> None:
        from twisted.internet import reactor

        reactor.callLater(self._retry_s, self.retry_parked)  # type: ignore[attr-defined,arg-type]
        self._retry_s = min(self._retry_s * 2, _MAX_RETRY_S)

    def retry_parked(self) -> None:
        """Retry the parked writes in order; resume the crawl when all went through."""
        while self._parked:
            try:
                requests = self._parked[0]()
            except TransientError as exc:
                log.warning("%s: still paused: %s", self.target.name, exc)
                if self._engine() is not None:
                    self._retry_later()
                return
            self._parked.popleft()
            engine = self._engine()
            for request in requests:
                if engine is not None:
                    engine.crawl(request)
        self._retry_s = _FIRST_RETRY_S
        log.warning("%s: writes succeed again; crawl resumed", self.target.name)
        engine = self._engine()
        if engine is not None:
            engine.unpause()

    def _engine(self) -> Any:
        crawler = getattr(self, "crawler", None)
        return getattr(crawler, "engine", None) if crawler is not None else None

    # -- bookkeeping ---------------------------------------------------------------------

    def _count_failure(self, failure: Failure) -> None:
        if failure.check(HttpError):
            self.tally.http_errors += 1
        elif failure.check(DownloadCancelledError, CancelledError):
            # Scrapy cancels a download at download_maxsize: up front when Content-Length
            # says so (DownloadCancelledError), mid-body otherwise (Twisted's CancelledError).
            self.tally.too_large += 1
        elif failure.check(IgnoreRequest):
            self.sync_stats()  # robots.txt, scope and the address guard count these
        else:
            self.tally.errors += 1
            self.logger.warning("fetch failed: %s", failure.getErrorMessage())

    def sync_stats(self) -> None:
        """Copy the counters Scrapy keeps (robots.txt refusals) into the tally."""
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None and not self._closed:
            forbidden = crawler.stats.get_value("robotstxt/forbidden", 0)
            self.tally.robots_disallowed = int(forbidden or 0)

    def _warc_writer(self) -> WarcWriter:
        if self._warc is None:
            self._warc = WarcWriter(
                self.captures_dir,
                f"{self.crawl_id}/{self.target.name}.warc.gz",
                clock=self.clock,
            )
        return self._warc

    def _on_spider_error(self, failure: Failure, response: Response, spider: Spider) -> None:
        if spider is self:
            self.tally.errors += 1

    def _on_request_dropped(self, request: Request, spider: Spider) -> None:
        if spider is self and request.meta.get(KIND_META) == PAGE:
            self._pages_in_flight -= 1
            self._release_pattern(request.meta)

    def _on_idle(self, spider: Spider) -> None:
        if spider is not self:
            return
        if self._parked:
            raise DontCloseSpider  # waiting for disk space: the parked writes come first
        requests = list(self._pump())
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    def closed(self, reason: str) -> None:
        self.sync_stats()
        self._closed = True
        if self._warc is not None:
            self._warc.close()
        try:
            self.sink.flush()
        except TransientError as exc:  # the runner's last flush keeps retrying
            log.warning("%s: events not published yet: %s", self.target.name, exc)


def _flushed(sink: RecordSink) -> list[Request]:
    sink.flush()
    return []


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _header(response: Response, name: bytes) -> str:
    value = response.headers.get(name)
    return _text(value) if value else ""
