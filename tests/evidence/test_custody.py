"""The chain-of-custody log on the bus, merged with the alert's status history."""

from __future__ import annotations

import pytest

from tanba.core.alerts import Alert, MatchDetail, StatusChange
from tanba.core.clock import FixedClock
from tanba.core.wiring import App
from tanba.evidence.custody import CAPTURED, EXPORTED, NOTE, CustodyLog


def _alert(history: list[StatusChange]) -> Alert:
    return Alert(
        id="a1", work_id="w", owner="o", media="image", score=1.0,
        match=MatchDetail(algorithm="phash64", distance=0), page_url="http://x.kz/",
        media_url="http://x.kz/a.jpg", media_sha256="0" * 64, site="x.kz", jurisdiction="KZ",
        first_seen="2026-03-01T00:00:00.000Z", last_seen="2026-03-01T00:00:00.000Z",
        history=history,
    )  # fmt: skip


def test_events_are_kept_per_case_in_order_and_merged_with_status_changes(
    app: App, clock: FixedClock
) -> None:
    log = CustodyLog(app.bus, clock)
    log.record("a1", "alice", CAPTURED, "page HTTP 200", subject="ab" * 32)
    log.record("b2", "bob", NOTE, "another case")
    clock.advance(7200)
    log.record("a1", "carol", EXPORTED, "package a1.zip")
    assert [(e.actor, e.action) for e in log.events("a1")] == [
        ("alice", CAPTURED),
        ("carol", EXPORTED),
    ]
    alert = _alert([StatusChange(status="confirmed", actor="dana", at="2026-03-01T13:00:00.000Z")])
    merged = log.case_log(alert)
    assert [(e.at[11:16], e.actor, e.source) for e in merged] == [
        ("12:00", "alice", "custody"),
        ("13:00", "dana", "status_history"),
        ("14:00", "carol", "custody"),
    ]
    assert "confirmed" in merged[1].detail
    assert [e.actor for e in log.case_log(alert, leave_out=(EXPORTED,))] == ["alice", "dana"]
    with pytest.raises(ValueError, match="unknown custody action"):
        log.record("a1", "eve", "deleted")
