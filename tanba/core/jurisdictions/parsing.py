"""The jurisdictions data file read strictly: every mistake named with its entry and its fix.

Contract: :func:`parse_document` turns the YAML text of ``jurisdictions.yaml``
into :class:`~tanba.core.jurisdictions.model.Jurisdiction` entries, or raises
:class:`~tanba.core.jurisdictions.exceptions.JurisdictionDataError` naming the
file, the entry and the fix. It checks the required keys (unknown keys are
rejected so typos surface), types, unique codes, no ccTLD shared by two states,
and an entry for every code in ``codes.py``. Plain data only: a SafeLoader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import yaml

from tanba.core.jurisdictions.codes import ALL_CODES
from tanba.core.jurisdictions.exceptions import JurisdictionDataError
from tanba.core.jurisdictions.model import (
    STATUSES,
    Authority,
    CopyrightTerm,
    Jurisdiction,
    normalize_label,
)

FORMAT_VERSION = 1


def parse_document(text: str, source: str) -> list[Jurisdiction]:
    """The entries of a data file's text; ``source`` names the file in errors."""
    try:
        # A SafeLoader subclass: plain data only, never arbitrary Python objects.
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise JurisdictionDataError(
            source, f"not valid YAML: {exc}", fix="correct the YAML at the line shown"
        ) from exc
    top = _Check(source, None)
    top.keys(document, "the file", required={"jurisdictions"}, optional={"format"})
    version = document.get("format", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        top.fail(
            f"format {version!r} is not supported",
            f"use 'format: {FORMAT_VERSION}' and the keys described at the top of the file",
        )
    entries = document["jurisdictions"]
    if not isinstance(entries, list):
        top.fail("'jurisdictions' is not a list", "make it a list of entries, each '- code: ...'")
    parsed = [_parse_entry(raw, index, source) for index, raw in enumerate(entries, start=1)]
    missing = [code for code in ALL_CODES if code not in {j.code for j in parsed}]
    if missing:
        top.fail(
            f"no entry for code(s) {', '.join(missing)}",
            "add one entry per code listed in tanba/core/jurisdictions/codes.py",
        )
    return parsed


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which YAML would otherwise silently collapse."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Check:
    """Type checks for one entry of the file; every failure names the file and the entry."""

    def __init__(self, source: str, entry: str | None) -> None:
        self.source = source
        self.entry = entry

    def fail(self, problem: str, fix: str) -> NoReturn:
        raise JurisdictionDataError(self.source, problem, entry=self.entry, fix=fix)

    def keys(
        self, data: object, what: str, *, required: Iterable[str], optional: Iterable[str] = ()
    ) -> Mapping[str, Any]:
        required, optional = set(required), set(optional)
        if not isinstance(data, Mapping):
            self.fail(
                f"{what} is not a mapping of keys to values", f"write {what} as key: value lines"
            )
        missing = sorted(required - data.keys())
        if missing:
            self.fail(
                f"{what} is missing key(s) {', '.join(map(repr, missing))}",
                "add them (use null where a value is unknown)",
            )
        unknown = sorted(str(key) for key in data.keys() - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            self.fail(
                f"{what} has unknown key(s) {', '.join(map(repr, unknown))}",
                f"allowed keys: {allowed}",
            )
        return data

    def text(self, value: object, what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(
                f"{what} must be non-empty text, got {value!r}",
                "write text (quote it if YAML reads it as a number or as yes/no)",
            )
        return value.strip()

    def optional_text(self, value: object, what: str) -> str | None:
        return None if value is None else self.text(value, what)

    def flag(self, value: object, what: str) -> bool:
        if not isinstance(value, bool):
            self.fail(f"{what} must be true or false, got {value!r}", "write true or false")
        return value

    def years(self, value: object, what: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 200:
            self.fail(
                f"{what} must be a whole number of years, got {value!r}", "write e.g. 70, or null"
            )
        return value

    def codes(
        self, value: object, what: str, *, shape: str, valid: Callable[[str], bool]
    ) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(f"{what} is not a list", f"write a list like [{shape}] (or [] for none)")
        for item in value:
            if not isinstance(item, str) or not valid(item):
                self.fail(f"{what} contains {item!r}", f"use codes shaped like {shape}")
        if len(set(value)) != len(value):
            self.fail(f"{what} lists a code twice", "list each code once")
        return tuple(value)

    def names(self, value: object, what: str) -> Mapping[str, str]:
        data = self.keys(value, what, required={"en", "ru"}, optional=_string_keys(value))
        for lang in data:
            if not _is_language(lang):
                self.fail(
                    f"{what} has key {lang!r}", "key names by ISO 639-1 code (two small letters)"
                )
        return MappingProxyType({lang: self.text(data[lang], f"{what}.{lang}") for lang in data})


def _string_keys(value: object) -> list[str]:
    return [key for key in value if isinstance(key, str)] if isinstance(value, Mapping) else []


def _is_language(code: str) -> bool:
    return len(code) == 2 and code.isascii() and code.isalpha() and code.islower()


def _is_script(code: str) -> bool:
    return len(code) == 4 and code.isascii() and code.isalpha() and code.istitle()


def _parse_entry(raw: object, index: int, source: str) -> Jurisdiction:
    code = raw.get("code") if isinstance(raw, Mapping) else None
    label = f"entry #{index}" + (f" (code {code!r})" if isinstance(code, str) else "")
    check = _Check(source, label)
    data = check.keys(
        raw,
        "the entry",
        required={
            "code",
            "status",
            "names",
            "cctlds",
            "web_languages",
            "scripts",
            "copyright_term",
            "authority",
        },
        optional={"note"},
    )
    code = check.text(data["code"], "code")
    if not (len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()):
        check.fail(
            f"code {code!r} is not an ISO 3166-1 alpha-2 code", "write two capital letters, e.g. KZ"
        )
    status = check.text(data["status"], "status")
    if status not in STATUSES:
        check.fail(f"status {status!r} is not known", f"use one of {', '.join(sorted(STATUSES))}")
    return Jurisdiction(
        code=code,
        status=status,
        names=check.names(data["names"], "names"),
        cctlds=_parse_cctlds(check, data["cctlds"]),
        web_languages=check.codes(
            data["web_languages"], "web_languages", shape="kk, ru", valid=_is_language
        ),
        scripts=check.codes(data["scripts"], "scripts", shape="Cyrl, Latn", valid=_is_script),
        copyright_term=_parse_term(check, data["copyright_term"]),
        authority=_parse_authority(check, data["authority"]),
        note=check.optional_text(data.get("note"), "note"),
    )


def _parse_cctlds(check: _Check, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        check.fail("cctlds is not a list", 'write a list like [".kz", ".қаз"] (or [] for none)')
    tlds: list[str] = []
    for item in value:
        text = item.strip() if isinstance(item, str) else ""
        label = text.removeprefix(".")
        if not text.startswith(".") or not label or any(c in label for c in ". /:@"):
            check.fail(
                f"cctlds contains {item!r}", 'write one top-level domain with its dot, e.g. ".kz"'
            )
        try:
            tld = "." + normalize_label(label)
        except ValueError:
            check.fail(
                f"cctlds contains {item!r}, which is not valid punycode",
                'write it in Unicode, e.g. ".рф"',
            )
        if tld in tlds:
            check.fail(f"cctlds lists {tld!r} twice", "list each top-level domain once")
        tlds.append(tld)
    return tuple(tlds)


def _parse_term(check: _Check, value: object) -> CopyrightTerm | None:
    if value is None:
        return None
    what = "copyright_term"
    data = check.keys(
        value,
        what,
        required={"years_after_death", "rule", "statute", "verified", "source"},
        optional={"legal_person_years_after_publication", "note"},
    )
    years = check.years(data["years_after_death"], f"{what}.years_after_death")
    rule = check.text(data["rule"], f"{what}.rule")
    # rule is what people read, years is what Tanba computes with: they must not drift apart.
    if years is not None and rule.replace(" ", "") != f"life+{years}":
        check.fail(
            f"{what}.rule {rule!r} does not match years_after_death {years}",
            f"change both together (rule: life+{years})",
        )
    return CopyrightTerm(
        years_after_death=years,
        rule=rule,
        statute=check.text(data["statute"], f"{what}.statute"),
        verified=check.flag(data["verified"], f"{what}.verified"),
        source=check.text(data["source"], f"{what}.source"),
        legal_person_years_after_publication=check.years(
            data.get("legal_person_years_after_publication"),
            f"{what}.legal_person_years_after_publication",
        ),
        note=check.optional_text(data.get("note"), f"{what}.note"),
    )


def _parse_authority(check: _Check, value: object) -> Authority | None:
    if value is None:
        return None
    what = "authority"
    data = check.keys(
        value, what, required={"names", "website", "verified", "source"}, optional={"note"}
    )
    website = check.optional_text(data["website"], f"{what}.website")
    if website is not None and not website.startswith(("https://", "http://")):
        check.fail(f"{what}.website {website!r} is not a web address", "write https://... or null")
    return Authority(
        names=check.names(data["names"], f"{what}.names"),
        website=website,
        verified=check.flag(data["verified"], f"{what}.verified"),
        source=check.text(data["source"], f"{what}.source"),
        note=check.optional_text(data.get("note"), f"{what}.note"),
    )
