"""Crawl targets: which sites to crawl, how deep, how often, and under which jurisdiction.

Contract: :func:`load_targets` / :func:`parse_targets` read YAML of the form::

    targets:
      - name: kino-site                 # required, unique, [a-z0-9_-], at most 100 characters
        seeds: ["http://kino.example.kz:8081/"]   # 1 to 100 http(s) URLs
        allowed_domains: ["kino.example.kz"]       # default: the seeds' hosts
        max_depth: 3                    # links followed from a seed, 0 to 1,000 (default 3)
        max_pages: 500                  # HTML pages fetched, 1 to 1,000,000 (default 500)
        jurisdiction: KZ                # optional override, a code of codes.ALL_CODES
        allow_private_addresses: false  # only tests and demos set this
        allowed_networks: ["10.20.0.0/16"]  # or: only these non-public networks
        max_pages_per_pattern: 250      # pages per URL shape (default: half of max_pages, >= 50)
        delay_s: 1.0                    # optional politeness override, 0 to 60 seconds
        schedule_hours: 24              # 0: only when started; else 5 minutes to 8,760 hours
        paused: false                   # paused targets are skipped
        render: false                   # true: pages rendered in headless Chromium too

and return frozen :class:`Target` objects, or raise :class:`TargetsError`
naming the file, the target and the field of every problem, with what to fix.
Unknown keys are errors, so a typo such as ``max_dept`` cannot silently fall
back to a default.

:func:`check_target` is the one validation of a target's fields: the file
parser, ``tanba targets``, the console's form and its API all call it, so a
limit (:data:`LIMITS`) holds wherever a target is written. Each problem is a
:class:`Problem` with a code and values, so the console can say it in the
user's language beside the field, and an English :attr:`Problem.message` for
the command line.

Why strict: a targets file is edited by hand by people who are not developers;
a crawl that silently ignores a setting (or crawls an intranet address, or
every page of the web every minute) is worse than one that refuses to start.

Why one module of about 530 lines: the file format, the limits and the
problems' wording are one contract, read by the CLI, the console and the crawler.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tanba.core.exceptions import TargetsError
from tanba.core.hosts import ascii_host, ascii_url
from tanba.core.jurisdictions.codes import ALL_CODES as _CODES

#: Codes a target's ``jurisdiction`` may take ("XX": explicitly unassigned).
ALL_CODES: tuple[str, ...] = tuple(_CODES)

_MIN_PATTERN_BUDGET = 50
_NAME = re.compile(r"^[a-z0-9_-]+$")
# A bare host name in its ASCII form (tanba.core.hosts): letters, digits, hyphens and dots.
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


@dataclass(frozen=True)
class Limits:
    """The bounds of every field of a target (see the module doc for why each exists).

    A name fits a table cell and a file name; a seed is a URL browsers accept; a
    hundred seeds, domains or networks is a big site, and more is several targets;
    depth 1,000 follows a long chain of "next page" links (``max_pages`` is what
    bounds a crawl); a million pages is the largest crawl one process should hold in
    memory (the spider keeps every URL it has seen); a delay over a minute, or a
    schedule under five minutes, is a mistake far more often than a wish (a crawl
    takes minutes; the console's scheduler ticks once a minute); a year is the
    longest interval.
    """

    name_length: int = 100
    url_length: int = 2083  # as tanba.crawlers.spiders.site.MAX_URL_LENGTH
    list_length: int = 100  # seeds, allowed_domains, allowed_networks, --resolve entries
    max_depth: int = 1000
    max_pages: int = 1_000_000
    delay_s: float = 60.0
    schedule_min_minutes: int = 5
    schedule_max_hours: int = 8760


LIMITS = Limits()


@dataclass(frozen=True)
class Target:
    """One site (or group of domains) to crawl, as configured in the targets file.

    ``id`` is given by the target registry (:mod:`tanba.core.target_registry`): it
    keys the target's crawl reports, alerts and captures, and never changes. A
    target read straight from a file has none, and is keyed by its name (:attr:`key`).
    """

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
    schedule_hours: float = 0.0  # 0: crawled only when started; read by the console's scheduler
    # Pages (and players) are also rendered in headless Chromium, for media that a script
    # builds (tanba.crawlers.render); off by default: a browser costs far more than a fetch.
    render: bool = False
    id: str = ""

    def __post_init__(self) -> None:
        if not self.allowed_domains:
            hosts = dict.fromkeys((urlsplit(s).hostname or "").rstrip(".") for s in self.seeds)
            object.__setattr__(self, "allowed_domains", tuple(h for h in hosts if h))

    @property
    def key(self) -> str:
        """What the target's reports, events and files are keyed by: its id, else its name."""
        return self.id or self.name

    @property
    def pattern_budget(self) -> int:
        """Pages one URL shape may take: a trap can use at most this much of ``max_pages``.

        By default half of ``max_pages``, but never fewer than 50: a small budget is
        already a bound, and a site's pages of one kind (``/film/N.html``) need room.
        """
        return self.max_pages_per_pattern or max(_MIN_PATTERN_BUDGET, self.max_pages // 2)


#: The keys of a target in a targets file (every field but the registry's id).
ALLOWED_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Target) if f.name != "id")
_DEFAULTS = {f.name: f.default for f in fields(Target)}

