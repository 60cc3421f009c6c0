"""Tests of the jurisdiction registry: the shipped data, the loader's validation, host lookup.

The ccTLD tests are parametrised over the data file itself, so a TLD an agency adds to
``jurisdictions.yaml`` is tested in every form (Unicode, punycode, subdomain, port, case)
without editing this module. Malformed files are made by editing a copy of the shipped data.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tanba.core.exceptions import TanbaError
from tanba.core.jurisdictions import (
    JURISDICTIONS_ENV,
    CopyrightTerm,
    Jurisdiction,
    JurisdictionDataError,
    JurisdictionRegistry,
    UnknownJurisdiction,
    default_registry,
)
from tanba.core.jurisdictions.codes import (
    ALL_CODES,
    AM,
    ASSOCIATE_CODES,
    AZ,
    BY,
    KG,
    KZ,
    MD,
    MEMBER_CODES,
    RU,
    STATE_CODES,
    TJ,
    TM,
    UNASSIGNED,
    UZ,
)

REGISTRY = JurisdictionRegistry.load()
RAW: dict[str, Any] = yaml.safe_load(
    resources.files("tanba.core.jurisdictions").joinpath("jurisdictions.yaml").read_text("utf-8")
)

# The state language each entry must name itself in (Russia: Russian, already required).
STATE_LANGUAGE = {
    AM: "hy",
    AZ: "az",
    BY: "be",
    KZ: "kk",
    KG: "ky",
    MD: "ro",
    TJ: "tg",
    UZ: "uz",
    TM: "tk",
}

ALL_TLDS = [(j.code, tld) for j in REGISTRY for tld in j.cctlds]
IDN_TLDS = [(code, tld) for code, tld in ALL_TLDS if not tld.isascii()]


def punycode(tld: str) -> str:
    """The ASCII (A-label) form of a Unicode TLD, without the dot: ".рф" -> "xn--p1ai"."""
    return "xn--" + tld[1:].encode("punycode").decode("ascii")


# --- the shipped data -------------------------------------------------------------------


def test_every_code_in_codes_py_has_an_entry() -> None:
    assert set(ALL_CODES) <= set(REGISTRY.codes())
    assert len(REGISTRY) == len(REGISTRY.codes()) == len(list(REGISTRY))


@pytest.mark.parametrize("code", MEMBER_CODES)
def test_member_states_are_members(code: str) -> None:
    assert REGISTRY.get(code).status == "member"


def test_turkmenistan_is_associate_and_xx_unassigned() -> None:
    assert ASSOCIATE_CODES == (TM,)
    assert REGISTRY.get(TM).status == "associate"
    xx = REGISTRY.get(UNASSIGNED)
    assert xx.status == "unassigned"
    assert xx.cctlds == ()
    assert xx.copyright_term is None
    assert xx.authority is None


@pytest.mark.parametrize("code", ALL_CODES)
def test_names_in_english_and_russian(code: str) -> None:
    names = REGISTRY.get(code).names
    assert names["en"].strip()
    assert names["ru"].strip()


@pytest.mark.parametrize(("code", "lang"), sorted(STATE_LANGUAGE.items()))
def test_names_in_the_state_language(code: str, lang: str) -> None:
    jurisdiction = REGISTRY.get(code)
    assert jurisdiction.names[lang].strip()
    assert jurisdiction.name(lang) == jurisdiction.names[lang]


def test_russia_is_named_in_russian_and_english_only() -> None:
    assert set(REGISTRY.get(RU).names) == {"en", "ru"}


def test_name_falls_back_to_english_and_ignores_region() -> None:
    kz = REGISTRY.get(KZ)
    assert kz.name() == "Kazakhstan"
    assert kz.name("de") == "Kazakhstan"
    assert kz.name("ru-RU") == kz.names["ru"] == "Казахстан"


def test_expected_cctlds() -> None:
    assert set(REGISTRY.get(RU).cctlds) == {".ru", ".рф", ".su"}
    assert set(REGISTRY.get(KZ).cctlds) == {".kz", ".қаз"}
    assert set(REGISTRY.get(BY).cctlds) == {".by", ".бел"}
    assert set(REGISTRY.get(AM).cctlds) == {".am", ".հայ"}
    for code in (AZ, KG, MD, TJ, UZ, TM):
        assert REGISTRY.get(code).cctlds == (f".{code.lower()}",)


@pytest.mark.parametrize("code", STATE_CODES)
def test_languages_scripts_term_and_authority_present(code: str) -> None:
    jurisdiction = REGISTRY.get(code)
    assert "ru" in jurisdiction.web_languages
    assert "Cyrl" in jurisdiction.scripts
    term = jurisdiction.copyright_term
    assert term is not None and term.years_after_death in (50, 70)
    assert term.rule == f"life+{term.years_after_death}"
    assert term.statute and term.source
    authority = jurisdiction.authority
    assert authority is not None
    assert authority.names["en"] and authority.names["ru"] and authority.source
    assert authority.website is None or authority.website.startswith("https://")


def test_kazakhstan_web_languages_and_armenian_script() -> None:
    assert REGISTRY.get(KZ).web_languages == ("kk", "ru")
    assert "Armn" in REGISTRY.get(AM).scripts


def test_jurisdictions_are_immutable_and_hashable() -> None:
    kz = REGISTRY.get(KZ)
    assert len({kz, REGISTRY.get(KZ), REGISTRY.get(RU)}) == 2
    with pytest.raises(TypeError):
        kz.names["en"] = "changed"  # type: ignore[index]


# --- host lookup --------------------------------------------------------------------------


def host_forms(tld: str) -> list[str]:
    """The ways one TLD can appear in a host handed to for_host()."""
    bare = tld[1:]
    return [
        bare,
        f"example{tld}",
        f"www.kino.example{tld}",
        f"kino{tld}:8081",
        f"kino{tld}.",
        f"KINO{tld.upper()}",
        f"  www.kino{tld}  ",
        f"user@kino{tld}:443",
    ]


@pytest.mark.parametrize(("code", "tld"), ALL_TLDS)
def test_every_cctld_resolves_to_its_state(code: str, tld: str) -> None:
    for host in host_forms(tld):
        found = REGISTRY.for_host(host)
        assert found is not None and found.code == code, host


@pytest.mark.parametrize(("code", "tld"), IDN_TLDS)
def test_internationalised_cctld_in_punycode(code: str, tld: str) -> None:
    ascii_tld = "." + punycode(tld)
    for host in host_forms(ascii_tld):
        found = REGISTRY.for_host(host)
        assert found is not None and found.code == code, host


@pytest.mark.parametrize(
    ("ascii_label", "code"),
    [("xn--p1ai", RU), ("xn--80ao21a", KZ), ("xn--90ais", BY), ("xn--y9a3aq", AM)],
)
def test_known_punycode_forms(ascii_label: str, code: str) -> None:
    found = REGISTRY.for_host(f"www.example.{ascii_label}")
    assert found is not None and found.code == code


@pytest.mark.parametrize(
    ("host", "code"),
    [
        ("пример.рф", RU),
        ("ПРИМЕР.РФ", RU),
        ("xn--e1afmkfd.xn--p1ai", RU),
        ("музыка.қаз:8080", KZ),
        ("www.kino.example.kz", KZ),
        ("kino.kz:8081", KZ),
        ("Kino.KZ.", KZ),
        ("old.example.su", RU),
        ("пример。рф", RU),  # ideographic full stop, a label separator in IDNA
    ],
)
def test_host_examples(host: str, code: str) -> None:
    found = REGISTRY.for_host(host)
    assert found is not None and found.code == code


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        ".com",
        "com",
        "example.org:8080",
        "kino.kz.example.com",  # the TLD decides, not a label in the middle
        "example.ua",
        "example.ge",
        "localhost",
        "",
        "   ",
        ".",
        "example.xn--zz",  # broken punycode
    ],
)
def test_hosts_outside_the_cis_give_none(host: str) -> None:
    assert REGISTRY.for_host(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4",
        "1.2.3.4:80",
        "10.0.0.1.",
        "::1",
        "[::1]",
        "[::1]:8080",
        "[2001:db8::1]:8443",
        "2001:db8::1",
    ],
)
def test_ip_addresses_give_none(host: str) -> None:
    assert REGISTRY.for_host(host) is None


def test_a_url_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="not a URL"):
        REGISTRY.for_host("https://kino.kz/film")


# --- lookup by code -----------------------------------------------------------------------


def test_get_is_case_insensitive() -> None:
    assert REGISTRY.get("kz") is REGISTRY.get(KZ)
    assert "kz" in REGISTRY and "ZZ" not in REGISTRY


def test_unknown_code_names_the_known_ones() -> None:
    with pytest.raises(UnknownJurisdiction) as info:
        REGISTRY.get("UA")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TanbaError)
    message = str(info.value)
    assert "'UA'" in message
    assert all(code in message for code in ALL_CODES)


# --- protected_until ----------------------------------------------------------------------


def make(term: CopyrightTerm | None) -> Jurisdiction:
    return Jurisdiction(
        code="ZZ",
        status="member",
        names={"en": "Test", "ru": "Тест"},
        cctlds=(),
        web_languages=(),
        scripts=(),
        copyright_term=term,
        authority=None,
    )


def term(years: int | None, legal_person: int | None = None) -> CopyrightTerm:
    return CopyrightTerm(
        years_after_death=years,
        rule=f"life+{years}",
        statute="test",
        verified=False,
        source="test",
        legal_person_years_after_publication=legal_person,
    )


def test_protected_until_runs_to_the_end_of_death_year_plus_n() -> None:
    # Russia, life + 70: an author who died in 1950 is protected through 31 Dec 2020.
    assert REGISTRY.get(RU).protected_until(author_death_year=1950) == 2020
    assert REGISTRY.get(TM).protected_until(author_death_year=1950) == 2000
    assert make(term(70)).protected_until(author_death_year=2000) == 2070


def test_protected_until_for_legal_persons_counts_from_publication() -> None:
    jurisdiction = make(term(70, legal_person=50))
    assert jurisdiction.protected_until(publication_year=1990) == 2040
    # The author's death year, when known, decides.
    assert jurisdiction.protected_until(author_death_year=1990, publication_year=1990) == 2060


def test_protected_until_unknown_gives_none() -> None:
    assert make(None).protected_until(author_death_year=1950) is None
    assert make(term(None)).protected_until(author_death_year=1950) is None
    assert make(term(70)).protected_until(publication_year=1990) is None  # no legal-person rule
    assert make(term(70)).protected_until() is None
    assert REGISTRY.get(UNASSIGNED).protected_until(author_death_year=1950) is None


# --- default registry ---------------------------------------------------------------------


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "jurisdictions.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def entry(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(item for item in data["jurisdictions"] if item["code"] == code)


def test_default_registry_is_cached_and_honours_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(JURISDICTIONS_ENV, raising=False)
    default_registry.cache_clear()
    try:
        assert default_registry() is default_registry()
        assert default_registry().get(KG).copyright_term == REGISTRY.get(KG).copyright_term

        # An agency's corrected copy, named by TANBA_JURISDICTIONS, replaces the shipped file.
        data = copy.deepcopy(RAW)
        kg_term = entry(data, KG)["copyright_term"]
        kg_term.update(years_after_death=50, rule="life+50", verified=True, source="agency")
        monkeypatch.setenv(JURISDICTIONS_ENV, str(write(tmp_path, data)))
        default_registry.cache_clear()
        corrected = default_registry().get(KG).copyright_term
        assert corrected is not None
        assert (corrected.years_after_death, corrected.verified) == (50, True)
    finally:
        default_registry.cache_clear()


def test_load_accepts_a_path_object(tmp_path: Path) -> None:
    registry = JurisdictionRegistry.load(write(tmp_path, RAW))
    assert registry.codes() == REGISTRY.codes()
    assert registry.source == str(tmp_path / "jurisdictions.yaml")


# --- malformed files ----------------------------------------------------------------------


def broken(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> JurisdictionDataError:
    """Load a copy of the shipped data after ``edit`` and return the error it must raise."""
    data = copy.deepcopy(RAW)
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(JurisdictionDataError) as info:
        JurisdictionRegistry.load(path)
    error = info.value
    assert error.path == str(path)
    assert str(path) in str(error)
    assert "Fix:" in str(error)
    assert isinstance(error, ValueError) and isinstance(error, TanbaError)
    return error


def index_of(code: str) -> int:
    return REGISTRY.codes().index(code) + 1


def test_duplicate_cctld_names_both_states(tmp_path: Path) -> None:
    error = broken(tmp_path, lambda data: entry(data, KG)["cctlds"].append(".kz"))
    assert error.entry == f"entry #{index_of(KG)} (code 'KG')"
    assert "'.kz'" in str(error) and "KZ" in str(error) and "KG" in str(error)


def test_duplicate_cctld_in_punycode_form_is_caught(tmp_path: Path) -> None:
    error = broken(tmp_path, lambda data: entry(data, KG)["cctlds"].append(".xn--80AO21A"))
    assert "KZ" in str(error) and "KG" in str(error)


def test_missing_key_names_the_entry(tmp_path: Path) -> None:
    error = broken(tmp_path, lambda data: entry(data, KZ).pop("scripts"))
    assert error.entry == f"entry #{index_of(KZ)} (code 'KZ')"
    assert "scripts" in error.problem


def test_missing_nested_key_names_the_entry(tmp_path: Path) -> None:
    error = broken(tmp_path, lambda data: entry(data, BY)["copyright_term"].pop("source"))
    assert "'BY'" in str(error) and "copyright_term" in error.problem and "source" in error.problem


def test_unknown_key_is_a_typo(tmp_path: Path) -> None:
    error = broken(tmp_path, lambda data: entry(data, UZ).update(cctld=[".uz"]))
    assert "'UZ'" in str(error) and "cctld" in error.problem


def test_missing_entry_for_a_code(tmp_path: Path) -> None:
    def drop_tajikistan(data: dict[str, Any]) -> None:
        data["jurisdictions"] = [item for item in data["jurisdictions"] if item["code"] != TJ]

    error = broken(tmp_path, drop_tajikistan)
    assert "TJ" in error.problem


def test_duplicate_code(tmp_path: Path) -> None:
    def duplicate_kazakhstan(data: dict[str, Any]) -> None:
        data["jurisdictions"].append({**copy.deepcopy(entry(data, KZ)), "cctlds": []})

    error = broken(tmp_path, duplicate_kazakhstan)
    assert "'KZ'" in str(error) and "more than one entry" in error.problem


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda data: entry(data, RU)["copyright_term"].update(rule="life+50"), "does not match"),
        (lambda data: entry(data, RU)["copyright_term"].update(verified="maybe"), "true or false"),
        (lambda data: entry(data, RU)["copyright_term"].update(years_after_death="70"), "number"),
        (lambda data: entry(data, RU).update(status="observer"), "status"),
        (lambda data: entry(data, RU)["names"].pop("en"), "en"),
        (lambda data: entry(data, RU)["names"].update(Russian="x"), "'Russian'"),
        (lambda data: entry(data, RU).update(scripts=["cyrillic"]), "scripts"),
        (lambda data: entry(data, RU).update(web_languages=["rus"]), "web_languages"),
        (lambda data: entry(data, RU).update(cctlds=["ru"]), "cctlds"),
        (lambda data: entry(data, RU).update(cctlds=[".co.ru"]), "cctlds"),
        (lambda data: entry(data, RU)["authority"].update(website="rkn.gov.ru"), "website"),
        (lambda data: entry(data, RU).update(code="rus"), "alpha-2"),
    ],
)
def test_bad_values_name_the_russian_entry(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], words: str
) -> None:
    error = broken(tmp_path, edit)
    assert error.entry is not None and error.entry.startswith(f"entry #{index_of(RU)}")
    assert words in error.problem


def test_duplicate_yaml_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("format: 1\nformat: 1\njurisdictions: []\n", encoding="utf-8")
    with pytest.raises(JurisdictionDataError, match="duplicate key"):
        JurisdictionRegistry.load(path)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("jurisdictions: [\n", encoding="utf-8")
    with pytest.raises(JurisdictionDataError, match="not valid YAML"):
        JurisdictionRegistry.load(path)
    with pytest.raises(JurisdictionDataError, match="cannot read"):
        JurisdictionRegistry.load(tmp_path / "absent.yaml")


def test_wrong_top_level_shape(tmp_path: Path) -> None:
    documents: list[Any] = [[], {"jurisdictions": {}}, {"format": 2, "jurisdictions": []}]
    for document in documents:
        path = write(tmp_path, document)
        with pytest.raises(JurisdictionDataError):
            JurisdictionRegistry.load(path)
