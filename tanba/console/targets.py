"""Crawl targets kept by the console: what operators add and edit on the targets page.

Targets live in the console database so that they survive restarts and can be
edited from the web; a crawl started from the console writes the chosen
targets to a ``targets.yaml`` (:func:`write_targets_file`) and runs
``tanba crawl``/``tanba run`` on it, so the crawler reads exactly the format
an operator would write by hand. Every spec is validated by the crawler's own
parser (:func:`tanba.core.targets.parse_targets`) before it is stored: the
console can never store a target the crawler would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tanba.console.exceptions import Conflict
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import InputError, NotFound
from tanba.core.resolve import parse_resolve
from tanba.core.sqlite import Database, transaction
from tanba.core.targets import Target, parse_targets

_SCHEMA = """
CREATE TABLE IF NOT EXISTS targets (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
"""


class TargetSpec(BaseModel):
    """A crawl target as the console edits it: the crawler's fields plus a schedule and --resolve."""

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
    resolve: list[str] = Field(default_factory=list)  # HOST:PORT:ADDR, tests and demos only

    def crawler_fields(self) -> dict[str, Any]:
        """The fields of the targets file (no schedule, no resolve: those stay in the console)."""
        out: dict[str, Any] = {
            "name": self.name,
            "seeds": list(self.seeds),
            "max_depth": self.max_depth,
            "max_pages": self.max_pages,
            "paused": self.paused,
            "allow_private_addresses": self.allow_private_addresses,
        }
        if self.allowed_domains:
            out["allowed_domains"] = list(self.allowed_domains)
        if self.jurisdiction:
            out["jurisdiction"] = self.jurisdiction
        if self.delay_s is not None:
            out["delay_s"] = self.delay_s
        return out

    def to_target(self) -> Target:
        """The crawler's Target, validated by the crawler's own parser (raises InputError)."""
        text = yaml.safe_dump({"targets": [self.crawler_fields()]}, allow_unicode=True)
        return parse_targets(text, source="target")[0]


@dataclass(frozen=True)
class StoredTarget:
    """A target with who changed it last, and when."""

    spec: TargetSpec
    created_at: str
    updated_at: str
    updated_by: str


class TargetStore:
    """Targets in the console database, validated on every write."""

    def __init__(self, db: Database, clock: Clock, *, allow_private: bool = False) -> None:
        self._db = db
        self._clock = clock
        self.allow_private = allow_private
        db.conn().executescript(_SCHEMA)

    def validate(self, spec: TargetSpec) -> TargetSpec:
        """``spec`` normalised as the crawler reads it; InputError saying what to fix."""
        target = spec.to_target()
        if (spec.allow_private_addresses or spec.resolve) and not self.allow_private:
            raise InputError(
                "private addresses and --resolve entries are for tests and demos; this console"
                " refuses them (set TANBA_CONSOLE_ALLOW_PRIVATE_TARGETS=1 where that is wanted)"
            )
        if spec.resolve:
            parse_resolve(spec.resolve)
        if spec.schedule_hours < 0:
            raise InputError(
                "schedule_hours must be 0 (only by hand) or a positive number of hours"
            )
        return spec.model_copy(
            update={
                "seeds": list(target.seeds),
                "allowed_domains": list(target.allowed_domains),
                "jurisdiction": target.jurisdiction,
                "resolve": [r.strip() for r in spec.resolve if r.strip()],
            }
        )

    def add(self, spec: TargetSpec, actor: str) -> StoredTarget:
        spec = self.validate(spec)
        now = iso(self._clock.now())
        with transaction(self._db.conn()) as conn:
            if conn.execute("SELECT 1 FROM targets WHERE name = ?", (spec.name,)).fetchone():
                raise Conflict(f"a target named {spec.name!r} exists; edit it or pick another name")
            conn.execute(
                "INSERT INTO targets VALUES (?,?,?,?,?)",
                (spec.name, spec.model_dump_json(), now, now, actor),
            )
        return StoredTarget(spec, now, now, actor)

    def update(self, name: str, spec: TargetSpec, actor: str) -> StoredTarget:
        """Replace a target's settings; its name cannot change (statistics are kept by name)."""
        if spec.name != name:
            raise InputError(
                f"a target keeps its name ({name!r}); add a new target to use another name"
            )
        return self._save(self.require(name), self.validate(spec), actor)

    def set_paused(self, name: str, paused: bool, actor: str) -> StoredTarget:
        """Pause or resume; no re-validation, so a target can always be paused."""
        current = self.require(name)
        return self._save(current, current.spec.model_copy(update={"paused": paused}), actor)

    def _save(self, current: StoredTarget, spec: TargetSpec, actor: str) -> StoredTarget:
        """Replace a stored target's spec, stamped with the time and the actor."""
        now = iso(self._clock.now())
        with transaction(self._db.conn()) as conn:
            conn.execute(
                "UPDATE targets SET spec=?, updated_at=?, updated_by=? WHERE name=?",
                (spec.model_dump_json(), now, actor, current.spec.name),
            )
        return StoredTarget(spec, current.created_at, now, actor)

    def get(self, name: str) -> StoredTarget | None:
        row = (
            self._db.conn()
            .execute(
                "SELECT spec, created_at, updated_at, updated_by FROM targets WHERE name = ?",
                (name,),
            )
            .fetchone()
        )
        return _stored(row) if row else None

    def require(self, name: str) -> StoredTarget:
        stored = self.get(name)
        if stored is None:
            raise NotFound(f"no target {name!r}; see the targets page")
        return stored

    def all(self) -> list[StoredTarget]:
        rows = self._db.conn().execute(
            "SELECT spec, created_at, updated_at, updated_by FROM targets ORDER BY name"
        )
        return [_stored(r) for r in rows]


def _stored(row: Sequence[Any]) -> StoredTarget:
    return StoredTarget(TargetSpec.model_validate(json.loads(row[0])), row[1], row[2], row[3])


def write_targets_file(specs: Sequence[TargetSpec], path: Path) -> Path:
    """Write ``specs`` as a targets file the crawler loads (checked by loading it back)."""
    text = yaml.safe_dump(
        {"targets": [s.crawler_fields() for s in specs]}, allow_unicode=True, sort_keys=False
    )
    parse_targets(text, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
