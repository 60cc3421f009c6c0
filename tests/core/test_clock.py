"""tanba.core.clock.Every: a turn at most once per interval, and a failed turn left untaken."""

from __future__ import annotations

from tanba.core.clock import Every


def test_a_turn_comes_at_most_once_per_interval_and_an_untaken_one_stays_due() -> None:
    now = [50.0]
    every = Every(1.0, lambda: now[0])
    assert every.turn()  # the first is always due
    now[0] += 0.9
    assert not every.turn()
    now[0] += 0.1
    assert every.due()  # asked, not taken (the catch-up failed): still due a moment later
    now[0] += 0.5
    assert every.due()
    every.took()  # taken at the time due() read: the next is due a whole interval on
    now[0] += 0.9
    assert not every.due()
    now[0] += 0.1
    assert every.turn()
