"""Honouring ``429 Too Many Requests`` and ``Retry-After``: wait as the server asks, bounded.

Contract: :class:`RetryAfterMiddleware` (a Scrapy downloader middleware) turns
a ``429`` response, or a ``503`` that carries ``Retry-After``, into a retry of
the same request after the wait the server asked for (:func:`retry_after_s`:
delta-seconds or an HTTP date; ``DEFAULT_WAIT_S`` when a 429 names none). The
wait applies to the whole host: every request to it, queued or new, is held
back until then, so the crawler slows down as a whole rather than hammering
the site with the other URLs. Bounds: a request is retried at most
``TANBA_RETRY_AFTER_TIMES`` times, and a wait longer than
``TANBA_RETRY_AFTER_MAX_S`` is not waited out (the host is still held back for
that maximum, and the response goes on as the HTTP error it is). Retries are
counted as ``throttled``.

Why: Scrapy's RetryMiddleware retries 429 at once and ignores ``Retry-After``;
a crawler that does so is rude, gets banned, and loses the pages it was told
to fetch later. 429 is removed from Scrapy's ``RETRY_HTTP_CODES`` so only this
middleware handles it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import task

from tanba.crawlers.component import CrawlerComponent

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

MAX_WAIT_SETTING = "TANBA_RETRY_AFTER_MAX_S"
TIMES_SETTING = "TANBA_RETRY_AFTER_TIMES"
DEFAULT_MAX_WAIT_S = 120.0
DEFAULT_TIMES = 3
DEFAULT_WAIT_S = 10.0  # a 429 without Retry-After
_RETRIES_META = "tanba_retry_after"


def retry_after_s(value: str | bytes | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class RetryAfterMiddleware(CrawlerComponent):
    """Downloader middleware: retry 429s after ``Retry-After``, holding the host back meanwhile."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(crawler)
        self.max_wait_s = crawler.settings.getfloat(MAX_WAIT_SETTING, DEFAULT_MAX_WAIT_S)
        self.times = crawler.settings.getint(TIMES_SETTING, DEFAULT_TIMES)
        self._wall = wall
        self._monotonic = monotonic
        self._not_before: dict[str, float] = {}  # host -> monotonic time it may be asked again

    def wait_for(self, request: Request) -> float:
        """Seconds ``request``'s host must still be left alone (0 when none)."""
        host = urlparse_cached(request).hostname or ""
        return max(0.0, self._not_before.get(host, 0.0) - self._monotonic())

    async def process_request(self, request: Request) -> None:
        # Re-check after each sleep: another 429 may have pushed the time back meanwhile.
        while (wait := self.wait_for(request)) > 0:
            from twisted.internet import reactor

            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))

    def process_response(self, request: Request, response: Response) -> Request | Response:
        header = response.headers.get(b"Retry-After")
        if response.status != 429 and not (response.status == 503 and header):
            return response
        asked = retry_after_s(header, self._wall())
        wait = DEFAULT_WAIT_S if asked is None else asked
        host = urlparse_cached(request).hostname or ""
        held = min(wait, self.max_wait_s)
        self._not_before[host] = max(self._not_before.get(host, 0.0), self._monotonic() + held)
        retries = int(request.meta.get(_RETRIES_META, 0))
        if retries >= self.times or wait > self.max_wait_s:
            return response  # given up: the spider counts it as the HTTP error it is
        tally = getattr(self.crawler.spider, "tally", None)
        if tally is not None:
            tally.throttled += 1
        retry = request.replace(dont_filter=True)
        retry.meta[_RETRIES_META] = retries + 1
        return retry