# English text of each problem code; the console has the same codes in every language
# (tanba/console/translations, keys "problem.<code>"), with the same {placeholders}.
MESSAGES: dict[str, str] = {
    "unknown_key": "unknown key; allowed keys are {allowed}.",
    "name_required": "required; use lower-case letters, digits, '-' and '_' only (e.g. kino-site).",
    "name_chars": "'{value}' has other characters; use lower-case letters, digits, '-' and '_'"
    " only (e.g. kino-site).",
    "name_duplicate": "the name is already used by target #{index}; give each target a unique name.",
    "name_taken": "a target named '{value}' exists already; edit that target, or pick another"
    " name.",
    "too_long": "is {length} characters long; use at most {max}.",
    "too_many": "has {count} entries; at most {max} are allowed (split the site into several"
    " targets).",
    "seeds_required": 'required; give at least one start URL, e.g. ["https://example.kz/"].',
    "seeds_not_list": 'must be a list of URLs; write ["{value}"].',
    "not_http_url": "'{value}' is not an absolute http:// or https:// URL.",
    "domains_not_list": 'must be a list of host names, e.g. ["example.kz"].',
    "not_a_host": "'{value}' is not a bare host name; write it without scheme, port or path"
    " (e.g. 'example.kz').",
    "seed_outside": "the seed '{value}' is outside [{domains}]; add '{host}' to the list.",
    "whole_number": "must be a whole number from {min} to {max} (default {default}).",
    "delay": "must be a number of seconds from 0 to {max} (or leave it out for the"
    " installation's default).",
    "schedule": "must be 0 (crawl only when started) or a number of hours from {min_hours}"
    " ({min_minutes} minutes) to {max_hours}.",
    "jurisdiction": "'{value}' is not known; use one of {codes}.",
    "true_false": "must be true or false.",
    "networks_not_list": 'must be a list of networks, e.g. ["10.20.0.0/16"].',
    "not_a_network": "'{value}' is not an address or network; write e.g. '10.20.0.0/16' or"
    " '192.168.1.5'.",
    "resolve": "{detail}",
    "private_refused": "private addresses and --resolve entries are for tests and demos; this"
    " console refuses them (set TANBA_CONSOLE_ALLOW_PRIVATE_TARGETS=1 where that is wanted).",
}


# What is wrong with a targets file as a whole, by code (the console translates the codes
# as ``targets_file.<code>``; these are the command line's English).
FILE_MESSAGES: dict[str, str] = {
    "unreadable": "cannot read the targets file: {detail}",
    "not_utf8": "the targets file is not UTF-8 text; save it as UTF-8 and import it again.",
    "too_large": "larger than {limit} bytes; split the file.",
    "not_yaml": "not valid YAML at line {line}, column {column}: {detail}. Check the"
    " indentation and quoting there.",
    "no_targets": "expected a mapping with a 'targets' list at the top, e.g."
    " 'targets:\\n  - name: my-site\\n    seeds: [\"https://example.kz/\"]'.",
    "top_level_keys": "unknown top-level key(s) {keys}; only 'targets' is allowed.",
    "empty": "'targets' must be a non-empty list of targets.",
    "not_a_mapping": "target #{index}: expected a mapping of fields (name, seeds, ...), got"
    " {kind}.",
}


