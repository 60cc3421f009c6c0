"""What Tanba's own item pipelines share: built from the crawler, writing through its TargetCrawl.

Contract: a :class:`TargetPipeline` is made by Scrapy with ``from_crawler``
(:class:`~tanba.crawlers.component.CrawlerComponent`) and reaches the target's crawl (its gate, WARC file, blob store, sink and tally)
through :attr:`TargetPipeline.target_crawl`, looked up on the crawler's spider
(:meth:`tanba.crawlers.context.TargetCrawl.of`).
"""

from __future__ import annotations

from tanba.crawlers.component import CrawlerComponent
from tanba.crawlers.context import TargetCrawl


class TargetPipeline(CrawlerComponent):
    """Base of the capture and publish pipelines (see the module doc)."""

    @property
    def target_crawl(self) -> TargetCrawl:
        return TargetCrawl.of(self.crawler)
