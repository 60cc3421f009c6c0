"""URL canonicalisation: one spelling per page, so a page is fetched once per crawl.

Contract: :func:`canonicalize` returns the same string for URLs that name the
same resource in all the ways sites commonly vary them: scheme and host case,
an explicit default port, a trailing dot on the host, the fragment, the order
of query parameters, dot segments (``/a/./b/../c``), percent-encoding that
RFC 3986 calls equivalent (``%7e`` and ``~``, ``%2f`` and ``%2F``, a raw
``ж`` and ``%D0%B6``), session ids (``jsessionid``, ``phpsessid``, ``sid``,
``sessionid``, also as a ``;jsessionid=`` path parameter), tracking
parameters (``utm_*``) and click ids (``fbclid``, ``yclid``, ...). The path's
case is kept, and so is an encoded ``/`` or ``?`` (``%2F`` is not ``/``):
servers may treat them as significant. It never raises; a URL it cannot parse
comes back unchanged.

Who does what: w3lib's :func:`~w3lib.url.canonicalize_url` (case, dot
segments, query order, percent-encoding, fragment), w3lib's
:func:`~w3lib.url.url_query_cleaner` (dropping the tracking parameters) and
Scrapy's :func:`~scrapy.utils.url.strip_url` (default ports). Ours, because
neither library has them: which parameters are tracking ones
(:func:`is_tracking_param`, a list and a prefix, case-insensitive), the
``;jsessionid=`` path parameter and the host's trailing dot. :func:`in_domains`
is ours too: Scrapy's ``url_is_from_any_domain`` compares the host with its
port, so ``kino.kz:8081`` would not be in ``kino.kz``.

Crawler traps that canonicalisation cannot fold (an endless calendar's
``?month=…``, ``/a/a/a/…`` loops of relative links) are bounded by two more
helpers, ours by nature: :func:`pattern_of` gives a URL's shape (digit runs
of the decoded path as ``N``, query values dropped), so the spider can give
each shape a share of ``max_pages``; :func:`trap_reason` names URLs that are
traps on their face (a path segment repeated over and over, hundreds of query
parameters).

Why: without it a site that appends a session id to every link looks like an
endless site, and ``max_pages`` is spent on copies of the same pages.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from scrapy.utils.url import strip_url
from w3lib.url import canonicalize_url, url_query_cleaner

SESSION_PARAMS = frozenset(
    {
        "jsessionid",
        "phpsessid",
        "sid",
        "sessionid",
        "session_id",
        "aspsessionid",
        "oscsid",
        "zenid",
        "cfid",
        "cftoken",
    }
)
# Click ids that ad networks and mailers append (Yandex's yclid is common on CIS sites).
CLICK_PARAMS = frozenset({"fbclid", "gclid", "yclid", "msclkid", "_openstat", "mc_cid", "mc_eid"})
_PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sessionid|sid)=[^/?#]*", re.IGNORECASE)
# The dots ending a host name, before the port if there is one.
_TRAILING_DOT = re.compile(r"\.+(?=(?::\d*)?$)")
_DIGITS = re.compile(r"\d+")
# A segment that comes back this often in one path is a loop of relative links, not a page.
MAX_SEGMENT_REPEATS = 3
MAX_QUERY_PARAMS = 32


def is_tracking_param(name: str) -> bool:
    """True for query parameters that never change the content (session ids, utm_*, click ids)."""
    lowered = name.lower()
    return lowered in SESSION_PARAMS or lowered in CLICK_PARAMS or lowered.startswith("utm_")


def canonicalize(url: str) -> str:
    """The canonical form of ``url`` used as the de-duplication key of pages and media."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        return url
    if not parts.scheme or not host:
        return url
    netloc = _TRAILING_DOT.sub("", parts.netloc) if host.endswith(".") else parts.netloc
    cleaned = urlunsplit((parts.scheme, netloc, _PATH_SESSION.sub("", parts.path), parts.query, ""))
    tracking = [
        k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if is_tracking_param(k)
    ]
    if tracking:
        cleaned = url_query_cleaner(cleaned, tracking, remove=True, unique=False)
    try:
        canonical = canonicalize_url(cleaned)
        # strip_url parses again: only worth it when there is a port that may be the default.
        return canonical if port is None else strip_url(canonical, strip_credentials=False)
    except (ValueError, UnicodeError):  # e.g. a host name IDNA refuses
        return url


def host_of(url: str) -> str:
    """The lower-case host of ``url`` without port or trailing dot; "" when it has none."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def in_domains(host: str, domains: tuple[str, ...] | list[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one (as Scrapy's offsite rule)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def pattern_of(url: str) -> str:
    """The shape of ``url``: host, decoded path with digit runs as ``N``, sorted query names.

    ``/calendar?month=2026-03`` and ``/calendar?month=2031-11`` share the shape
    ``host/calendar?month``; ``/news/2026/03/05/`` is ``host/news/N/N/N/``. The
    path is decoded first, so the digits of a percent-escape (``%D0%B2``) are
    not taken for a number.
    """
    try:
        parts = urlsplit(canonicalize(url))
    except ValueError:
        return url
    names = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    shape = _DIGITS.sub("N", unquote(parts.path))
    return f"{(parts.hostname or '').lower()}{shape}" + (f"?{'&'.join(names)}" if names else "")


def trap_reason(url: str) -> str | None:
    """Why ``url`` is a crawler trap on its face, or None when it looks like a page."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "unparseable URL"
    segments = [s for s in parts.path.split("/") if s]
    counts: dict[str, int] = {}
    for segment in segments:
        counts[segment] = counts.get(segment, 0) + 1
        if counts[segment] > MAX_SEGMENT_REPEATS:
            return f"path segment {segment[:40]!r} repeated more than {MAX_SEGMENT_REPEATS} times"
    if parts.query.count("&") + 1 > MAX_QUERY_PARAMS:
        return f"more than {MAX_QUERY_PARAMS} query parameters"
    return None
