"""Scrapy settings derived from Tanba's Settings: the one place crawler knobs are mapped.

Contract:

- :func:`process_settings` gives the settings of the one ``CrawlerProcess``
  of a crawl: logging, the DNS resolver with the ``--resolve`` map, and the
  defaults every target shares.
- :func:`scrapy_settings` gives one target's settings (applied to its spider
  at "spider" priority): politeness (``DOWNLOAD_DELAY`` from the target or
  ``crawl_delay_s``, ``DOWNLOAD_DELAY_JITTER``, ``CONCURRENT_REQUESTS_PER_DOMAIN``),
  ``DOWNLOAD_TIMEOUT``, size caps, robots.txt, the user agent, Tanba's
  downloader middlewares and item pipelines (:mod:`tanba.crawlers.pipelines`).

Hostile sites are bounded here: ``DOWNLOAD_TIMEOUT`` is the time one request
may take in all (a server that drips bytes is cut off), ``download_maxsize``
(set per request by the spider, ``DOWNLOAD_MAXSIZE`` as the ceiling) cuts an
endless stream, ``REDIRECT_MAX_TIMES`` ends redirect chains and loops, and
:class:`~tanba.crawlers.throttle.RetryAfterMiddleware` honours ``429`` and
``Retry-After`` (so 429 is taken out of Scrapy's ``RETRY_HTTP_CODES``).

Why these choices:

- Scrapy's logs go at WARNING and no root handler is installed, so a caller
  running worker threads beside the crawl keeps its own log configuration.
- Scrapy's duplicate filter and OffsiteMiddleware are replaced by the
  spider's own canonical-URL de-duplication and :mod:`tanba.crawlers.scope`: both
  drop requests silently (no callback, no errback), which would leak the
  spider's count of pages in flight and so shrink ``max_pages``.
- Media requests follow redirects (``MEDIA_ALLOW_REDIRECTS``), as page
  requests do; Scrapy's media pipelines do not by default. They are
  de-duplicated by canonical URL (``REQUEST_FINGERPRINTER_CLASS``, which
  nothing else uses here: no duplicate filter, no HTTP cache).
- Scrapy 2.19 renamed two settings: ``TWISTED_DNS_RESOLVER`` (was
  ``DNS_RESOLVER``) and ``DOWNLOAD_DELAY_JITTER`` (replaces
  ``RANDOMIZE_DOWNLOAD_DELAY``); the old names still work but log
  deprecation warnings.
"""

from __future__ import annotations

from typing import Any

from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.crawlers.pipelines import FINGERPRINTER, ITEM_PIPELINES
from tanba.crawlers.resolve import RESOLVE_SETTING
from tanba.crawlers.throttle import DEFAULT_MAX_WAIT_S, DEFAULT_TIMES

LOG_LEVEL = "WARNING"
# Priorities: scope first (cheap, no I/O), then the address guard (may resolve a name),
# then Scrapy's robots.txt middleware at 100, whose robots.txt fetches pass both again.
SCOPE_MIDDLEWARE = "tanba.crawlers.scope.ScopeMiddleware"
# Targets with render: true. Its process_response runs after the guard's (lower numbers see
# responses later), so the address a page came from is checked before a browser renders it.
RENDER_MIDDLEWARE = "tanba.crawlers.render.RenderMiddleware"
GUARD_MIDDLEWARE = "tanba.crawlers.netguard.PrivateAddressMiddleware"
# After Scrapy's RetryMiddleware (550) on the way in, before it on the way out: a 429 is
# turned into a delayed retry here and never reaches it.
THROTTLE_MIDDLEWARE = "tanba.crawlers.throttle.RetryAfterMiddleware"
# Scrapy's robots.txt middleware, at its place, with a refusal of its own (tanba.crawlers.robots).
SCRAPY_ROBOTS_MIDDLEWARE = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"
ROBOTS_MIDDLEWARE = "tanba.crawlers.robots.RobotsMiddleware"
REDIRECT_MAX_TIMES = 5
MIN_DOWNLOAD_DELAY_S = 0.001
# Scrapy's default list without 429 (see tanba.crawlers.throttle).
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]


def process_settings(settings: Settings, resolve: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings of the crawl's CrawlerProcess (shared by every target)."""
    return {
        "LOG_LEVEL": LOG_LEVEL,
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOG_ENABLED": True,
        "LOGSTATS_INTERVAL": 0,
        "STATS_DUMP": False,
        "TELNETCONSOLE_ENABLED": False,
        "TWISTED_DNS_RESOLVER": "tanba.crawlers.resolve.MappedResolver",
        "DNS_TIMEOUT": max(1, round(settings.fetch_timeout_s)),
        RESOLVE_SETTING: dict(resolve or {}),
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": True,
    }


def scrapy_settings(settings: Settings, target: Target) -> dict[str, Any]:
    """One target's Scrapy settings."""
    delay = settings.crawl_delay_s if target.delay_s is None else target.delay_s
    # Scrapy 2.19 enforces CONCURRENT_REQUESTS_PER_DOMAIN only when DOWNLOAD_DELAY > 0: with
    # 0, Downloader._process_queue starts every queued request before any counts as
    # transferring. A millisecond is no politeness cost and restores the limit.
    delay = max(delay, MIN_DOWNLOAD_DELAY_S)
    return {
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": delay,
        # Random factor in [0.5, 1.5] of the delay, so requests do not look machine-timed.
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.crawl_concurrency_per_domain,
        "DOWNLOAD_TIMEOUT": settings.fetch_timeout_s,
        # Per-request caps (download_maxsize meta) are set by the spider; this is the ceiling.
        "DOWNLOAD_MAXSIZE": max(settings.page_max_bytes, settings.media_max_bytes),
        "DOWNLOAD_WARNSIZE": 0,
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            SCOPE_MIDDLEWARE: 50,
            GUARD_MIDDLEWARE: 60,
            SCRAPY_ROBOTS_MIDDLEWARE: None,
            ROBOTS_MIDDLEWARE: 100,
            THROTTLE_MIDDLEWARE: 560,
            RENDER_MIDDLEWARE: 55 if target.render else None,
        },
        "ITEM_PIPELINES": dict(ITEM_PIPELINES),
        "MEDIA_ALLOW_REDIRECTS": True,
        "REQUEST_FINGERPRINTER_CLASS": FINGERPRINTER,
        "COOKIES_ENABLED": False,
        "RETRY_TIMES": 1,
        # Each failure is listed with its reason in the crawl's summary and report.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "TANBA_RETRY_AFTER_MAX_S": DEFAULT_MAX_WAIT_S,
        "TANBA_RETRY_AFTER_TIMES": DEFAULT_TIMES,
        "REDIRECT_MAX_TIMES": REDIRECT_MAX_TIMES,
        "URLLENGTH_LIMIT": 0,  # the spider enforces its own limit before counting a page
        "DEPTH_LIMIT": 0,  # the spider counts depth itself (media requests do not deepen)
        "AUTOTHROTTLE_ENABLED": False,
    }
