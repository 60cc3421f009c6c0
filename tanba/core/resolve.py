"""Name resolution overrides: curl's ``--resolve HOST:PORT:ADDR``, as the user writes them.

Contract: :func:`parse_resolve` turns ``["kino.example.kz:8081:127.0.0.1", ...]``
into ``{"kino.example.kz": "127.0.0.1"}`` (host in its ASCII form, :mod:`tanba.core.hosts`; the port is checked
but not used: one host maps to one address on every port). IPv6 addresses may be
bracketed (``host:443:[::1]``). A malformed entry raises
:class:`~tanba.core.exceptions.InputError` quoting the expected syntax.

The crawler's resolver (:mod:`tanba.crawlers.resolve`) and the evidence capture
apply the map; the console and the command line only parse it, so they need no
Scrapy for that. :func:`add_resolve_option` is the option of every command that
fetches (``tanba run``, ``tanba crawl``, ``tanba evidence export|capture``).
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Iterable

from tanba.core.exceptions import InputError
from tanba.core.hosts import ascii_host

SYNTAX = "HOST:PORT:ADDRESS, e.g. kino.example.kz:8081:127.0.0.1 (as curl's --resolve)"


def add_resolve_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--resolve HOST:PORT:ADDR`` (repeatable, as curl's) to ``parser``; see parse_resolve."""
    parser.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="fetch HOST from ADDR (repeatable, as curl's --resolve)",
    )


def parse_resolve(entries: Iterable[str] | None) -> dict[str, str]:
    """Parse ``--resolve`` entries into a host → address map; InputError on a bad entry."""
    mapping: dict[str, str] = {}
    for entry in entries or ():
        host, _, address = _parse(entry)
        mapping[host] = address
    return mapping


def canonical_resolve(entry: str) -> str:
    """The entry as Tanba keeps it: ``HOST:PORT:ADDRESS`` with the host in its ASCII form
    (``мысал.қаз:443:127.0.0.1`` -> ``xn--80awbu3c.xn--80ao21a:443:127.0.0.1``), IPv6
    addresses bracketed; InputError on a bad entry."""
    host, port, address = _parse(entry)
    return f"{host}:{port}:[{address}]" if ":" in address else f"{host}:{port}:{address}"


def _parse(entry: str) -> tuple[str, int, str]:
    """(host in ASCII form, port, address) of one entry; InputError quoting the syntax."""
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
    try:
        return ascii_host(host), int(port), address
    except ValueError as exc:
        raise InputError(f"--resolve {entry!r}: {exc}; expected {SYNTAX}.") from None
