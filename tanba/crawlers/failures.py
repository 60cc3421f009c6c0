"""What a failed request counts as in its target's tally, for pages and media alike.

Contract: :func:`count_failure` adds one failed request to the tally: an HTTP
error status as ``http_errors``; a download Scrapy cancelled at its size cap
as ``too_large``; a request a middleware refused (robots.txt, the scope, the
address guard) as nothing here, since those keep their own counters (robots.txt
refusals are copied from Scrapy's stats by :func:`sync_robots`); anything else
as ``errors``, logged as a warning with its message.

Why one function: the spider (pages) and the media pipeline (media) must
count a failure the same way, or the per-target counters would depend on
which of them saw it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError

from tanba.crawlers.stats import TargetStats

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector
    from twisted.python.failure import Failure

ROBOTS_FORBIDDEN_STAT = "robotstxt/forbidden"

log = logging.getLogger(__name__)


def count_failure(tally: TargetStats, failure: Failure, stats: StatsCollector | None) -> None:
    """Count ``failure`` in ``tally`` (see the module doc)."""
    if failure.check(HttpError):
        tally.http_errors += 1
    elif failure.check(DownloadCancelledError, CancelledError):
        # Scrapy cancels a download at download_maxsize: up front when Content-Length
        # says so (DownloadCancelledError), mid-body otherwise (Twisted's CancelledError).
        tally.too_large += 1
    elif failure.check(IgnoreRequest):
        sync_robots(tally, stats)  # robots.txt, scope and the address guard count these
    else:
        tally.errors += 1
        log.warning("fetch failed: %s", failure.getErrorMessage())


def sync_robots(tally: TargetStats, stats: StatsCollector | None) -> None:
    """Copy Scrapy's count of requests robots.txt forbade into ``tally``."""
    if stats is not None:
        tally.robots_disallowed = int(stats.get_value(ROBOTS_FORBIDDEN_STAT, 0) or 0)
