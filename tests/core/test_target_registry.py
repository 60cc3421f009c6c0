"""The target registry on each bus: ids that never change or come back, archive, import.

Run on the embedded bus and on the real Kafka (the distributed mode), since the
registry is a compacted topic read by every process: what one process records,
another reads.
"""

from __future__ import annotations

import pytest

from tanba.core import topics
from tanba.core.bus import Bus
from tanba.core.clock import FixedClock
from tanba.core.exceptions import InputError, NotFound
from tanba.core.target_registry import TargetRegistry, record_target
from tanba.core.targets import TargetInvalid, TargetNameTaken, check_target, parse_entries

SEED = "http://kino.example.kz/"


def messages(bus: Bus) -> int:
    return sum(1 for _ in bus.replay(topics.TARGETS))


def test_ids_are_names_first_and_never_reused(bus: Bus, clock: FixedClock) -> None:
    registry = TargetRegistry(bus, clock)
    first = registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops")
    assert (first.id, first.created_by, first.created_at) == (
        "kino",
        "ops",
        "2026-03-01T12:00:00.000Z",
    )
    with pytest.raises(TargetNameTaken):
        registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops")
    registry.archive("kino", "ops")
    second = registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops")
    assert second.id == "kino-2"
    registry.archive("kino-2", "ops")
    assert registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops").id == "kino-3"
    # Another process (a fresh registry on the same bus) reads the same targets.
    other = TargetRegistry(bus, clock)
    assert [(r.id, r.archived) for r in other.records(None)] == [
        ("kino", True),
        ("kino-2", True),
        ("kino-3", False),
    ]
    assert [r.id for r in other.records()] == ["kino-3"]
    with pytest.raises(TargetNameTaken):
        other.restore("kino", "ops")  # its name is in use by kino-3
    with pytest.raises(NotFound, match="tanba targets list"):
        other.require("nothing")


def test_a_rename_keeps_the_id_and_an_archived_target_is_not_edited(
    bus: Bus, clock: FixedClock
) -> None:
    registry = TargetRegistry(bus, clock)
    registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops")
    renamed = registry.update("kino", check_target({"name": "cinema", "seeds": [SEED]}), "admin")
    assert (renamed.id, renamed.name, renamed.updated_by) == ("kino", "cinema", "admin")
    assert record_target(renamed).key == "kino"  # its crawls stay under the id
    # The old name is free again, under a new id.
    assert registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops").id == "kino-2"
    registry.archive("kino", "ops")
    with pytest.raises(InputError, match="archived; restore it first"):
        registry.set_paused("kino", True, "ops")


def test_importing_a_file_adds_updates_and_twice_changes_nothing(
    bus: Bus, clock: FixedClock
) -> None:
    registry = TargetRegistry(bus, clock)
    registry.add(check_target({"name": "kino", "seeds": [SEED], "schedule_hours": 6}), "ops")
    text = (
        "targets:\n"
        f"  - {{name: kino, seeds: ['{SEED}'], max_pages: 50}}\n"
        "  - {name: muzyka, seeds: ['http://muzyka.example.ru/'], schedule_hours: 24}\n"
    )
    resolve = ["kino.example.kz:8081:127.0.0.1"]
    done = registry.import_targets(parse_entries(text), "cli", resolve)
    assert [(i.record.id, i.action) for i in done] == [("kino", "updated"), ("muzyka", "added")]
    kino = registry.require("kino")
    assert kino.spec["max_pages"] == 50
    assert kino.spec["schedule_hours"] == 6  # the file gives no schedule: the console's stays
    assert kino.resolve == resolve and kino.updated_by == "cli"
    before = messages(bus)
    again = registry.import_targets(parse_entries(text), "cli")
    assert [i.action for i in again] == ["unchanged", "unchanged"]
    assert messages(bus) == before
    assert registry.require("kino").resolve == resolve  # no --resolve given: kept


def test_an_import_with_a_bad_target_writes_nothing(bus: Bus, clock: FixedClock) -> None:
    registry = TargetRegistry(bus, clock)
    with pytest.raises(TargetInvalid):
        registry.import_targets(
            parse_entries(f"targets: [{{name: a, seeds: ['{SEED}']}}]"), "cli", ["nonsense"]
        )
    assert registry.records(None) == []
    with pytest.raises(TargetInvalid, match="max_pages"):
        parse_entries(f"targets: [{{name: a, seeds: ['{SEED}'], max_pages: 1000001}}]")


def test_a_planned_import_chooses_the_ids_and_writes_nothing_until_put(
    bus: Bus, clock: FixedClock
) -> None:
    """`tanba run FILE` crawls under the planned ids and records the targets after the crawl."""
    registry = TargetRegistry(bus, clock)
    registry.add(check_target({"name": "kino", "seeds": [SEED]}), "ops")
    registry.archive("kino", "ops")
    before = messages(bus)
    plan = registry.plan_import(
        parse_entries(f"targets: [{{name: kino, seeds: ['{SEED}']}}]"), "cli"
    )
    assert [(i.record.id, i.action) for i in plan] == [("kino-2", "added")]
    assert messages(bus) == before
    registry.put([i.record for i in plan])
    assert [r.id for r in TargetRegistry(bus, clock).records()] == ["kino-2"]
