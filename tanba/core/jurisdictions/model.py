"""A jurisdiction as the data file describes it: names, ccTLDs, languages, term, authority."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

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


DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def normalize_label(label: str) -> str:
    """A DNS label in the Unicode form the index uses: NFKC, case-folded, punycode decoded."""
    label = unicodedata.normalize("NFKC", label).casefold()
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except UnicodeError as exc:
            raise ValueError(f"invalid punycode label {label!r}") from exc
        label = unicodedata.normalize("NFKC", label).casefold()
    return label
