"""Name resolution overrides: curl's ``--resolve HOST:PORT:ADDR`` for the crawler.

Contract: the map comes from :func:`tanba.core.resolve.parse_resolve`;
:class:`MappedResolver` is a Scrapy resolver (setting ``TWISTED_DNS_RESOLVER``,
  the name Scrapy 2.19 gives to the deprecated ``DNS_RESOLVER``) that answers
mapped names from the map stored in the ``TANBA_RESOLVE`` setting, answers a
name under the special-use ``invalid`` domain at once with a DNS error (RFC 6761,
§6.4: such names never resolve, and no query leaves the machine for them), and
asks Scrapy's caching resolver for every other name.

Why: tests and demos serve made-up hosts (``kino.example.kz``) from a loopback
server. Mapping the name, rather than rewriting URLs to 127.0.0.1, keeps every
URL, ``Host`` header, robots.txt, site key and WARC record exactly as they
would be for the real site.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from twisted.internet.base import ReactorBase

#: The Scrapy setting (process-wide) that carries the map to the resolver and the guard.
RESOLVE_SETTING = "TANBA_RESOLVE"


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
        host = name.lower().rstrip(".")
        mapped = self.mapping.get(host)
        if mapped is not None:
            return defer.succeed(mapped)
        if never_resolves(host):
            return defer.fail(DNSLookupError(f"{name}: names under .invalid never resolve"))
        return super().getHostByName(name, timeout)


def never_resolves(host: str) -> bool:
    """True for names under the special-use ``invalid`` domain (RFC 6761), which no
    resolver may answer: a seed written there fails as a DNS error without asking one."""
    return host == "invalid" or host.endswith(".invalid")
