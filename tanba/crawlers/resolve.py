"""Name resolution overrides: curl's ``--resolve HOST:PORT:ADDR`` for the crawler.

Contract:

- :func:`parse_resolve` turns ``["kino.example.kz:8081:127.0.0.1", ...]`` into
  ``{"kino.example.kz": "127.0.0.1"}`` (host lower-cased; the port is checked
  but not used: one host maps to one address on every port). IPv6 addresses
  may be bracketed (``host:443:[::1]``). A malformed entry raises
  :class:`~tanba.core.exceptions.InputError` quoting the expected syntax.
- :class:`MappedResolver` is a Scrapy resolver (setting ``TWISTED_DNS_RESOLVER``,
  the name Scrapy 2.19 gives to the deprecated ``DNS_RESOLVER``) that answers
  mapped names from the map stored in the ``TANBA_RESOLVE`` setting and asks
  Scrapy's caching resolver for every other name.

Why: tests and demos serve made-up hosts (``kino.example.kz``) from a loopback
server. Mapping the name, rather than rewriting URLs to 127.0.0.1, keeps every
URL, ``Host`` header, robots.txt, site key and WARC record exactly as they
would be for the real site.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer

from tanba.core.exceptions import InputError

if TYPE_CHECKING:
    from twisted.internet.base import ReactorBase

#: The Scrapy setting (process-wide) that carries the map to the resolver and the guard.
RESOLVE_SETTING = "TANBA_RESOLVE"
SYNTAX = "HOST:PORT:ADDRESS, e.g. kino.example.kz:8081:127.0.0.1 (as curl's --resolve)"


def parse_resolve(entries: Iterable[str] | None) -> dict[str, str]:
    """Parse ``--resolve`` entries into a host → address map; InputError on a bad entry."""
    mapping: dict[str, str] = {}
    for entry in entries or ():
        host, sep1, rest = entry.strip().partition(":")
        port, sep2, address = rest.partition(":")
        address = address.strip()
        if address.startswith("[") and address.endswith("]"):
            address = address[1:-1]
        if not (sep1 and sep2 and host and port.isdigit() and 0 < int(port) < 65536):
            raise InputError(f"--resolve {entry!r} is not understood; expected {SYNTAX}.")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InputError(
                f"--resolve {entry!r}: {address!r} is not an IP address; expected {SYNTAX}."
            ) from None
        mapping[host.lower().rstrip(".")] = address
    return mapping


class MappedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, but names in the ``--resolve`` map resolve to their address."""

    def __init__(
        self, reactor: ReactorBase, cache_size: int, timeout: float, mapping: dict[str, str]
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.mapping = {k.lower(): v for k, v in mapping.items()}

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: ReactorBase) -> MappedResolver:
        # ``crawler`` is the CrawlerProcess here: Scrapy installs one resolver per process.
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(
            reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), settings.getdict(RESOLVE_SETTING)
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        mapped = self.mapping.get(name.lower().rstrip("."))
        if mapped is not None:
            return defer.succeed(mapped)
        return super().getHostByName(name, timeout)
