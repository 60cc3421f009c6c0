"""Attribution: which signals decide the jurisdiction, and how conflicts lower confidence."""

from __future__ import annotations

from tanba.core.jurisdictions import default_registry
from tanba.core.jurisdictions.attribution import alert_confidence, attribute
from tanba.core.schemas.common import MediaOccurrence
from tests.support.alerts import make_alert


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


def test_cctld_alone_decides_with_the_confidence_of_a_cctld_not_certainty() -> None:
    """The issue: one ccTLD signal of weight 0.6 showed "Confidence 100%"."""
    a = attribute(occ("kino.example.kz"), default_registry())
    assert (a.code, a.confidence, [s.name for s in a.signals]) == ("KZ", 0.6, ["cctld"])


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
    assert a.confidence == round(1 - 0.7 * 0.85, 3)  # two weak witnesses: 0.405


def test_target_override_wins_over_the_cctld_and_the_conflict_shows() -> None:
    a = attribute(occ("kino.example.kz", override="BY"), default_registry())
    assert a.code == "BY"
    assert {(s.name, s.value) for s in a.signals} == {("target_override", "BY"), ("cctld", "KZ")}
    assert a.confidence == 0.4  # the operator's word, with the page's domain against it
    alone = attribute(occ("kino.example.com", override="BY"), default_registry())
    assert (alone.code, alone.confidence) == ("BY", 1.0)


def test_conflicting_signals_lower_confidence() -> None:
    a = attribute(
        occ("kino.example.kz", ip="127.0.0.8"), default_registry(), MapLookup({"127.0.0.8": "RU"})
    )
    assert a.code == "KZ" and a.confidence == 0.42  # 0.6 for, 0.3 against: 0.6 x 0.7


def test_agreeing_signals_raise_the_confidence_and_never_reach_certainty() -> None:
    registry = default_registry()
    lookup = MapLookup({"127.0.0.9": "KZ"})
    both = attribute(occ("kino.example.kz", ip="127.0.0.9"), registry, lookup)
    three = attribute(occ("kino.example.kz", ip="127.0.0.9", lang="kk"), registry, lookup)
    assert (both.confidence, three.confidence) == (0.72, round(1 - 0.4 * 0.7 * 0.85, 3))
    assert 0.6 < both.confidence < three.confidence < 1.0


def test_an_alert_stored_under_the_old_rule_shows_the_confidence_of_its_signals() -> None:
    old = make_alert(jurisdiction_confidence=1.0)  # one ccTLD signal, as stored before
    assert old.jurisdiction_confidence == 1.0 and alert_confidence(old) == 0.6
    unsignalled = make_alert(signals=[], jurisdiction="XX", jurisdiction_confidence=0.0)
    assert alert_confidence(unsignalled) == 0.0


def test_russian_language_alone_decides_nothing() -> None:
    a = attribute(occ("example.com", lang="ru"), default_registry())
    assert (a.code, a.confidence, a.signals) == ("XX", 0.0, [])
