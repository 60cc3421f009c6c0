"""Crawl targets in the console: the shared target registry, its form, and what the console allows.

The targets live in the installation's target registry
(:mod:`tanba.core.target_registry`), the one ``tanba targets`` and ``tanba run``
use, so a target the CLI crawled is on the targets page with its statistics, and
one added here is crawled by ``tanba run``. Every write is checked by the core's
one validation (:func:`tanba.core.targets.check_target`), whose problems name
the field and have a code the pages translate; this module adds the console's
own rule: private addresses and ``--resolve`` entries only where
``TANBA_CONSOLE_ALLOW_PRIVATE_TARGETS`` allows them.

:class:`TargetForm` is the HTML form as posted (text, so nothing the user typed
is lost before it can be shown again beside its error); :class:`TargetSpec` is
the API's JSON body. Both become a targets-file mapping for the core.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tanba.core.schemas.targets import TargetRecord
from tanba.core.sqlite import Database, transaction
from tanba.core.target_registry import (
    Imported,
    TargetRegistry,
    check_resolve,
    new_record,
    record_target,
)
from tanba.core.targets import (
    ALLOWED_KEYS,
    Problem,
    Target,
    TargetInvalid,
    check_target,
    invalid,
    parse_entries,
    target_problems,
)

log = logging.getLogger(__name__)
# Where consoles before the target registry kept their targets (in the console database).
_LEGACY_TABLE = "targets"

#: The form's fields, in the order the form shows them.
FORM_FIELDS: tuple[str, ...] = (
    "name",
    "seeds",
    "allowed_domains",
    "max_depth",
    "max_pages",
    "delay_s",
    "schedule_hours",
    "jurisdiction",
    "paused",
    "allow_private_addresses",
    "resolve",
)
_INT = re.compile(r"^[+-]?\d+$")


class TargetSpec(BaseModel):
    """A crawl target as the API takes it: a targets file's fields, plus ``resolve`` entries."""

    model_config = ConfigDict(extra="forbid")

    name: str
    seeds: list[str]
    allowed_domains: list[str] = Field(default_factory=list)
    max_depth: int = 3
    max_pages: int = 500
    delay_s: float | None = None  # None: the installation's TANBA_CRAWL_DELAY_S
    schedule_hours: float = 0.0  # 0: only when started by hand
    paused: bool = False
    jurisdiction: str = ""
    allow_private_addresses: bool = False
    allowed_networks: list[str] = Field(default_factory=list)
    max_pages_per_pattern: int = 0
    render: bool = False  # pages rendered in headless Chromium too (tanba.crawlers.render)
    resolve: list[str] = Field(default_factory=list)  # HOST:PORT:ADDR, tests and demos only

    def fields(self) -> dict[str, Any]:
        """The targets-file mapping (``resolve`` is not part of it)."""
        return self.model_dump(exclude={"resolve"})


class TargetForm(BaseModel):
    """The target form as the browser posts it: every field as text ("" when left out)."""

    name: str = ""
    seeds: str = ""
    allowed_domains: str = ""
    max_depth: str = "3"
    max_pages: str = "500"
    delay_s: str = ""
    schedule_hours: str = "0"
    jurisdiction: str = ""
    paused: str = ""
    allow_private_addresses: str = ""
    resolve: str = ""

    def values(self) -> dict[str, str]:
        """The text of each field, to show the form again as it was posted."""
        return {name: getattr(self, name) for name in FORM_FIELDS}

    def fields(self) -> dict[str, Any]:
        """The targets-file mapping: lists split, numbers read; text that is no number is
        passed on as it is, so the core's check says what the field needs."""
        return {
            "name": self.name.strip(),
            "seeds": _lines(self.seeds),
            "allowed_domains": _lines(self.allowed_domains),
            "max_depth": _number(self.max_depth, integer=True),
            "max_pages": _number(self.max_pages, integer=True),
            "delay_s": _number(self.delay_s) if self.delay_s.strip() else None,
            "schedule_hours": _number(self.schedule_hours) if self.schedule_hours.strip() else 0,
            "jurisdiction": self.jurisdiction.strip().upper(),
            "paused": bool(self.paused),
            "allow_private_addresses": bool(self.allow_private_addresses),
        }

    def resolve_entries(self) -> list[str]:
        return _lines(self.resolve)


def form_values(record: TargetRecord | None) -> dict[str, str]:
    """The form's text for ``record`` (an empty form with the defaults for None)."""
    if record is None:
        return TargetForm().values()
    spec = record.spec

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "1" if value else ""
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    values = {name: text(spec.get(name)) for name in FORM_FIELDS if name != "resolve"}
    values["name"] = record.name
    values["resolve"] = "\n".join(record.resolve)
    return values


