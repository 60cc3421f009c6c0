"""Browser caching of answers that depend on who asks: keyed by login session, or not at all.

A browser's cache outlives a login: after one person logs out, the next one on
the same browser must never be shown the first one's charts, lists or media.
Every response therefore leaves here ``no-store`` unless all of this holds:

* its route asked for caching with a ``private`` Cache-Control (media, thumbnails
  and charts do; pages and JSON never);
* it answered a logged-in browser session, and its URL carries that session's
  cache key (``?v=``, :attr:`tanba.console.auth.Caller.cache_key`, which the pages put
  into the URLs they link), so the next login's pages ask for other URLs;
* it goes out with ``Vary: Cookie, Authorization``, so a browser that is
  shown the URL again with another session's cookie asks the server again.

A URL without the key (an old bookmark, a script, another session's key) is
answered all the same, for the caller who asks, but never stored. The web
application's middleware applies :func:`headers` to every response, so a route
cannot forget it.
"""

from __future__ import annotations

CACHE_PARAM = "v"
VARY = "Cookie, Authorization"
NO_STORE = "no-store"


def headers(requested: str | None, *, url_key: str, caller_key: str | None) -> dict[str, str]:
    """The caching headers a response goes out with.

    ``requested`` is the Cache-Control its route set (None: none), ``url_key``
    the request's ``v`` parameter, ``caller_key`` the caller's session cache key
    ('' for an API token) or None for a request without credentials (such an
    answer depends on nobody, so a route's own choice stands).
    """
    if not requested or NO_STORE in requested:
        return {"Cache-Control": NO_STORE}
    if caller_key is None:
        return {"Cache-Control": requested}
    if "private" in requested and caller_key and url_key == caller_key:
        return {"Cache-Control": requested, "Vary": VARY}
    return {"Cache-Control": NO_STORE, "Vary": VARY}


# A URL that names its file's content (the start of its SHA-256, ``d=``) answers the same
# bytes for as long as it exists: such answers may be kept a year; others a day.
DIGEST_CHARS = 16  # 64 bits of the digest
IMMUTABLE = "private, max-age=31536000, immutable"
ONE_DAY = "private, max-age=86400"


def digest_of(sha256: str) -> str:
    """What a URL carries to name a stored file's content (``d=``)."""
    return sha256[:DIGEST_CHARS]


def names_content(sha256: str, digest: str) -> bool:
    """Whether ``digest`` (a URL's ``d=``) names the file ``sha256``."""
    return len(digest) == DIGEST_CHARS and sha256.startswith(digest.lower())
