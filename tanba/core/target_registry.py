"""The crawl targets of an installation, kept as the compacted ``tanba.targets`` topic.

Contract: one :class:`TargetRegistry` over the bus serves ``tanba targets``,
``tanba run``/``tanba crawl`` and the console alike, in the embedded mode (the
SQLite bus) and the distributed one (Kafka), as the works and organisations
registries do: writing publishes a :class:`TargetRecorded` event and is durable
when the call returns; reading replays the topic (incrementally after the first
read), the latest record per target id winning.

Ids: a target's id is given once, when it is added, and never changes or is
reused: it is the target's name when no target (active or archived) had that id
yet, else the name with ``-2``, ``-3``, … So an installation's first ``kino`` is
``kino`` (which keeps crawl reports and alerts made before the registry existed,
keyed by name, with their target), and a new ``kino`` added after the first was
archived is ``kino-2``, starting with no history of its own. Crawl reports,
alerts and captures are keyed by the id, so a target keeps its history when it
is renamed, and a new target never inherits another's.

Names are unique among active targets; removing a target archives it (it is
no longer crawled or listed, its history stays), and restoring it brings it
back if its name is free. Two processes adding the same name at the same moment
can both succeed (the last write wins); everything else is checked here.

Every write is validated by :func:`tanba.core.targets.check_target` (through
the :class:`~tanba.core.targets.Target` it takes), so the registry holds only
targets the crawler accepts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from tanba.core import topics
from tanba.core.bus import Bus, Record
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import InputError, NotFound
from tanba.core.resolve import canonical_resolve
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.targets import TargetRecord, TargetRecorded
from tanba.core.targets import (
    LIMITS,
    ParsedTarget,
    Problem,
    Target,
    TargetInvalid,
    TargetNameTaken,
    check_target,
    invalid,
    target_fields,
)

ImportAction = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True)
class Imported:
    """What an import did to one target of the file."""

    record: TargetRecord
    action: ImportAction


def check_resolve(entries: Iterable[str]) -> list[str]:
    """``--resolve`` entries to record with a target, in their canonical form (host in ASCII,
    :func:`tanba.core.resolve.canonical_resolve`); TargetInvalid on a bad one."""
    clean = [e.strip() for e in entries if e.strip()]
    if len(clean) > LIMITS.list_length:
        raise invalid(
            [Problem("resolve", "too_many", {"count": len(clean), "max": LIMITS.list_length})]
        )
    try:
        return [canonical_resolve(e) for e in clean]
    except InputError as exc:
        raise invalid([Problem("resolve", "resolve", {"detail": str(exc)})]) from None


def record_target(record: TargetRecord) -> Target:
    """The crawler's Target of ``record`` (with its id); TargetInvalid if its spec breaks a rule.

    A stored spec can break a rule made stricter since it was written: the error
    names the target and says to edit it.
    """
    try:
        return check_target(record.spec, target_id=record.id)
    except TargetInvalid as exc:
        raise invalid(
            exc.problems, f"target {record.name!r} ({record.id}) as stored; edit it:"
        ) from None


def new_record(
    target_id: str,
    target: Target,
    resolve: Sequence[str],
    actor: str,
    created_at: str,
    updated_at: str | None = None,
) -> TargetRecord:
    """The first record of ``target`` under ``target_id``: ``actor`` made it at ``created_at``.

    ``updated_at`` (default: ``created_at``) is for targets moved in from elsewhere,
    which keep when they were last changed there.
    """
    return TargetRecord(
        id=target_id,
        name=target.name,
        spec=target_fields(target),
        resolve=list(resolve),
        created_at=created_at,
        created_by=actor,
        updated_at=created_at if updated_at is None else updated_at,
        updated_by=actor,
    )


class TargetRegistry:
    """Add, change, archive and list crawl targets through the bus (see the module doc)."""

    def __init__(self, bus: Bus, clock: Clock) -> None:
        self.bus = bus
        self.clock = clock
        self._after: dict[int, int] = {}
        self._records: dict[str, TargetRecord] = {}
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()  # check-then-publish, within this process

    # --- reading -------------------------------------------------------------------

    def refresh(self) -> dict[str, TargetRecord]:
        """Every target by id, archived ones too, after reading what is new on the topic."""
        with self._read_lock:
            for message in self.bus.replay(topics.TARGETS, self._after or None):
                self._after[message.partition] = message.offset
                event = decode(message.value, TargetRecorded)
                self._records[event.record.id] = event.record
            return dict(self._records)

    def records(self, archived: bool | None = False) -> list[TargetRecord]:
        """Active targets (``archived=False``), archived ones (True) or all (None), by name."""
        found = [r for r in self.refresh().values() if archived is None or r.archived == archived]
        return sorted(found, key=lambda r: (r.name, r.id))

    def get(self, target_id: str) -> TargetRecord | None:
        return self.refresh().get(target_id)

    def require(self, target_id: str) -> TargetRecord:
        record = self.get(target_id)
        if record is None:
            raise NotFound(f"no target {target_id!r}; see 'tanba targets list'")
        return record

    def names(self) -> dict[str, str]:
        """Every target's name by id (archived ones too), to show ids as people know them."""
        return {i: r.name for i, r in self.refresh().items()}

    # --- writing -------------------------------------------------------------------

    def add(self, target: Target, actor: str, resolve: Sequence[str] = ()) -> TargetRecord:
        """Record a new target under a new id; TargetNameTaken if an active one has its name."""
        resolve = check_resolve(resolve)
        with self._write_lock:
            records = self.refresh()
            self._check_name_free(records, target.name)
            target_id = self._new_id(records, target.name)
            record = new_record(target_id, target, resolve, actor, iso(self.clock.now()))
            self._publish([record])
        return record

    def update(
        self, target_id: str, target: Target, actor: str, resolve: Sequence[str] | None = None
    ) -> TargetRecord:
        """Replace a target's settings (its name too); ``resolve=None`` keeps its entries."""
        clean = None if resolve is None else check_resolve(resolve)
        with self._write_lock:
            records = self.refresh()
            current = self._require_active(records, target_id)
            if target.name != current.name:
                self._check_name_free(records, target.name)
            record = self._changed(
                current,
                actor,
                name=target.name,
                spec=target_fields(target),
                resolve=current.resolve if clean is None else clean,
            )
            self._publish([record])
        return record

    def set_paused(self, target_id: str, paused: bool, actor: str) -> TargetRecord:
        """Pause or resume a target (no other check: a target can always be paused)."""
        with self._write_lock:
            current = self._require_active(self.refresh(), target_id)
            record = self._changed(current, actor, spec={**current.spec, "paused": paused})
            self._publish([record])
        return record

    def archive(self, target_id: str, actor: str) -> TargetRecord:
        """Remove a target from the active ones; its id, reports and alerts stay."""
        with self._write_lock:
            current = self.refresh().get(target_id)
            if current is None:
                raise NotFound(f"no target {target_id!r}; see 'tanba targets list'")
            if current.archived:
                return current
            record = self._changed(current, actor, archived=True)
            self._publish([record])
        return record

    def restore(self, target_id: str, actor: str) -> TargetRecord:
        """Make an archived target active again; TargetNameTaken if its name is in use."""
        with self._write_lock:
            records = self.refresh()
            current = records.get(target_id)
            if current is None:
                raise NotFound(f"no target {target_id!r}; see 'tanba targets list --archived'")
            if not current.archived:
                return current
            self._check_name_free(records, current.name)
            record = self._changed(current, actor, archived=False)
            self._publish([record])
        return record

    def import_targets(
        self, parsed: Sequence[ParsedTarget], actor: str, resolve: Sequence[str] = ()
    ) -> list[Imported]:
        """Record a targets file's targets (see :meth:`plan_import`); durable when it returns."""
        with self._write_lock:
            done = self.plan_import(parsed, actor, resolve)
            self._publish([i.record for i in done if i.action != "unchanged"])
        return done

    def plan_import(
        self, parsed: Sequence[ParsedTarget], actor: str, resolve: Sequence[str] = ()
    ) -> list[Imported]:
        """What importing a file's targets would record, without writing anything.

        A target whose name an active target has replaces that target's settings
        (keeping its id, and its schedule when the file gives none); a new name gets
        a new id; ``resolve``, when given, replaces the recorded ``--resolve`` entries
        of every target of the file. A target the import would not change is
        "unchanged" and need not be written again, so importing the same file twice
        changes nothing. Write the others with :meth:`put` (``tanba run FILE`` does,
        after its crawl, so a crawl on a full disk writes nothing before its captures).
        """
        clean = check_resolve(resolve)
        records = self.refresh()
        taken = set(records)
        done: list[Imported] = []
        for item in parsed:
            target = item.target
            spec = target_fields(target)
            current = self._active_named(records, target.name)
            if current is None:
                target_id = self._new_id(records, target.name, taken)
                record = new_record(target_id, target, clean, actor, iso(self.clock.now()))
                taken.add(record.id)
                done.append(Imported(record, "added"))
                continue
            if "schedule_hours" not in item.given:
                spec["schedule_hours"] = current.spec.get("schedule_hours", 0.0)
            entries = clean or current.resolve
            if spec == current.spec and entries == current.resolve:
                done.append(Imported(current, "unchanged"))
            else:
                changed = self._changed(current, actor, spec=spec, resolve=entries)
                done.append(Imported(changed, "updated"))
        return done

    def put(self, records: Sequence[TargetRecord]) -> None:
        """Write records as given, ids included (moving targets in from elsewhere)."""
        with self._write_lock:
            self._publish(records)

    # --- helpers -------------------------------------------------------------------

    def _publish(self, records: Sequence[TargetRecord]) -> None:
        if not records:
            return
        self.bus.publish(
            topics.TARGETS, [Record(r.id, encode(TargetRecorded(record=r))) for r in records]
        )
        with self._read_lock:  # this process reads its own writes even before a replay
            for r in records:
                self._records[r.id] = r

    def _changed(self, current: TargetRecord, actor: str, **changes: object) -> TargetRecord:
        return current.model_copy(
            update={**changes, "updated_at": iso(self.clock.now()), "updated_by": actor}
        )

    @staticmethod
    def _active_named(records: dict[str, TargetRecord], name: str) -> TargetRecord | None:
        return next((r for r in records.values() if r.name == name and not r.archived), None)

    def _check_name_free(self, records: dict[str, TargetRecord], name: str) -> None:
        if self._active_named(records, name) is not None:
            raise invalid([Problem("name", "name_taken", {"value": name})], kind=TargetNameTaken)

    @staticmethod
    def _require_active(records: dict[str, TargetRecord], target_id: str) -> TargetRecord:
        current = records.get(target_id)
        if current is None:
            raise NotFound(f"no target {target_id!r}; see 'tanba targets list'")
        if current.archived:
            raise InputError(
                f"target {current.name!r} ({target_id}) is archived; restore it first "
                f"('tanba targets restore {target_id}' or its page in the console)"
            )
        return current

    @staticmethod
    def _new_id(records: dict[str, TargetRecord], name: str, taken: set[str] | None = None) -> str:
        used = taken if taken is not None else set(records)
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}-{n}"
        return candidate
