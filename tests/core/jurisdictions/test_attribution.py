"""Attribution: which signals decide the jurisdiction, and how conflicts lower confidence."""

from __future__ import annotations

from tanba.core.jurisdictions import default_registry
from tanba.core.jurisdictions.attribution import attribute
from tanba.core.schemas.common import MediaOccurrence


class MapLookup:
    """A test IP lookup: loopback addresses mapped to countries."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def country(self, ip: str) -> str | None:
        return self.table.get(ip)


def occ(site: str, *, override: str = "", ip: str = "", lang: str = "") -> MediaOccurrence:
    return MediaOccurrence(
        target="t",
        site=site,
        page_url=f"http://{site}/",
        media_url=f"http://{site}/a.jpg",
        sha256="0" * 64,
        size=1,
        fetched_at="2026-03-01T00:00:00.000Z",
        jurisdiction_override=override,
        server_ip=ip,
        page_lang=lang,
    )


def test_cctld_alone_decides_with_full_confidence() -> None:
    a = attribute(occ("kino.example.kz"), default_registry())
    assert (a.code, a.confidence, [s.name for s in a.signals]) == ("KZ", 1.0, ["cctld"])


def test_internationalised_cctld() -> None:
    assert attribute(occ("кино.рф"), default_registry()).code == "RU"
    assert attribute(occ("xn--e1afmkfd.xn--p1ai"), default_registry()).code == "RU"


def test_com_site_on_a_kazakh_server_in_kazakh_is_kazakh() -> None:
    a = attribute(
        occ("films.com", ip="127.0.0.7", lang="kk"),
        default_registry(),
        MapLookup({"127.0.0.7": "KZ"}),
    )
    assert a.code == "KZ"
    assert {s.name for s in a.signals} == {"server_ip", "page_language"}
    assert a.confidence == 1.0


def test_target_override_wins_over_the_cctld_and_the_conflict_shows() -> None:
    a = attribute(occ("kino.example.kz", override="BY"), default_registry())
    assert a.code == "BY"
    assert {(s.name, s.value) for s in a.signals} == {("target_override", "BY"), ("cctld", "KZ")}
    assert a.confidence < 1.0


def test_conflicting_signals_lower_confidence() -> None:
    a = attribute(
        occ("kino.example.kz", ip="127.0.0.8"), default_registry(), MapLookup({"127.0.0.8": "RU"})
    )
    assert a.code == "KZ" and 0.5 < a.confidence < 1.0


def test_russian_language_alone_decides_nothing() -> None:
    a = attribute(occ("example.com", lang="ru"), default_registry())
    assert (a.code, a.confidence, a.signals) == ("XX", 0.0, [])
