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
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path

from tanba.core.jurisdictions.exceptions import JurisdictionDataError, UnknownJurisdiction
from tanba.core.jurisdictions.model import DOTS, Jurisdiction, normalize_label
from tanba.core.jurisdictions.parsing import parse_document

#: Environment variable (and setting) naming a replacement data file.
JURISDICTIONS_ENV = "TANBA_JURISDICTIONS"
#: Name of the packaged data file inside this package.
DATA_FILE = "jurisdictions.yaml"


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
                key = normalize_label(tld.removeprefix("."))
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
        """Load and validate a data file; None means the one shipped with Tanba.

        The shipped file is parsed once per process (it cannot change while Tanba runs, and
        every App asks for it); a named file is read on every call.
        """
        if path is None:
            return _shipped()
        return cls._read(str(Path(path)), Path(path).read_text)

    @classmethod
    def _read(cls, source: str, reader: Callable[..., str]) -> JurisdictionRegistry:
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
        return cls(parse_document(text, source), source=source)

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
def _shipped() -> JurisdictionRegistry:
    resource = resources.files(__package__).joinpath(DATA_FILE)
    return JurisdictionRegistry._read(str(resource), resource.read_text)


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
def _host_tld(host: str) -> str | None:
    """The normalised last label of ``host``, or None if it has none or is an IP address."""
    text = host.strip().translate(DOTS)
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
        return normalize_label(label)
    except ValueError:
        return None


# --- validation ---------------------------------------------------------------------------
