"""Why a request failed, and what it counts as in its target's tally, for pages and media alike.

Contract: :func:`classify` names a failure's reason (a code of
:data:`tanba.core.schemas.crawls.FAILURE_REASONS`: ``dns``, ``refused``, ``tls``,
``timeout``, ``connection_lost``, ``robots``, ``private_address``,
``http_status``, ``too_large``, ``off_site``, ``other``) and a one-line detail,
from the exception Scrapy or Twisted raised (and the exceptions it wraps: Scrapy
2.19 wraps Twisted's, and a failed TLS handshake arrives as a lost response whose
reasons are OpenSSL errors). :func:`count_failure` lists the failure with its URL
and reason in the tally (:meth:`~tanba.crawlers.stats.TargetStats.fail`) and
adds it to the older counters: an HTTP error status to ``http_errors``; a
download Scrapy cancelled at its size cap to ``too_large``; a request a
middleware refused (robots.txt, the scope, the address guard) to nothing here,
since those keep their own counters (robots.txt refusals are copied from Scrapy's
stats by :func:`sync_robots`); anything else to ``errors`` (logged at INFO: the crawl's summary lists it).

Why one module: the spider (pages) and the media pipeline (media) must count a
failure the same way, or the per-target counters would depend on which of them
saw it; and an operator must see why a seed gave nothing (a name that does not
resolve, a private address), not a bare "errors 1".
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from tanba.core.schemas.crawls import FailureReason, FetchFailure
from tanba.crawlers.netguard import BlockedAddress
from tanba.crawlers.robots import RobotsForbidden
from tanba.crawlers.scope import OutOfScope
from tanba.crawlers.stats import TargetStats

if TYPE_CHECKING:
    from scrapy.http import Request
    from scrapy.statscollectors import StatsCollector

ROBOTS_FORBIDDEN_STAT = "robotstxt/forbidden"
_DETAIL_MAX = 300

log = logging.getLogger(__name__)

# (exception types, reason), first match wins; checked on the exception and all it wraps.
_BY_TYPE: tuple[tuple[tuple[type[BaseException], ...], FailureReason], ...] = (
    ((SSL.Error, ssl.SSLError, tx_error.SSLError), "tls"),
    ((CannotResolveHostError, tx_error.DNSLookupError), "dns"),
    ((DownloadConnectionRefusedError, tx_error.ConnectionRefusedError), "refused"),
    ((DownloadTimeoutError, tx_error.TimeoutError, tx_error.TCPTimedOutError), "timeout"),
    (
        (
            DownloadFailedError,
            ResponseDataLossError,
            ResponseFailed,
            tx_error.ConnectionLost,
            tx_error.ConnectionDone,
        ),
        "connection_lost",
    ),
)


def classify(failure: Failure) -> tuple[FailureReason, str]:
    """The reason ``failure`` happened (see the module doc) and a line of detail."""
    exc = failure.value
    if exc is None:
        return "other", failure.getErrorMessage()
    if isinstance(exc, HttpError):
        response = getattr(exc, "response", None)
        status = getattr(response, "status", 0)
        return "http_status", f"HTTP {status}" if status else str(exc)
    if isinstance(exc, DownloadCancelledError | CancelledError):
        return "too_large", _detail(exc) or "download cut at the size limit"
    if isinstance(exc, BlockedAddress):
        return "private_address", _detail(exc)
    if isinstance(exc, RobotsForbidden):
        return "robots", _detail(exc)
    if isinstance(exc, OutOfScope):
        return "off_site", _detail(exc)
    causes = list(_chain(exc))
    for types, reason in _BY_TYPE:
        found = next((c for c in causes if isinstance(c, types)), None)
        if found is not None:
            return reason, _tls_detail(found) if reason == "tls" else _detail(exc)
    return "other", f"{type(exc).__name__}: {_detail(exc)}"


def count_failure(
    tally: TargetStats,
    failure: Failure,
    stats: StatsCollector | None,
    request: Request | None,
    *,
    kind: str,
    at: str,
) -> None:
    """List ``failure`` of ``request`` in ``tally`` and count it (see the module doc)."""
    reason, detail = classify(failure)
    if reason == "http_status":
        tally.http_errors += 1
    elif reason == "too_large":
        tally.too_large += 1
    elif failure.check(IgnoreRequest):
        sync_robots(tally, stats)  # robots.txt, scope and the address guard count these
    else:
        tally.errors += 1
        # The crawl's summary lists it with its reason; the log line is for `tanba -v`.
        log.info("fetch failed: %s", failure.getErrorMessage())
    url = request.url if request is not None else ""
    tally.fail(
        FetchFailure(
            url=url,
            reason=reason,
            detail=detail,
            kind="media" if kind == "media" else "page",
            referrer=referrer_of(request),
            at=at,
        )
    )


def referrer_of(request: Request | None) -> str:
    """The page a request was made from (its Referer header), or ""."""
    if request is None:
        return ""
    value = request.headers.get(b"Referer")
    return value.decode("latin-1") if isinstance(value, bytes) else ""


def sync_robots(tally: TargetStats, stats: StatsCollector | None) -> None:
    """Copy Scrapy's count of requests robots.txt forbade into ``tally``."""
    if stats is not None:
        tally.robots_disallowed = int(stats.get_value(ROBOTS_FORBIDDEN_STAT, 0) or 0)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, and a lost response's reasons."""
    todo: list[Any] = [exc]
    seen: set[int] = set()
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Failure):  # among ResponseFailed.reasons
            todo.append(current.value)
            continue
        yield current
        todo += [current.__cause__, current.__context__]
        todo += list(getattr(current, "reasons", None) or ())


def _tls_detail(exc: BaseException) -> str:
    """OpenSSL's reasons as words ("SSL routines: wrong version number"), else the message."""
    errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else None
    if errors and all(isinstance(e, tuple) for e in errors):
        return _detail(Exception("; ".join(": ".join(p for p in e if p) for e in errors)))
    return _detail(exc)


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:_DETAIL_MAX]
