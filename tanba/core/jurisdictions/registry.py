"""Typed loader for the jurisdiction registry, and the host → jurisdiction lookup.

Contract:
- ``JurisdictionRegistry.load(path)`` reads ``jurisdictions.yaml`` (the packaged one when
  ``path`` is None), validates all of it and returns an immutable registry, or raises
  ``JurisdictionDataError`` naming the file, the entry and the fix. Validation covers the
  required keys (unknown keys are rejected so typos surface), types, unique codes, no
  ccTLD shared by two states, and an entry for every code in ``codes.py``.
- ``default_registry()`` is the process-wide registry: the file named by the setting
  ``TANBA_JURISDICTIONS`` (empty or unset means the packaged file), loaded once and cached.
- ``registry.for_host(host)`` maps a host name to the state owning its ccTLD, accepting
  punycode or Unicode, any case, subdomains, a port and a trailing dot; IP addresses and
  hosts under other TLDs give None.

Why a data file and not Python: copyright terms and authorities change by statute and are
corrected by agencies, who should not have to edit code; the loader is strict so that a
mistaken edit stops Tanba at start-up instead of silently mis-assigning alerts.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml

from tanba.core.jurisdictions.codes import ALL_CODES
from tanba.core.jurisdictions.exceptions import JurisdictionDataError, UnknownJurisdiction

#: Environment variable (and setting) naming a replacement data file.
JURISDICTIONS_ENV = "TANBA_JURISDICTIONS"
#: Name of the packaged data file inside this package.
DATA_FILE = "jurisdictions.yaml"
FORMAT_VERSION = 1
STATUSES = frozenset({"member", "associate", "unassigned"})


@dataclass(frozen=True)
class CopyrightTerm:
    """How long a state protects a work, and how sure we are of it."""

    years_after_death: int | None
    rule: str
    statute: str
    verified: bool
    source: str
    legal_person_years_after_publication: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Authority:
    """The body that receives copyright notices in a state."""

    # hash=False: a mapping is not hashable; equality still compares it.
    names: Mapping[str, str] = field(hash=False)
    website: str | None
    verified: bool
    source: str
    note: str | None = None


@dataclass(frozen=True)
class Jurisdiction:
    """One state (or the unassigned pseudo-jurisdiction ``XX``) as the data file describes it."""

    code: str
    status: str
    names: Mapping[str, str] = field(hash=False)
    cctlds: tuple[str, ...]
    web_languages: tuple[str, ...]
    scripts: tuple[str, ...]
    copyright_term: CopyrightTerm | None
    authority: Authority | None
    note: str | None = None

    def name(self, lang: str = "en") -> str:
        """The state's name in ``lang`` (ISO 639-1, a region suffix like ``ru-RU`` is ignored),
        falling back to English."""
        base = lang.split("-", 1)[0].split("_", 1)[0].lower()
        return self.names.get(base) or self.names["en"]

    def protected_until(
        self, *, author_death_year: int | None = None, publication_year: int | None = None
    ) -> int | None:
        """Last calendar year in which the work is protected here, or None when unknown.

        CIS laws count the term from 1 January of the year after the death (or
        publication), so protection ends on 31 December of ``death_year + N``. The author's
        death year wins when both years are given; ``publication_year`` is used only where
        the law has a term for legal persons counted from publication.
        """
        term = self.copyright_term
        if term is None:
            return None
        if author_death_year is not None:
            if term.years_after_death is None:
                return None
            return author_death_year + term.years_after_death
        if publication_year is not None and term.legal_person_years_after_publication is not None:
            return publication_year + term.legal_person_years_after_publication
        return None


class JurisdictionRegistry:
    """An immutable set of jurisdictions, indexed by code and by ccTLD."""

    def __init__(self, jurisdictions: Iterable[Jurisdiction], *, source: str = "<memory>") -> None:
        self._source = source
        self._by_code: dict[str, Jurisdiction] = {}
        self._by_tld: dict[str, Jurisdiction] = {}
        for index, jurisdiction in enumerate(jurisdictions, start=1):
            entry = f"entry #{index} (code {jurisdiction.code!r})"
            if jurisdiction.code in self._by_code:
                raise JurisdictionDataError(
                    source,
                    f"code {jurisdiction.code!r} appears in more than one entry",
                    entry=entry,
                    fix="keep exactly one entry per code",
                )
            self._by_code[jurisdiction.code] = jurisdiction
            for tld in jurisdiction.cctlds:
                key = _normalize_label(tld.removeprefix("."))
                owner = self._by_tld.get(key)
                if owner is not None:
                    raise JurisdictionDataError(
                        source,
                        f"ccTLD {tld!r} is listed for both {owner.code} and {jurisdiction.code}",
                        entry=entry,
                        fix="a ccTLD belongs to one state; remove it from one of the two entries",
                    )
                self._by_tld[key] = jurisdiction

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> JurisdictionRegistry:
        """Load and validate a data file; None means the one shipped with Tanba."""
        if path is None:
            resource = resources.files(__package__).joinpath(DATA_FILE)
            source = str(resource)
            reader = resource.read_text
        else:
            source = str(Path(path))
            reader = Path(path).read_text
        try:
            text = reader(encoding="utf-8")
        except OSError as exc:
            raise JurisdictionDataError(
                source,
                f"cannot read the file ({exc.strerror or exc})",
                fix=f"point {JURISDICTIONS_ENV} at an existing, readable YAML file",
            ) from exc
        except UnicodeDecodeError as exc:
            raise JurisdictionDataError(
                source, f"the file is not UTF-8 ({exc})", fix="save the file as UTF-8"
            ) from exc
        return cls._from_text(text, source)

    @classmethod
    def _from_text(cls, text: str, source: str) -> JurisdictionRegistry:
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
            top.fail(
                "'jurisdictions' is not a list", "make it a list of entries, each '- code: ...'"
            )
        registry = cls(
            (_parse_entry(raw, index, source) for index, raw in enumerate(entries, start=1)),
            source=source,
        )
        missing = [code for code in ALL_CODES if code not in registry]
        if missing:
            top.fail(
                f"no entry for code(s) {', '.join(missing)}",
                "add one entry per code listed in tanba/core/jurisdictions/codes.py",
            )
        return registry

    @property
    def source(self) -> str:
        """Where the data came from (a file path), for diagnostics."""
        return self._source

    def get(self, code: str) -> Jurisdiction:
        """The jurisdiction with this code (case-insensitive), or ``UnknownJurisdiction``."""
        try:
            return self._by_code[code.strip().upper()]
        except KeyError:
            raise UnknownJurisdiction(code, self._by_code) from None

    def codes(self) -> tuple[str, ...]:
        """All codes, in file order."""
        return tuple(self._by_code)

    def __iter__(self) -> Iterator[Jurisdiction]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.strip().upper() in self._by_code

    def for_host(self, host: str) -> Jurisdiction | None:
        """The state whose ccTLD ends ``host``, or None (IP address, generic or foreign TLD).

        ``host`` is a host name as in a URL's netloc: "www.kino.kz", "kino.kz:8081",
        "пример.рф", "xn--e1afmkfd.xn--p1ai", "KINO.KZ.". A whole URL is a caller bug and
        raises ValueError; pass ``urllib.parse.urlsplit(url).hostname`` instead.
        """
        tld = _host_tld(host)
        return None if tld is None else self._by_tld.get(tld)


@functools.lru_cache(maxsize=1)
def default_registry() -> JurisdictionRegistry:
    """The registry from ``TANBA_JURISDICTIONS`` (empty or unset: the packaged file), cached.

    Loaded once per process, like the other settings; tests that change the variable call
    ``default_registry.cache_clear()``.
    """
    configured = os.environ.get(JURISDICTIONS_ENV, "").strip()
    return JurisdictionRegistry.load(configured or None)


# --- host parsing -------------------------------------------------------------------------

# Full stops that IDNA treats as label separators (ideographic, fullwidth, halfwidth).
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def _normalize_label(label: str) -> str:
    """A DNS label in the Unicode form the index uses: NFKC, case-folded, punycode decoded."""
    label = unicodedata.normalize("NFKC", label).casefold()
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except UnicodeError as exc:
            raise ValueError(f"invalid punycode label {label!r}") from exc
        label = unicodedata.normalize("NFKC", label).casefold()
    return label


def _host_tld(host: str) -> str | None:
    """The normalised last label of ``host``, or None if it has none or is an IP address."""
    text = host.strip().translate(_DOTS)
    if "/" in text or "\\" in text:
        raise ValueError(
            f"for_host() takes a host name, not a URL: {host!r}; "
            "pass urllib.parse.urlsplit(url).hostname"
        )
    text = text.rpartition("@")[2]  # tolerate the user-info part of a netloc
    if text.startswith("["):  # bracketed IPv6 literal, with or without a port
        return None
    if text.count(":") == 1:  # host:port
        text = text.partition(":")[0]
    elif ":" in text:  # bare IPv6 literal
        return None
    text = text.rstrip(".")  # fully qualified form "kino.kz."
    if not text:
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return None
    label = text.rpartition(".")[2]
    if not label or label.isdigit():  # digits are never a TLD (a partial IPv4 address)
        return None
    try:
        return _normalize_label(label)
    except ValueError:
        return None


# --- validation ---------------------------------------------------------------------------


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
            tld = "." + _normalize_label(label)
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
