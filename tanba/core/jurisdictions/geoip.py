"""Offline IP-to-country lookups for the ``server_ip`` jurisdiction signal.

Which database is used is a setting (``TANBA_GEOIP``), chosen by the file's kind:

* ``*.mmdb`` — a MaxMind or DB-IP country database an operator configures
  (read with the ``maxminddb`` package);
* ``*.dat`` — the legacy GeoIP country database Debian's ``geoip-database`` ships
  (read through Debian's ``libGeoIP.so.1``); note that Debian 12's copy dates
  from 2019, so an operator should prefer a current ``.mmdb``;
* ``*.csv`` — a table of ``network,country`` rows (CIDR), for operators with
  their own data and for tests that place loopback addresses in a country;
* ``none`` — no lookup; ``auto`` (the default) uses Debian's file when installed.

Every lookup answers an ISO 3166-1 alpha-2 code or None, and never raises for
an address it does not know.
"""

from __future__ import annotations

import csv
import ctypes
import ipaddress
from pathlib import Path

from tanba.core.exceptions import SettingsError
from tanba.core.jurisdictions.attribution import IpCountryLookup, NoIpLookup

DEBIAN_GEOIP = Path("/usr/share/GeoIP/GeoIP.dat")


class TableLookup:
    """Countries of networks listed in a CSV file (``network,country`` per row, CIDR)."""

    def __init__(self, path: Path) -> None:
        self.networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        with open(path, newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.reader(f), start=1):
                if not row or row[0].startswith("#") or row[0] == "network":
                    continue
                try:
                    network = ipaddress.ip_network(row[0].strip(), strict=False)
                    country = row[1].strip().upper()
                except (ValueError, IndexError):
                    raise SettingsError(
                        f"{path} line {line}: expected 'network,country' such as '10.0.0.0/8,KZ'"
                    ) from None
                self.networks.append((network, country))
        # Most specific network first, so a /32 inside a /8 wins.
        self.networks.sort(key=lambda n: -n[0].prefixlen)

    def country(self, ip: str) -> str | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        return next((c for n, c in self.networks if address in n), None)


class MmdbLookup:
    """A MaxMind/DB-IP ``.mmdb`` country database."""

    def __init__(self, path: Path) -> None:
        import maxminddb

        self.reader = maxminddb.open_database(str(path))

    def country(self, ip: str) -> str | None:
        try:
            record = self.reader.get(ip)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code") if isinstance(country, dict) else None
        return str(code) if code else None


class LegacyGeoIpLookup:
    """Debian's legacy GeoIP country database, through libGeoIP."""

    _GEOIP_MEMORY_CACHE = 1

    def __init__(self, path: Path) -> None:
        try:
            lib = ctypes.CDLL("libGeoIP.so.1")
        except OSError:
            raise SettingsError(
                f"TANBA_GEOIP={path} needs libGeoIP: apt-get install libgeoip1"
            ) from None
        lib.GeoIP_open.restype = ctypes.c_void_p
        lib.GeoIP_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.GeoIP_country_code_by_addr.restype = ctypes.c_char_p
        lib.GeoIP_country_code_by_addr.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.lib = lib
        self.handle = lib.GeoIP_open(str(path).encode(), self._GEOIP_MEMORY_CACHE)
        if not self.handle:
            raise SettingsError(f"TANBA_GEOIP={path} is not a readable GeoIP database")

    def country(self, ip: str) -> str | None:
        try:
            if ipaddress.ip_address(ip).version != 4:
                return None  # the IPv4 database knows no IPv6 addresses
        except ValueError:
            return None
        code = self.lib.GeoIP_country_code_by_addr(self.handle, ip.encode())
        return code.decode() if code else None


def open_lookup(spec: str) -> IpCountryLookup:
    """The lookup a ``TANBA_GEOIP`` value names (see the module docstring)."""
    if spec == "none":
        return NoIpLookup()
    if spec in ("", "auto"):
        return LegacyGeoIpLookup(DEBIAN_GEOIP) if DEBIAN_GEOIP.exists() else NoIpLookup()
    path = Path(spec)
    if not path.is_file():
        raise SettingsError(f"TANBA_GEOIP={spec}: no such file (or use 'auto' or 'none')")
    if path.suffix == ".mmdb":
        return MmdbLookup(path)
    if path.suffix == ".dat":
        return LegacyGeoIpLookup(path)
    if path.suffix == ".csv":
        return TableLookup(path)
    raise SettingsError(f"TANBA_GEOIP={spec}: use a .mmdb, .dat or .csv file")
