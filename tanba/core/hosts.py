"""Host names in one canonical form: lower case, no trailing dot, internationalised names in punycode.

Contract: :func:`ascii_host` turns ``фильмы.рф`` (or ``ФИЛЬМЫ.РФ.``) into
``xn--h1agd3a1be.xn--p1ai`` by IDNA 2008 with UTS #46 mapping (the ``idna``
package, as browsers map names) and leaves ASCII names lower-cased; ValueError
when the name cannot be a host. :func:`ascii_url` does the same to a URL's
host and percent-encodes the rest as a browser would (w3lib). :func:`unicode_host`
is the reverse, for people to read, and :func:`for_people` decodes every ASCII-form
name inside a text (a URL, a ``HOST:PORT:ADDR`` entry, a list) the same way: what
the console's pages and the command's tables show.

Why: the CIS web has Cyrillic and Kazakh domains (``.рф``, ``.қаз``, ``.бел``),
and users write them as they read them; everything Tanba stores, compares and
sends on the wire uses the ASCII form, so a name is one string however it was typed.
"""

from __future__ import annotations

import re

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


def stored_host(text: str) -> str:
    """A host as Tanba stores and compares it, for looking one up: :func:`ascii_host`, or
    the text trimmed and lower-cased when it cannot be a host (it then matches no site)."""
    try:
        return ascii_host(text)
    except ValueError:
        return text.strip().lower().rstrip(".")


# A bare host name in its ASCII form: labels of letters, digits and hyphens, dot-separated.
_BARE = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$")


def bare_host(text: str) -> str:
    """``text`` as a bare host name (no scheme, port or path) in its ASCII form, written in
    Unicode or punycode; ValueError saying so when it cannot be one."""
    try:
        host = ascii_host(text)
    except ValueError:
        host = ""
    if not _BARE.match(host):
        raise ValueError(f"{text.strip()!r} is not a domain name such as example.kz or фильмы.рф")
    return host


def ascii_url(url: str) -> str:
    """``url`` with its host in ASCII and the rest percent-encoded where needed."""
    return safe_url_string(url.strip())


def unicode_host(host: str) -> str:
    """The host as people read it (punycode labels decoded); unchanged when it cannot be."""
    try:
        return idna.decode(host)
    except (idna.IDNAError, UnicodeError):
        return host


def readable_and_exact(host: str) -> str:
    """``фильмы.рф (xn--h1agd3a1be.xn--p1ai)`` for an internationalised name, the name
    alone otherwise: for documents, where a reader needs the name and a check the bytes."""
    shown = unicode_host(host)
    return host if shown == host else f"{shown} ({host})"


# A dotted name with at least one punycode label, not inside a longer word or name.
_PUNYCODE_NAME = re.compile(
    r"(?<![\w.-])((?:[a-z0-9-]+\.)*xn--[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?![\w-])", re.IGNORECASE
)


def for_people(text: str) -> str:
    """``text`` with every internationalised host name in it as people read it.

    ``https://xn--80awbu3c.xn--80ao21a/a`` becomes ``https://мысал.қаз/a``; ASCII names
    and whatever cannot be decoded stay as they are.
    """
    if "xn--" not in text.lower():
        return text
    return _PUNYCODE_NAME.sub(lambda m: unicode_host(m.group(1)), text)
