"""Host names in one canonical form: lower case, no trailing dot, internationalised names in punycode.

Contract: :func:`ascii_host` turns ``фильмы.рф`` (or ``ФИЛЬМЫ.РФ.``) into
``xn--h1agd3a1be.xn--p1ai`` by IDNA 2008 with UTS #46 mapping (the ``idna``
package, as browsers map names) and leaves ASCII names lower-cased; ValueError
when the name cannot be a host. :func:`ascii_url` does the same to a URL's
host and percent-encodes the rest as a browser would (w3lib). :func:`unicode_host`
is the reverse, for people to read.

Why: the CIS web has Cyrillic and Kazakh domains (``.рф``, ``.қаз``, ``.бел``),
and users write them as they read them; everything Tanba stores, compares and
sends on the wire uses the ASCII form, so a name is one string however it was typed.
"""

from __future__ import annotations

import idna
from w3lib.url import safe_url_string


def ascii_host(host: str) -> str:
    """The host's ASCII form (punycode labels), lower case, without a trailing dot."""
    text = host.strip().rstrip(".")
    if text.isascii():
        return text.lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{host!r} is not a valid internationalised host name ({exc})") from None


def ascii_url(url: str) -> str:
    """``url`` with its host in ASCII and the rest percent-encoded where needed."""
    return safe_url_string(url.strip())


def unicode_host(host: str) -> str:
    """The host as people read it (punycode labels decoded); unchanged when it cannot be."""
    try:
        return idna.decode(host)
    except (idna.IDNAError, UnicodeError):
        return host
