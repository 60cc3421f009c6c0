"""Crawl targets: which sites to crawl, how deep, and under which jurisdiction.

Contract: :func:`load_targets` / :func:`parse_targets` read YAML of the form::

    targets:
      - name: kino-site                 # required, unique, [a-z0-9_-]
        seeds: ["http://kino.example.kz:8081/"]   # one or more http(s) URLs
        allowed_domains: ["kino.example.kz"]       # default: the seeds' hosts
        max_depth: 3                    # links followed from a seed (default 3)
        max_pages: 500                  # HTML pages fetched at most (default 500)
        jurisdiction: KZ                # optional override, a code of codes.ALL_CODES
        allow_private_addresses: false  # only tests and demos set this
        allowed_networks: ["10.20.0.0/16"]  # or: only these non-public networks
        max_pages_per_pattern: 250      # pages per URL shape (default: half of max_pages, >= 50)
        delay_s: 1.0                    # optional politeness override, seconds
        paused: false                   # paused targets are skipped

and return frozen :class:`Target` objects, or raise :class:`TargetsError`
naming the file, the target and the field, with what to fix. Unknown keys are
errors, so a typo such as ``max_dept`` cannot silently fall back to a default.

Why strict: a targets file is edited by hand by people who are not developers;
a crawl that silently ignores a setting (or crawls an intranet address) is
worse than one that refuses to start.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import yaml

from tanba.core.exceptions import TargetsError
from tanba.core.hosts import ascii_host, ascii_url

# Used only if tanba.core.jurisdictions is missing (it was written in parallel with this module).
_FALLBACK_CODES = ("AM", "AZ", "BY", "KZ", "KG", "MD", "RU", "TJ", "UZ", "TM", "XX")


def _jurisdiction_codes() -> tuple[str, ...]:
    try:
        from tanba.core.jurisdictions.codes import ALL_CODES
    except ImportError:  # pragma: no cover
        return _FALLBACK_CODES
    return tuple(ALL_CODES)


#: Codes a target's ``jurisdiction`` may take ("XX": explicitly unassigned).
ALL_CODES: tuple[str, ...] = _jurisdiction_codes()

_MIN_PATTERN_BUDGET = 50
_NAME = re.compile(r"^[a-z0-9_-]+$")
# A bare host name in its ASCII form (tanba.core.hosts): letters, digits, hyphens and dots.
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


@dataclass(frozen=True)
class Target:
    """One site (or group of domains) to crawl, as configured in the targets file."""

    name: str
    seeds: tuple[str, ...]
    allowed_domains: tuple[str, ...] = ()
    max_depth: int = 3
    max_pages: int = 500  # HTML pages only; media do not count
    jurisdiction: str = ""  # "" means: derive it from the host, as usual
    allow_private_addresses: bool = False
    delay_s: float | None = None  # None means: the DOWNLOAD_DELAY from Settings
    paused: bool = False
    # Non-public networks this target may fetch from (an intranet site), when
    # allow_private_addresses (which allows every address) is too wide.
    allowed_networks: tuple[str, ...] = ()
    max_pages_per_pattern: int = 0  # 0 means: the default of pattern_budget

    def __post_init__(self) -> None:
        if not self.allowed_domains:
            hosts = dict.fromkeys((urlsplit(s).hostname or "").rstrip(".") for s in self.seeds)
            object.__setattr__(self, "allowed_domains", tuple(h for h in hosts if h))

    @property
    def pattern_budget(self) -> int:
        """Pages one URL shape may take: a trap can use at most this much of ``max_pages``.

        By default half of ``max_pages``, but never fewer than 50: a small budget is
        already a bound, and a site's pages of one kind (``/film/N.html``) need room.
        """
        return self.max_pages_per_pattern or max(_MIN_PATTERN_BUDGET, self.max_pages // 2)


ALLOWED_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Target))
_DEFAULTS = {f.name: f.default for f in fields(Target)}

# Raises TargetsError for (field, problem); built per target so messages name it.
Fail = Callable[[str, str], NoReturn]


def load_targets(path: str | Path) -> list[Target]:
    """Read and validate a targets file; raises :class:`TargetsError` saying what to fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetsError(f"{path}: cannot read the targets file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TargetsError(f"{path}: the targets file is not UTF-8 text: {exc}") from exc
    return parse_targets(text, source=str(path))


def parse_targets(text: str, source: str = "<string>") -> list[Target]:
    """Parse targets from YAML text; ``source`` names the file in error messages."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TargetsError(
            f"{source}: not valid YAML{where}: {problem}. Check the indentation and quoting there."
        ) from exc
    if not isinstance(document, dict) or "targets" not in document:
        raise TargetsError(
            f"{source}: expected a mapping with a 'targets' list at the top, e.g. "
            "'targets:\\n  - name: my-site\\n    seeds: [\"https://example.kz/\"]'."
        )
    extra = sorted(str(k) for k in document if k != "targets")
    if extra:
        raise TargetsError(
            f"{source}: unknown top-level key(s) {extra}; only 'targets' is allowed."
        )
    entries = document["targets"]
    if not isinstance(entries, list) or not entries:
        raise TargetsError(f"{source}: 'targets' must be a non-empty list of targets.")
    targets: list[Target] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        target = _parse_one(entry, index, source)
        if target.name in seen:
            raise TargetsError(
                f"{source}: target '{target.name}' (#{index}), field 'name': the name is already "
                f"used by target #{seen[target.name]}; give each target a unique name."
            )
        seen[target.name] = index
        targets.append(target)
    return targets


def _parse_one(entry: Any, index: int, source: str) -> Target:
    if not isinstance(entry, dict):
        raise TargetsError(
            f"{source}: target #{index}: expected a mapping of fields (name, seeds, ...), "
            f"got {type(entry).__name__}."
        )
    raw_name = entry.get("name")
    label = f"'{raw_name}' (#{index})" if isinstance(raw_name, str) and raw_name else f"#{index}"

    def fail(field_name: str, problem: str) -> NoReturn:
        raise TargetsError(f"{source}: target {label}, field '{field_name}': {problem}")

    unknown = sorted(str(k) for k in entry if k not in ALLOWED_KEYS)
    if unknown:
        fail(unknown[0], f"unknown key; allowed keys are {', '.join(ALLOWED_KEYS)}.")

    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        fail("name", "required; use lower-case letters, digits, '-' and '_' only (e.g. kino-site).")

    seeds = entry.get("seeds")
    if isinstance(seeds, str):
        fail("seeds", 'must be a list of URLs; write ["' + seeds + '"].')
    if not isinstance(seeds, list) or not seeds:
        fail("seeds", 'required; give at least one start URL, e.g. ["https://example.kz/"].')
    for seed in seeds:
        if not _is_http_url(seed):
            fail("seeds", f"{seed!r} is not an absolute http:// or https:// URL.")
    # Internationalised hosts are kept in their ASCII form (фильмы.рф -> xn--h1agd3a1be.xn--p1ai).
    seeds = [ascii_url(seed) for seed in seeds]

    domains = entry.get("allowed_domains", [])
    if domains is None:
        domains = []
    if not isinstance(domains, list):
        fail("allowed_domains", 'must be a list of host names, e.g. ["example.kz"].')
    clean_domains: list[str] = []
    for domain in domains:
        try:
            host = ascii_host(domain) if isinstance(domain, str) else ""
        except ValueError:
            host = ""
        if not _HOST.match(host):
            fail(
                "allowed_domains",
                f"{domain!r} is not a bare host name; write it without scheme, port or path "
                "(e.g. 'example.kz').",
            )
        clean_domains.append(host)

    if clean_domains:
        for seed in seeds:
            host = (urlsplit(seed.strip()).hostname or "").rstrip(".")
            if not any(host == d or host.endswith("." + d) for d in clean_domains):
                fail(
                    "allowed_domains",
                    f"the seed {seed!r} is outside {clean_domains}; add {host!r} to the list.",
                )

    max_depth = _int(entry, "max_depth", minimum=0, fail=fail)
    max_pages = _int(entry, "max_pages", minimum=1, fail=fail)
    per_pattern = _int(entry, "max_pages_per_pattern", minimum=0, fail=fail)

    networks = entry.get("allowed_networks") or []
    if not isinstance(networks, list):
        fail("allowed_networks", 'must be a list of networks, e.g. ["10.20.0.0/16"].')
    clean_networks: list[str] = []
    for network in networks:
        try:
            clean_networks.append(str(ipaddress.ip_network(str(network).strip(), strict=False)))
        except ValueError:
            fail(
                "allowed_networks",
                f"{network!r} is not an address or network; write e.g. '10.20.0.0/16' or "
                "'192.168.1.5'.",
            )

    jurisdiction = entry.get("jurisdiction") or ""
    if not isinstance(jurisdiction, str):
        fail("jurisdiction", f"must be one of {', '.join(ALL_CODES)}.")
    jurisdiction = jurisdiction.strip().upper()
    if jurisdiction and jurisdiction not in ALL_CODES:
        fail("jurisdiction", f"{jurisdiction!r} is not known; use one of {', '.join(ALL_CODES)}.")

    delay = entry.get("delay_s")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0
    ):
        fail("delay_s", "must be a number of seconds, 0 or more (or leave it out).")

    return Target(
        name=name,
        seeds=tuple(seed.strip() for seed in seeds),
        allowed_domains=tuple(dict.fromkeys(clean_domains)),
        max_depth=max_depth,
        max_pages=max_pages,
        jurisdiction=jurisdiction,
        allow_private_addresses=_bool(entry, "allow_private_addresses", fail),
        delay_s=float(delay) if delay is not None else None,
        paused=_bool(entry, "paused", fail),
        allowed_networks=tuple(dict.fromkeys(clean_networks)),
        max_pages_per_pattern=per_pattern,
    )


def _int(entry: dict[str, Any], key: str, *, minimum: int, fail: Fail) -> int:
    value = entry.get(key, _DEFAULTS[key])
    # YAML's true/false are ints to Python; refuse them so 'max_pages: yes' is not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        fail(key, f"must be a whole number, {minimum} or more (default {_DEFAULTS[key]}).")
    return int(value)


def _bool(entry: dict[str, Any], key: str, fail: Fail) -> bool:
    value = entry.get(key, _DEFAULTS[key])
    if not isinstance(value, bool):
        fail(key, "must be true or false.")
    return bool(value)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        return False
