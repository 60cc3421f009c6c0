"""IP-to-country lookups: a CSV table, an operator's .mmdb, Debian's legacy GeoIP database."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from tanba.core.exceptions import SettingsError
from tanba.core.jurisdictions.geoip import DEBIAN_GEOIP, LegacyGeoIpLookup, open_lookup


def test_table_lookup_prefers_the_most_specific_network(tmp_path: Path) -> None:
    table = tmp_path / "ip.csv"
    table.write_text("network,country\n127.0.0.0/8,RU\n127.0.0.2/32,kz\n# comment\n")
    lookup = open_lookup(str(table))
    assert (lookup.country("127.0.0.2"), lookup.country("127.0.0.9")) == ("KZ", "RU")
    assert lookup.country("10.0.0.1") is None and lookup.country("not an ip") is None


def test_a_bad_table_row_names_its_line(tmp_path: Path) -> None:
    table = tmp_path / "ip.csv"
    table.write_text("127.0.0.0/8,RU\nnonsense\n")
    with pytest.raises(SettingsError, match="line 2"):
        open_lookup(str(table))


def test_mmdb_database(tmp_path: Path) -> None:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-Country")
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "UZ"}})
    path = tmp_path / "country.mmdb"
    writer.to_db_file(str(path))
    lookup = open_lookup(str(path))
    assert lookup.country("198.51.100.7") == "UZ"
    assert lookup.country("203.0.113.1") is None


def test_debians_legacy_database_knows_kazakh_and_russian_networks() -> None:
    lookup = LegacyGeoIpLookup(DEBIAN_GEOIP)
    assert lookup.country("2.72.0.1") == "KZ"  # Kazakhtelecom
    assert lookup.country("5.18.0.1") == "RU"
    assert lookup.country("127.0.0.1") is None
    assert lookup.country("::1") is None


@pytest.mark.parametrize("spec", ["/nonexistent.mmdb", __file__])
def test_unusable_settings_say_what_to_use(spec: str) -> None:
    with pytest.raises(SettingsError, match="TANBA_GEOIP"):
        open_lookup(spec)


def test_none_knows_nothing() -> None:
    assert open_lookup("none").country("2.72.0.1") is None
