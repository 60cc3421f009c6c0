"""What Tanba's own item pipelines share: built from the crawler, writing through its TargetCrawl.

Contract: a :class:`TargetPipeline` is made by Scrapy with ``from_crawler`` and
reaches the target's crawl (its gate, WARC file, blob store, sink and tally)
through :attr:`TargetPipeline.target_crawl`, looked up on the crawler's spider
(:meth:`tanba.crawlers.context.TargetCrawl.of`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from tanba.crawlers.context import TargetCrawl

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class TargetPipeline:
    """Base of the capture and publish pipelines (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def target_crawl(self) -> TargetCrawl:
        return TargetCrawl.of(self.crawler)
