"""URL canonicalisation: one spelling per page, so a page is fetched once per crawl.

Contract: :func:`canonicalize` returns the same string for URLs that name the
same resource in all the ways sites commonly vary them: scheme and host case,
an explicit default port, a trailing dot on the host, the fragment, the order
of query parameters, session ids (``jsessionid``, ``phpsessid``, ``sid``,
``sessionid``, also as a ``;jsessionid=`` path parameter) and tracking
parameters (``utm_*``). The path's case and percent-encoding are kept: servers
may treat them as significant. It never raises; a URL it cannot parse comes
back unchanged.

Dot segments (``/a/./b/../c``) are resolved as RFC 3986 says, also in
absolute links, which ``urljoin`` leaves alone.

Crawler traps that canonicalisation cannot fold (an endless calendar's
``?month=…``, ``/a/a/a/…`` loops of relative links) are bounded by two more
helpers: :func:`pattern_of` gives a URL's shape (digit runs as ``N``, query
values dropped), so the spider can give each shape a share of ``max_pages``;
:func:`trap_reason` names URLs that are traps on their face (a path segment
repeated over and over, hundreds of query parameters).

Why: without it a site that appends a session id to every link looks like an
endless site, and ``max_pages`` is spent on copies of the same pages.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sessionid|sid)=[^/?#]*", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
# A segment that comes back this often in one path is a loop of relative links, not a page.
MAX_SEGMENT_REPEATS = 3
MAX_QUERY_PARAMS = 32


def is_tracking_param(name: str) -> bool:
    """True for query parameters that never change the content (session ids, utm_*, click ids)."""
    lowered = name.lower()
    return lowered in SESSION_PARAMS or lowered in CLICK_PARAMS or lowered.startswith("utm_")


def remove_dot_segments(path: str) -> str:
    """``path`` with ``.`` and ``..`` segments resolved (RFC 3986, section 5.2.4)."""
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." names the directory "/a/"
    return ("/" if path.startswith("/") else "") + "/".join(out)


def canonicalize(url: str) -> str:
    """The canonical form of ``url`` used as the de-duplication key of pages."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return url
    if not scheme or not host:
        return url
    if ":" in host:  # IPv6 literal: brackets were stripped by hostname
        host = f"[{host}]"
    netloc = host
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = remove_dot_segments(_PATH_SESSION.sub("", parts.path)) or "/"
    params = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    query = urlencode(sorted(params), doseq=False) if params else ""
    return urlunsplit((scheme, netloc, path, query, ""))


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
    """The shape of ``url``: host, path with digit runs as ``N``, sorted query names.

    ``/calendar?month=2026-03`` and ``/calendar?month=2031-11`` share the shape
    ``host/calendar?month``; ``/news/2026/03/05/`` is ``host/news/N/N/N/``.
    """
    try:
        parts = urlsplit(canonicalize(url))
    except ValueError:
        return url
    names = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    shape = _DIGITS.sub("N", parts.path)
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
