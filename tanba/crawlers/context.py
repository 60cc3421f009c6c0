"""One target's crawl: the target, its counters, and where its item pipelines write.

Contract: the runner makes one :class:`TargetCrawl` per target and passes it to
the target's spider (``SiteSpider(target_crawl=...)``); the spider and the
middlewares count in its ``tally``, and the item pipelines find it with
:meth:`TargetCrawl.of` and write through it: :meth:`TargetCrawl.warc` (the
target's WARC file ``captures/<crawl_id>/<target key>.warc.gz``, opened at the
first record and shared by page and media captures), ``blobs``, ``sink`` (the
events), all under one :class:`~tanba.crawlers.gate.WriteGate` so a full disk or bus
pauses the target's crawl as a whole. :meth:`TargetCrawl.close` closes the
WARC file.

Why a context object: Scrapy builds the pipelines itself, from the crawler;
the spider is what each crawler already has one of, so it carries this to them.
Scrapy's settings cannot carry it: they are copied deeply, and a bus or a
store must not be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tanba.core.blobs import BlobStore
from tanba.core.captures import Captures
from tanba.core.clock import Clock, SystemClock
from tanba.core.exceptions import TanbaError
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.crawlers.gate import Pausable, WriteGate, no_engine
from tanba.crawlers.publish import RecordSink
from tanba.crawlers.stats import TargetStats
from tanba.crawlers.warc import WarcWriter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)


@dataclass
class TargetCrawl:
    """Everything one target's crawl counts and writes (see the module doc)."""

    target: Target
    settings: Settings
    crawl_id: str
    blobs: BlobStore
    sink: RecordSink
    captures_dir: Path
    # Where the WARC file goes once closed (an object store); None: captures_dir is the store.
    captures: Captures | None = None
    clock: Clock = field(default_factory=SystemClock)
    tally: TargetStats = field(default_factory=TargetStats)
    # The crawler's engine, once it has one (the gate pauses it); none outside a crawl.
    engine: Callable[[], Pausable | None] = no_engine
    # Set, the WARC file is this run's own (``<target key>.<attempt>.warc.gz``): see warc_name.
    attempt: str = ""
    gate: WriteGate = field(init=False)
    _warc: WarcWriter | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.gate = WriteGate(self.target.name, self.tally, engine=self.engine)

    @staticmethod
    def of(crawler: Crawler) -> TargetCrawl:
        """The TargetCrawl of ``crawler``'s spider; a TypeError for any other spider."""
        target_crawl = getattr(crawler.spider, "target_crawl", None)
        if not isinstance(target_crawl, TargetCrawl):
            raise TypeError(
                f"spider {crawler.spider!r} has no TargetCrawl: Tanba's pipelines run only "
                "behind tanba.crawlers.spiders.site.SiteSpider (start crawls with tanba.crawlers.runner.crawl)"
            )
        return target_crawl

    def warc(self) -> WarcWriter:
        """The target's WARC writer (opened, or repaired after a crash, on first use)."""
        if self._warc is None:
            if self.captures is not None:
                # A run's own name (attempt) was never stored: nothing to fetch first.
                self.captures.prepare(self.warc_name, new=bool(self.attempt))
            self._warc = WarcWriter(self.captures_dir, self.warc_name, clock=self.clock)
        return self._warc

    @property
    def warc_name(self) -> str:
        """The WARC file's name under the captures, ``<crawl_id>/<target key>.warc.gz``.

        With ``attempt``, ``<crawl_id>/<target key>.<attempt>.warc.gz``: a crawl job re-run
        on another machine (its crawler killed) must not store a file of the name the
        killed run's spool still holds, which that machine uploads when it comes back
        and which would replace the re-run's (whose events point into it).
        """
        if self.attempt:
            return f"{self.crawl_id}/{self.target.key}.{self.attempt}.warc.gz"
        return f"{self.crawl_id}/{self.target.key}.warc.gz"

    def publish(self) -> None:
        """Store the closed WARC file (object storage); a failure is logged, not raised.

        The file stays marked unpublished, and the runner publishes it when the crawl
        ends (or the next crawl starts), so a store that is down costs no capture.
        """
        if self.captures is None or self._warc is None:
            return
        try:
            self.captures.publish(self.warc_name)
        except TanbaError as exc:
            log.warning("%s: capture kept on this machine for now: %s", self.target.name, exc)

    def close(self) -> None:
        """Close the WARC file (every record in it is already on disk)."""
        if self._warc is not None:
            self._warc.close()