class TargetsFileError(TargetsError):
    """The targets file as a whole is unusable: a code and values (for translations), the
    file's name, and the English message ``source: what to do``."""

    def __init__(self, source: str, code: str, **values: Any) -> None:
        self.source = source
        self.code = code
        self.values = values
        super().__init__(f"{source}: {FILE_MESSAGES[code].format(**values)}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field: a code (for translations), its values, and English text.

    ``target`` names the target of a file the problem is in (``'name' (#3)``; empty for
    a form, which has one target)."""

    field: str
    code: str
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    target: str = ""

    @property
    def message(self) -> str:
        return MESSAGES[self.code].format(**self.values)


class TargetInvalid(TargetsError):
    """A target's fields break the rules; ``problems`` says which, one per field at most."""

    def __init__(self, message: str, problems: Iterable[Problem]) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = tuple(problems)

    def by_field(self) -> dict[str, list[Problem]]:
        out: dict[str, list[Problem]] = {}
        for p in self.problems:
            out.setdefault(p.field, []).append(p)
        return out


class TargetNameTaken(TargetInvalid):
    """Another (active) target has the name; a conflict with what exists, not a typo."""


def invalid(
    problems: Iterable[Problem], where: str = "target", kind: type[TargetInvalid] = TargetInvalid
) -> TargetInvalid:
    """The error for ``problems``, one line per problem: ``WHERE, field 'F': what to do``."""
    problems = tuple(problems)
    lines = [f"{where}, field '{p.field}': {p.message}" for p in problems]
    return kind("\n".join(lines), problems)


@dataclass(frozen=True)
class ParsedTarget:
    """A target as a file gives it, and the keys the file set (the others took defaults)."""

    target: Target
    given: frozenset[str]


def load_targets(path: str | Path) -> list[Target]:
    """Read and validate a targets file; raises :class:`TargetsError` saying what to fix."""
    return [p.target for p in load_entries(path)]


def load_entries(path: str | Path) -> list[ParsedTarget]:
    """As :func:`load_targets`, with the keys each target set (for the registry's import)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetsFileError(str(path), "unreadable", detail=exc.strerror or exc) from exc
    except UnicodeDecodeError as exc:
        raise TargetsFileError(str(path), "not_utf8") from exc
    return parse_entries(text, source=str(path))


def parse_targets(text: str, source: str = "<string>") -> list[Target]:
    """Parse targets from YAML text; ``source`` names the file in error messages."""
    return [p.target for p in parse_entries(text, source)]


def parse_entries(text: str, source: str = "<string>") -> list[ParsedTarget]:
    """As :func:`parse_targets`, with the keys each target set.

    Every target is checked before anything is returned, and the error lists the
    problems of every bad target, so one edit of the file can fix them all.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = getattr(exc, "problem", None) or str(exc)
        raise TargetsFileError(source, "not_yaml", line=line, column=column, detail=detail) from exc
    if not isinstance(document, dict) or "targets" not in document:
        raise TargetsFileError(source, "no_targets")
    extra = sorted(str(k) for k in document if k != "targets")
    if extra:
        raise TargetsFileError(source, "top_level_keys", keys=", ".join(extra))
    entries = document["targets"]
    if not isinstance(entries, list) or not entries:
        raise TargetsFileError(source, "empty")
    parsed: list[ParsedTarget] = []
    failures: list[TargetInvalid] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise TargetsFileError(source, "not_a_mapping", index=index, kind=type(entry).__name__)
        raw_name = entry.get("name")
        label = (
            f"'{raw_name}' (#{index})" if isinstance(raw_name, str) and raw_name else f"#{index}"
        )
        if len(label) > 80:
            label = f"'{label[1:60]}…' (#{index})"
        target, problems = target_problems(entry)
        name = raw_name if isinstance(raw_name, str) else ""
        if name in seen:
            problems.insert(0, Problem("name", "name_duplicate", {"index": seen[name]}))
        elif name:
            seen[name] = index
        if problems:
            labelled = [dataclasses.replace(p, target=label) for p in problems]
            failures.append(invalid(labelled, f"{source}: target {label}"))
        elif target is not None:
            parsed.append(ParsedTarget(target, frozenset(str(k) for k in entry)))
    if failures:
        raise TargetInvalid(
            "\n".join(str(f) for f in failures), [p for f in failures for p in f.problems]
        )
    return parsed


def target_problems(entry: Mapping[str, Any]) -> tuple[Target | None, list[Problem]]:
    """:func:`check_target`'s answer as a value: the Target and no problems, or None and them.

    For callers that add problems of their own (a name twice in a file, the console's
    rule on private addresses) so that one error lists them all.
    """
    try:
        return check_target(entry), []
    except TargetInvalid as exc:
        return None, list(exc.problems)


def check_target(entry: Mapping[str, Any], *, target_id: str = "") -> Target:
    """The :class:`Target` ``entry`` (a targets file's mapping) describes, or TargetInvalid.

    Values must have the types YAML gives them (a number, not the text of one);
    strings are stripped, hosts put in their ASCII form, the jurisdiction upper-cased.
    Every field is checked, so the error lists every problem, at most one per field.
    """
    problems: list[Problem] = []

    def bad(key: str, code: str, **values: Any) -> None:
        problems.append(Problem(key, code, values))

    unknown = sorted(str(k) for k in entry if k not in ALLOWED_KEYS)
    for key in unknown:
        bad(key, "unknown_key", allowed=", ".join(ALLOWED_KEYS))

    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        bad("name", "name_required")
        name = ""
    else:
        name = name.strip()
        if len(name) > LIMITS.name_length:
            bad("name", "too_long", length=len(name), max=LIMITS.name_length)
        elif not _NAME.match(name):
            bad("name", "name_chars", value=name)

    seeds = _seeds(entry.get("seeds"), bad)
    domains = _domains(entry.get("allowed_domains"), seeds, bad)
    max_depth = _int(entry, "max_depth", 0, LIMITS.max_depth, bad)
    max_pages = _int(entry, "max_pages", 1, LIMITS.max_pages, bad)
    per_pattern = _int(entry, "max_pages_per_pattern", 0, LIMITS.max_pages, bad)
    networks = _networks(entry.get("allowed_networks"), bad)

    jurisdiction = entry.get("jurisdiction") or ""
    if not isinstance(jurisdiction, str):
        bad("jurisdiction", "jurisdiction", value=jurisdiction, codes=", ".join(ALL_CODES))
        jurisdiction = ""
    jurisdiction = jurisdiction.strip().upper()
    if jurisdiction and jurisdiction not in ALL_CODES:
        bad("jurisdiction", "jurisdiction", value=jurisdiction, codes=", ".join(ALL_CODES))

    delay = entry.get("delay_s")
    if delay is not None and not _number_within(delay, 0, LIMITS.delay_s):
        bad("delay_s", "delay", max=_plain(LIMITS.delay_s))
        delay = None

    schedule = entry.get("schedule_hours", 0)
    if schedule is None:
        schedule = 0
    if not _number_within(schedule, 0, LIMITS.schedule_max_hours) or (
        # Compared in minutes rounded to a tenth, so 0.0833 hours counts as 5 minutes.
        schedule > 0 and round(schedule * 60, 1) < LIMITS.schedule_min_minutes
    ):
        bad(
            "schedule_hours",
            "schedule",
            min_minutes=LIMITS.schedule_min_minutes,
            min_hours=_plain(round(LIMITS.schedule_min_minutes / 60, 4)),
            max_hours=f"{LIMITS.schedule_max_hours:,}",
        )
        schedule = 0

    allow_private = _bool(entry, "allow_private_addresses", bad)
    paused = _bool(entry, "paused", bad)
    render = _bool(entry, "render", bad)
    if problems:
        raise invalid(problems)
    return Target(
        name=name,
        seeds=tuple(seeds),
        allowed_domains=tuple(dict.fromkeys(domains)),
        max_depth=max_depth,
        max_pages=max_pages,
        jurisdiction=jurisdiction,
        allow_private_addresses=allow_private,
        delay_s=float(delay) if delay is not None else None,
        paused=paused,
        allowed_networks=tuple(dict.fromkeys(networks)),
        max_pages_per_pattern=per_pattern,
        schedule_hours=float(schedule),
        render=render,
        id=target_id,
    )


def target_fields(target: Target, *, all_fields: bool = True) -> dict[str, Any]:
    """``target`` as a targets file writes it (no id); ``all_fields=False`` leaves out defaults.

    :func:`check_target` of the result gives ``target`` back (without its id).
    """
    out: dict[str, Any] = {}
    for key in ALLOWED_KEYS:
        value = getattr(target, key)
        if isinstance(value, tuple):
            value = list(value)
        default = _DEFAULTS[key]
        if key == "allowed_domains" and not all_fields:
            derived = Target(name=target.name, seeds=target.seeds).allowed_domains
            if tuple(value) == derived:
                continue
        elif not all_fields and (value == default or (isinstance(default, tuple) and not value)):
            continue
        if key == "delay_s" and value is None:
            continue
        out[key] = value
    return out


def _seeds(value: Any, bad: Any) -> list[str]:
    if isinstance(value, str):
        bad("seeds", "seeds_not_list", value=value[: LIMITS.url_length])
        return []
    if not isinstance(value, list) or not value:
        bad("seeds", "seeds_required")
        return []
    if len(value) > LIMITS.list_length:
        bad("seeds", "too_many", count=len(value), max=LIMITS.list_length)
        return []
    for seed in value:
        if isinstance(seed, str) and len(seed.strip()) > LIMITS.url_length:
            bad("seeds", "too_long", length=len(seed.strip()), max=LIMITS.url_length)
            return []
        if not _is_http_url(seed):
            bad("seeds", "not_http_url", value=seed)
            return []
    # Internationalised hosts are kept in their ASCII form (фильмы.рф -> xn--h1agd3a1be.xn--p1ai).
    return [ascii_url(seed) for seed in value]


def _list(key: str, value: Any, not_list: str, bad: Any) -> list[Any]:
    """``value`` if it is a list of at most ``LIMITS.list_length`` items; else [] after
    reporting ``not_list`` or ``too_many`` for ``key``."""
    if not isinstance(value, list):
        bad(key, not_list)
        return []
    if len(value) > LIMITS.list_length:
        bad(key, "too_many", count=len(value), max=LIMITS.list_length)
        return []
    return value


def _domains(value: Any, seeds: list[str], bad: Any) -> list[str]:
    clean: list[str] = []
    for domain in _list("allowed_domains", [] if value is None else value, "domains_not_list", bad):
        try:
            host = ascii_host(domain) if isinstance(domain, str) else ""
        except ValueError:
            host = ""
        if not _HOST.match(host):
            bad("allowed_domains", "not_a_host", value=domain)
            return []
        clean.append(host)
    for seed in seeds if clean else ():
        host = (urlsplit(seed).hostname or "").rstrip(".")
        if not any(host == d or host.endswith("." + d) for d in clean):
            bad("allowed_domains", "seed_outside", value=seed, domains=", ".join(clean), host=host)
            return []
    return clean


def _networks(value: Any, bad: Any) -> list[str]:
    clean: list[str] = []
    for network in _list("allowed_networks", value or [], "networks_not_list", bad):
        try:
            clean.append(str(ipaddress.ip_network(str(network).strip(), strict=False)))
        except ValueError:
            bad("allowed_networks", "not_a_network", value=network)
            return []
    return clean


def _int(entry: Mapping[str, Any], key: str, minimum: int, maximum: int, bad: Any) -> int:
    value = entry.get(key, _DEFAULTS[key])
    # YAML's true/false are ints to Python; refuse them so 'max_pages: yes' is not 1.
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        default = _DEFAULTS[key]
        assert isinstance(default, int)  # every field read here has an int default
        bad(key, "whole_number", min=minimum, max=f"{maximum:,}", default=default)
        return default
    return int(value)


def _number_within(value: Any, minimum: float, maximum: float) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and minimum <= value <= maximum
    )


def _plain(number: float) -> str:
    """A number as people write it: 60 rather than 60.0."""
    return f"{number:g}"


def _bool(entry: Mapping[str, Any], key: str, bad: Any) -> bool:
    value = entry.get(key, _DEFAULTS[key])
    if not isinstance(value, bool):
        bad(key, "true_false")
        return bool(_DEFAULTS[key])
    return value


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        return False
