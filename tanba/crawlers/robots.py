"""robots.txt, obeyed as Scrapy does, with a refusal that says so.

Contract: :class:`RobotsMiddleware` is Scrapy's ``RobotsTxtMiddleware`` (same
rules, same ``robotstxt/forbidden`` statistic) except that a request robots.txt
forbids fails with :class:`RobotsForbidden`, an ``IgnoreRequest`` of its own, so
:mod:`tanba.crawlers.failures` can list it as a robots.txt refusal and not guess
from the message text. Scrapy's log line for a robots.txt it could not fetch
loses its traceback (the page request fails the same way and is listed).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from scrapy.robotstxt import RobotParser

_SCRAPY_ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"


class _OneLine(logging.Filter):
    """Keeps Scrapy's "Error downloading robots.txt" line, drops its traceback.

    A robots.txt that cannot be fetched (a name that does not resolve, a refused
    connection) is followed by the page request failing the same way, which the
    crawl lists with its reason; fifty lines of traceback add nothing to that.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


class RobotsForbidden(IgnoreRequest):
    """robots.txt of the request's host forbids it to Tanba's user agent."""


class RobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, raising :class:`RobotsForbidden` (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        robots_logger = logging.getLogger(_SCRAPY_ROBOTS_LOGGER)
        if not any(isinstance(f, _OneLine) for f in robots_logger.filters):
            robots_logger.addFilter(_OneLine())

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except RobotsForbidden:
            raise
        except IgnoreRequest as exc:
            raise RobotsForbidden(f"robots.txt forbids {request.url}") from exc
