"""URL canonicalisation: one spelling per page, so a page is fetched once per crawl.

Contract: :func:`canonicalize` returns the same string for URLs that name the
same resource in all the ways sites commonly vary them: scheme and host case,
an explicit default port, a trailing dot on the host, the fragment, the order
of query parameters, session ids (``jsessionid``, ``phpsessid``, ``sid``,
``sessionid``, also as a ``;jsessionid=`` path parameter) and tracking
parameters (``utm_*``). The path's case and percent-encoding are kept: servers
may treat them as significant. It never raises; a URL it cannot parse comes
back unchanged.

Why: without it a site that appends a session id to every link looks like an
endless site, and ``max_pages`` is spent on copies of the same pages.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SESSION_PARAMS = frozenset({"jsessionid", "phpsessid", "sid", "sessionid", "aspsessionid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sessionid|sid)=[^/?#]*", re.IGNORECASE)


def is_tracking_param(name: str) -> bool:
    """True for query parameters that never change the content (session ids, utm_*)."""
    lowered = name.lower()
    return lowered in SESSION_PARAMS or lowered.startswith("utm_")


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
    path = _PATH_SESSION.sub("", parts.path) or "/"
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
