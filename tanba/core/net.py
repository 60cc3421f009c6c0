"""Which network addresses are public: the check every fetch from a configured URL goes through.

Contract: :func:`is_public_address` is True only for globally routable unicast
addresses. It rejects loopback, RFC 1918 private, link-local (including the
cloud metadata address 169.254.169.254), multicast, reserved, unspecified,
CGNAT (100.64.0.0/10), benchmarking and documentation ranges, IPv6 unique-local
and link-local, and every IPv4-mapped or tunnelled IPv6 form, which are the
usual ways to smuggle a private IPv4 address past a filter. Anything that is
not an address is not public.

Why here: both the crawler's guard (:mod:`tanba.crawlers.netguard`) and the
evidence recapture refuse non-public addresses, and the evidence layer should
not load Scrapy and Twisted to ask; this module needs only the standard library.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges the ipaddress module's flags miss or that older Pythons classify differently.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link local
        "fec0::/10",  # deprecated site local
        "64:ff9b::/96",  # NAT64: embeds an IPv4 address
        "64:ff9b:1::/48",  # local-use NAT64
        "2001:db8::/32",  # documentation
    )
)


def is_public_address(ip: str | IPAddress) -> bool:
    """True when ``ip`` is a globally routable unicast address; False for anything else."""
    try:
        address = ipaddress.ip_address(ip.strip("[]") if isinstance(ip, str) else ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address.teredo is not None:
            return False
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
        # IPv4-compatible (deprecated) ::a.b.c.d addresses.
        if int(address) >> 32 == 0:
            return False
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return False
    return not any(address in net for net in _EXTRA_BLOCKED if net.version == address.version)
