"""The private-address guard: the crawler never fetches from inside the network it runs in.

Contract: :class:`PrivateAddressMiddleware` (a Scrapy downloader middleware)
resolves each request's host, honouring the ``--resolve`` map, and raises
:class:`BlockedAddress` (an ``IgnoreRequest``) when any of its addresses is not
public (:func:`tanba.core.net.is_public_address`, the check the evidence
recapture uses too), unless the spider's target sets ``allow_private_addresses``,
or lists a network holding that address in ``allowed_networks``. The refusal is
counted as ``blocked_private``. Redirects are checked too, since Scrapy sends a
redirected request through the whole middleware chain again. As a second line,
it checks the address the response actually came from (``response.ip_address``),
which catches DNS answers that change between the check and the connection
(DNS rebinding).

Why: targets are configured by users and pages link anywhere; without this, a
hostile page could make the crawler fetch (and archive into WARC files and
the blob store) cloud metadata or intranet services.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

from tanba.core.net import IPAddress, is_public_address
from tanba.crawlers.component import CrawlerComponent
from tanba.crawlers.resolve import RESOLVE_SETTING, never_resolves

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response


class BlockedAddress(IgnoreRequest):
    """The request's host resolves to an address the target may not fetch from."""


class PrivateAddressMiddleware(CrawlerComponent):
    """Downloader middleware: drop requests to non-public addresses (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.resolve_map: dict[str, str] = dict(crawler.settings.getdict(RESOLVE_SETTING))
        self._cache: dict[str, list[str]] = {}

    def _allows_private(self) -> bool:
        target = getattr(self.crawler.spider, "target", None)
        return bool(getattr(target, "allow_private_addresses", False))

    def _allows(self, address: str | IPAddress) -> bool:
        """True when the target may fetch from ``address``."""
        target = getattr(self.crawler.spider, "target", None)
        return address_allowed(address, getattr(target, "allowed_networks", ()) or ())

    async def process_request(self, request: Request) -> None:
        if self._allows_private():
            return
        parts = urlparse_cached(request)
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return
        addresses = await self._addresses(host, parts.port)
        bad = [a for a in addresses if not self._allows(a)]
        if bad:
            self._refuse(request, f"{host} resolves to non-public address {bad[0]}")

    def process_response(self, request: Request, response: Response) -> Response:
        ip = response.ip_address
        if ip is not None and not self._allows_private() and not self._allows(ip):
            self._refuse(request, f"response came from non-public address {ip}")
        return response

    def _refuse(self, request: Request, why: str) -> None:
        self.crawler.stats.inc_value("tanba/blocked_private")
        tally = getattr(self.crawler.spider, "tally", None)
        if tally is not None:
            tally.blocked_private += 1
        raise BlockedAddress(f"refused {request.url}: {why} (allow_private_addresses is false)")

    async def _addresses(self, host: str, port: int | None) -> list[str]:
        mapped = self.resolve_map.get(host.lower())
        if mapped:
            return [mapped]
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        if host not in self._cache:
            self._cache[host] = await _lookup(host, port)
        return self._cache[host]


def address_allowed(address: str | IPAddress, networks: Iterable[str] = ()) -> bool:
    """True for a public address, or one in ``networks`` (a target's ``allowed_networks``)."""
    if is_public_address(address):
        return True
    try:
        ip = ipaddress.ip_address(address.strip("[]") if isinstance(address, str) else address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


async def _lookup(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to, from a thread (getaddrinfo blocks)."""
    return await maybe_deferred_to_future(deferToThread(resolve, host, port))


def resolve(host: str, port: int | None) -> list[str]:
    """Every address the system resolver gives for ``host`` (also inet_aton spellings);
    none for a name under ``invalid``, which is not asked (RFC 6761)."""
    if never_resolves(host.lower().rstrip(".")):
        return []
    try:
        infos: list[Any] = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        # Unresolvable: let the download fail with Scrapy's own DNS error.
        return []
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
