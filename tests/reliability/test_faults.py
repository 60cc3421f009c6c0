"""Fault injection in the regular suite: SIGKILLs at random points of every stage and store.

Small seeded versions of what ``python -m bench.reliability`` runs at
full size (20 kills per stage): one round of the three-process pipeline with
3 kills per stage, and the storage writer killed 5 times. Each must end with
exactly the expected alerts and consistent files.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import chaos, crashloop


def test_killing_each_stage_at_random_loses_and_duplicates_no_alert(
    tmp_path: Path, registered_home: Path
) -> None:
    result = chaos.run(
        tmp_path / "chaos", seed=8, rounds=1, kills_per_stage=3, template=registered_home
    )
    (round_,) = result.rounds
    assert [len(result.kills(stage)) for stage in chaos.STAGES] == [3, 3, 3]
    assert round_.missing == [] and round_.unexpected == [] and round_.duplicated == 0
    assert round_.dead_letters == 0 and round_.quarantine_wrong == []
    assert round_.integrity == []
    assert round_.expected == 7 and round_.events > 0 and round_.warc_records > 0


def test_killing_the_storage_writer_at_random_leaves_every_store_consistent(
    tmp_path: Path,
) -> None:
    result = crashloop.run(tmp_path, seed=8, kills=5)
    assert result.kills == 5 and result.problems == []
    assert result.batches >= result.acked > 0