class ConsoleTargets:
    """The registry as the console uses it: every write checked, private addresses guarded."""

    def __init__(self, registry: TargetRegistry, *, allow_private: bool) -> None:
        self.registry = registry
        self.allow_private = allow_private

    def add(self, fields: Mapping[str, Any], resolve: Sequence[str], actor: str) -> TargetRecord:
        target = self._checked(fields, resolve, None)
        return self.registry.add(target, actor, check_resolve(resolve))

    def update(
        self,
        target_id: str,
        fields: Mapping[str, Any],
        resolve: Sequence[str] | None,
        actor: str,
    ) -> TargetRecord:
        """Change a target; fields ``fields`` leaves out (the file's own) keep their values."""
        current = self.registry.require(target_id)
        merged = {**current.spec, **fields}
        target = self._checked(merged, resolve, current)
        return self.registry.update(
            target_id, target, actor, None if resolve is None else check_resolve(resolve)
        )

    def import_file(
        self, text: str, source: str, resolve: Sequence[str], actor: str
    ) -> list[Imported]:
        """Record a targets file's targets, as ``tanba targets import`` does.

        The whole file is checked first (TargetsError naming each bad target, nothing
        written); a console that refuses private addresses refuses a file that asks
        for them, or ``resolve`` entries, as it refuses them in the form.
        """
        parsed = parse_entries(text, source)
        entries = check_resolve(resolve)
        if not self.allow_private:
            if entries:
                raise invalid([_private_refused("resolve")])
            if any(p.target.allow_private_addresses for p in parsed):
                raise invalid([_private_refused("allow_private_addresses")])
        return self.registry.import_targets(parsed, actor, entries)

    def launchable(self, record: TargetRecord) -> Target:
        """The Target a crawl started here would crawl; TargetInvalid if the console refuses it."""
        target = record_target(record)
        if (target.allow_private_addresses or record.resolve) and not self.allow_private:
            raise invalid([_private_refused("allow_private_addresses")])
        return target

    def _checked(
        self, fields: Mapping[str, Any], resolve: Sequence[str] | None, current: TargetRecord | None
    ) -> Target:
        """The Target of ``fields``; every problem of the fields, resolve and private rule at once."""
        target, problems = target_problems(fields)
        try:
            check_resolve(resolve or ())
        except TargetInvalid as exc:
            problems += exc.problems
        if not self.allow_private:  # only what changes here: an imported demo target stays
            was_private = bool(current and current.spec.get("allow_private_addresses"))
            if fields.get("allow_private_addresses") is True and not was_private:
                problems.append(_private_refused("allow_private_addresses"))
            entries = [r.strip() for r in resolve or () if r.strip()]
            changed = entries and entries != (current.resolve if current else [])
            if changed and not any(p.field == "resolve" for p in problems):
                problems.append(_private_refused("resolve"))
        if problems or target is None:
            raise invalid(problems)
        return target


def _private_refused(field: str) -> Problem:
    return Problem(field, "private_refused")


def _lines(text: str) -> list[str]:
    return [p for p in text.replace(",", "\n").split() if p]


def _number(text: str, *, integer: bool = False) -> Any:
    """``text`` as a number, or unchanged when it is none (the check then names the field)."""
    value = text.strip().replace(",", ".") if not integer else text.strip()
    try:
        if integer:
            return int(value) if _INT.match(value) else text
        return float(value)
    except ValueError:
        return text


def migrate_console_targets(db: Database, registry: TargetRegistry) -> int:
    """Move the targets an older console kept in its own database into the registry, once.

    Each keeps its name as its id, so its crawl runs, reports and alerts (keyed by
    name then) stay its own. A target the rules now refuse stays behind, named in a
    warning. The old table is renamed, so this runs once; returns how many moved.
    """
    conn = db.conn()
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_LEGACY_TABLE,)
    ).fetchone()
    if not found:
        return 0
    rows = conn.execute(
        f"SELECT name, spec, created_at, updated_at, updated_by FROM {_LEGACY_TABLE}"
    ).fetchall()
    existing = registry.refresh()
    moved: list[TargetRecord] = []
    for name, spec_json, created_at, updated_at, updated_by in rows:
        if name in existing:
            continue
        spec = json.loads(spec_json)
        try:
            target = check_target({k: v for k, v in spec.items() if k in ALLOWED_KEYS})
            resolve = check_resolve(spec.get("resolve") or [])
        except TargetInvalid as exc:
            log.warning(
                "console target %r not moved to the target registry (add it again): %s", name, exc
            )
            continue
        moved.append(new_record(name, target, resolve, updated_by, created_at, updated_at))
    registry.put(moved)
    with transaction(conn):
        conn.execute(f"ALTER TABLE {_LEGACY_TABLE} RENAME TO {_LEGACY_TABLE}_moved_to_registry")
    return len(moved)
