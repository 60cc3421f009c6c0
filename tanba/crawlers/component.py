"""The base of Tanba's Scrapy components (middlewares, item pipelines) that keep their crawler.

Contract: Scrapy builds a component with ``from_crawler(crawler)``
(``scrapy.utils.misc.build_from_crawler``); a :class:`CrawlerComponent` is built
as ``cls(crawler)`` and keeps it as :attr:`crawler`, through which it reaches the
settings and the spider (its target, its TargetCrawl). A subclass whose
constructor takes more (keyword arguments for tests) calls ``super().__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class CrawlerComponent:
    """A Scrapy component made from, and keeping, the crawler (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)
