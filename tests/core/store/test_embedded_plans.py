"""The embedded store answers the console's per-page questions from indices, not table scans.

A query plan is a property of the schema, not of the machine's speed: these tests
hold without timing anything (bench/console_list.py measures the time).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core.store import AlertQuery
from tanba.core.store.embedded import EmbeddedAlertStore, _where


@pytest.mark.parametrize(
    "query",
    [AlertQuery(), AlertQuery(owner="Owner 3"), AlertQuery(jurisdiction="KZ")],
    ids=["administrator", "rights holder", "agency"],
)
def test_the_status_tabs_are_counted_from_an_index_alone(tmp_path: Path, query: AlertQuery) -> None:
    store = EmbeddedAlertStore(tmp_path / "alerts.sqlite3")
    try:
        where, params = _where(query)
        plan = " ".join(
            str(row[-1])
            for row in store._conn().execute(
                f"EXPLAIN QUERY PLAN SELECT status, COUNT(*) FROM alerts{where} GROUP BY 1", params
            )
        )
        assert "COVERING INDEX" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        store.close()
