"""Rights per territory: licences (with dates and territories), territories, terms."""

from __future__ import annotations

import pytest

from tanba.core.jurisdictions import default_registry
from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.works import Licence, Work
from tanba.matcher.rights import LICENSED, OUTSIDE_TERRITORIES, TERM_EXPIRED, check_rights

TODAY = "2026-03-01"


def work(**changes) -> Work:
    base = Work(
        work_id="w",
        owner="Owner",
        media="image",
        sha256="0" * 64,
        registered_at="2026-01-01T00:00:00.000Z",
        fingerprint=Fingerprint(media="image", sha256="0" * 64),
    )
    return base.model_copy(update=changes)


def check(w: Work, site: str = "kino.example.kz", jurisdiction: str = "KZ", day: str = TODAY):
    return check_rights(w, site, jurisdiction, day, default_registry())


def test_no_rights_restrictions_means_an_alert() -> None:
    assert check(work()) is None


@pytest.mark.parametrize("site", ["partner.kz", "www.partner.kz", "cdn.img.partner.kz"])
def test_a_licensee_and_its_subdomains_are_suppressed(site: str) -> None:
    s = check(work(licences=[Licence(domain="partner.kz")]), site=site)
    assert s is not None and s.reason == LICENSED


def test_a_look_alike_domain_is_not_the_licensee() -> None:
    assert check(work(licences=[Licence(domain="partner.kz")]), site="notpartner.kz") is None


def test_a_licence_that_expired_yesterday_no_longer_suppresses() -> None:
    lic = Licence(domain="partner.kz", valid_until="2026-02-28")
    assert check(work(licences=[lic]), site="partner.kz") is None


def test_a_licence_valid_today_suppresses_with_its_dates_in_the_reason() -> None:
    lic = Licence(domain="partner.kz", valid_from="2026-01-01", valid_until=TODAY)
    s = check(work(licences=[lic]), site="partner.kz")
    assert s is not None and s.reason == LICENSED and "2026-01-01" in s.detail


def test_a_licence_for_other_territories_does_not_suppress() -> None:
    lic = Licence(domain="partner.kz", territories=["RU"])
    assert check(work(licences=[lic]), site="partner.kz", jurisdiction="KZ") is None


def test_outside_the_owners_territories_is_suppressed() -> None:
    s = check(work(territories=["RU", "BY"]), jurisdiction="KZ")
    assert s is not None and s.reason == OUTSIDE_TERRITORIES


def test_unassigned_jurisdiction_is_never_suppressed_by_territory() -> None:
    assert check(work(territories=["RU"]), site="example.com", jurisdiction="XX") is None


def test_term_ended_in_one_state_but_not_in_another() -> None:
    # Belarus counts life + 50, Russia life + 70: an author who died in 1960.
    w = work(author_death_year=1960)
    by = check(w, site="x.by", jurisdiction="BY")
    assert by is not None and by.reason == TERM_EXPIRED
    assert check(w, site="x.ru", jurisdiction="RU") is None
