"""The capture pipeline: each page's WARC record, on disk before anything refers to it.

Contract: :meth:`CapturePipeline.process_item` appends the page's request and
response records to the target's WARC file (fsync'd), sets the item's
``capture`` to where the response record is, and lets go of the response
(an item may wait a while for its media; the page's bytes need not wait with
it). A full disk pauses the crawl until the record is written (see
:mod:`crawlers.gate`). :meth:`CapturePipeline.close_spider` closes the WARC
file once every item is through.

Why first: every event names the capture of its page, so the capture must be
durable before the media pipeline and the publish pipeline run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from crawlers.context import TargetCrawl
from crawlers.items import PageItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class CapturePipeline:
    """Writes each page's WARC record (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: PageItem) -> PageItem:
        target_crawl = TargetCrawl.of(self.crawler)
        response = item.response
        if response is not None:
            item.capture = await target_crawl.gate.write(
                lambda: target_crawl.warc().write(response)
            )
            item.response = None
        return item

    def close_spider(self) -> None:
        TargetCrawl.of(self.crawler).close()
