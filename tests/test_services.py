"""The test servers' housekeeping: what a killed run left behind is swept, nothing else."""

from __future__ import annotations

from tests.services import STALE_TEST_INDEX_HOURS, new_namespace, stale_test_indices

HOUR_MS = 3600 * 1000
NOW_MS = 1_800_000_000_000


def test_only_old_indices_of_test_namespaces_are_stale() -> None:
    old = NOW_MS - (STALE_TEST_INDEX_HOURS + 1) * HOUR_MS
    recent = NOW_MS - (STALE_TEST_INDEX_HOURS - 1) * HOUR_MS
    killed_run = f"{new_namespace('st')}-tanba-alerts-kz"
    running = f"{new_namespace()}-tanba-works"
    rows = [
        {"index": killed_run, "creation.date": str(old)},
        {"index": running, "creation.date": str(recent)},
        # A benchmark's or an installation's namespace is never a test's.
        {"index": "triage-bench-tanba-alerts-kz", "creation.date": str(old)},
        {"index": "tanba-alerts-kz", "creation.date": str(old)},
        {"index": ".security-7", "creation.date": str(old)},
    ]
    assert stale_test_indices(rows, NOW_MS) == [killed_run]
