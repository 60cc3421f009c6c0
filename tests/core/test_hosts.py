"""Internationalised host names: one canonical (ASCII) form stored, Unicode shown.

The issue's case: users write фильмы.рф or мысал.қаз as they read them, in a targets
file, a ``--resolve`` entry, a licence; crawled sites are in punycode. Every way in
must give the one stored string, and every way out must give the name people read.
"""

from __future__ import annotations

import pytest

from tanba.core.exceptions import InputError
from tanba.core.hosts import bare_host, for_people, readable_and_exact, stored_host
from tanba.core.resolve import canonical_resolve, parse_resolve
from tanba.core.schemas.works import Licence
from tanba.core.target_registry import check_resolve
from tanba.core.targets import TargetInvalid

RF = "xn--h1agd3a1be.xn--p1ai"  # фильмы.рф
KAZ = "xn--80awbu3c.xn--80ao21a"  # мысал.қаз


@pytest.mark.parametrize("typed", ["фильмы.рф", "ФИЛЬМЫ.РФ.", RF, RF.upper(), " фильмы.рф "])
def test_a_name_however_typed_is_one_bare_host(typed: str) -> None:
    assert bare_host(typed) == RF


def test_a_name_looked_up_is_its_stored_form_and_a_non_name_matches_nothing() -> None:
    assert stored_host(" Фильмы.РФ. ") == stored_host(RF.upper()) == RF
    assert stored_host(" Not A Host! ") == "not a host!"


@pytest.mark.parametrize("typed", ["https://фильмы.рф/", "фильмы.рф:443", "a b.kz", "", "x/y"])
def test_what_is_not_a_bare_host_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(ValueError, match=r"not a domain name such as example\.kz"):
        bare_host(typed)


def test_resolve_entries_are_kept_with_their_host_in_ascii() -> None:
    assert canonical_resolve("Мысал.Қаз:443:127.0.0.1") == f"{KAZ}:443:127.0.0.1"
    assert canonical_resolve(f"{KAZ}:8080:[::1]") == f"{KAZ}:8080:[::1]"
    assert check_resolve([" мысал.қаз:443:127.0.0.1 ", ""]) == [f"{KAZ}:443:127.0.0.1"]
    assert parse_resolve([canonical_resolve("мысал.қаз:443:::1")]) == {KAZ: "::1"}
    with pytest.raises(TargetInvalid):
        check_resolve(["мысал.қаз:443:not-an-address"])
    with pytest.raises(InputError, match="expected HOST:PORT:ADDRESS"):
        canonical_resolve("мысал.қаз")


def test_a_licence_is_stored_in_ascii_and_events_written_in_unicode_read_so_too() -> None:
    assert Licence(domain="Фильмы.РФ.").domain == RF
    old = Licence.model_validate_json('{"domain": "мысал.қаз", "territories": ["KZ"]}')
    assert old.domain == KAZ
    assert Licence(domain="not a host!").domain == "not a host!"  # read as written


def test_texts_show_each_internationalised_name_as_people_read_it() -> None:
    assert for_people(f"https://{KAZ}/%D0%BD?q=1") == "https://мысал.қаз/%D0%BD?q=1"
    assert (
        for_people(f"{KAZ}:443:127.0.0.1 kino.example.kz")
        == "мысал.қаз:443:127.0.0.1 kino.example.kz"
    )
    assert for_people(f"sub.{RF.upper()}, {KAZ}") == "sub.фильмы.рф, мысал.қаз"
    assert for_people("xn--zz.kz and axn--p1ai") == "xn--zz.kz and axn--p1ai"  # not names: kept
    assert for_people("kino.example.kz") == "kino.example.kz"


def test_documents_name_an_internationalised_site_as_read_and_as_crawled() -> None:
    assert readable_and_exact(RF) == f"фильмы.рф ({RF})"
    assert readable_and_exact("kino.example.kz") == "kino.example.kz"
