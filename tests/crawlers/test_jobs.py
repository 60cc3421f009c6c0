"""The crawler's job board: one job per site at a time, a bounded number running, and
commits only of a partition's done prefix (an interrupted job blocks every later one)."""

from __future__ import annotations

import threading

from tanba.core.bus import Message
from tanba.core.crawl_jobs import job_for
from tanba.core.schemas.base import encode
from tanba.core.targets import Target
from tanba.crawlers.jobs import Held, JobBoard
from tanba.crawlers.worker import next_step


def held(offset: int, host: str, partition: int = 0, crawl: str = "c1") -> Held:
    target = Target(name=host.replace(".", "-"), seeds=(f"http://{host}/",))
    job = job_for(target, crawl, {}, requested_at="t", requested_by="test")
    message = Message("tanba.crawl-jobs", partition, offset, job.site, encode(job))
    return Held(message, job)


def test_two_jobs_of_one_site_never_run_at_once_even_with_room() -> None:
    board = JobBoard(max_running=8)
    first, second, other = held(0, "a.example.kz"), held(1, "b.example.kz"), held(2, "c.kz")
    for h in (first, second, other):
        board.add(h)
    # a.example.kz and b.example.kz are one site (example.kz): the second waits.
    assert board.start_next() == [first, other]
    assert board.start_next() == []
    board.finish(first, done=True)
    assert board.start_next() == [second]


def test_no_more_than_max_running_jobs_start() -> None:
    board = JobBoard(max_running=2)
    jobs = [held(i, f"site-{i}.kz") for i in range(5)]
    for h in jobs:
        board.add(h)
    assert board.start_next() == jobs[:2]
    board.finish(jobs[1], done=True)
    assert board.start_next() == [jobs[2]]
    assert board.counts() == {"pending": 2, "running": 2, "done": 1, "interrupted": 0}


def test_only_the_done_prefix_of_each_partition_is_committed() -> None:
    board = JobBoard(max_running=10)
    p0 = [held(i, f"a{i}.kz", partition=0) for i in range(3)]
    p1 = [held(i, f"b{i}.kz", partition=1) for i in range(2)]
    for h in p0 + p1:
        board.add(h)
    board.start_next()
    board.finish(p0[1], done=True)  # done after a gap: not committable yet
    board.finish(p1[0], done=True)
    assert board.committable() == [p1[0].message]
    board.finish(p0[0], done=True)
    assert board.committable() == [p0[1].message]
    assert board.committable() == []  # forgotten once handed out


def test_an_interrupted_job_keeps_its_offset_and_the_later_ones_uncommitted() -> None:
    board = JobBoard(max_running=10)
    jobs = [held(i, f"s{i}.kz") for i in range(3)]
    for h in jobs:
        board.add(h)
    board.start_next()
    board.finish(jobs[0], done=True)
    board.finish(jobs[1], done=False)
    board.finish(jobs[2], done=True)
    assert board.committable() == [jobs[0].message]
    assert board.committable() == []


def test_a_message_that_is_no_job_counts_as_done() -> None:
    board = JobBoard(max_running=1)
    bad = Held(Message("tanba.crawl-jobs", 0, 0, "x", b"not json"), None)
    board.add(bad)
    assert board.start_next() == []
    assert board.committable() == [bad.message]


def test_revoking_a_partition_forgets_its_jobs_and_returns_the_running_ones() -> None:
    board = JobBoard(max_running=1)
    running, waiting, kept = held(0, "a.kz", 0), held(1, "b.kz", 0), held(0, "c.kz", 1)
    for h in (running, waiting, kept):
        board.add(h)
    assert board.start_next() == [running]
    assert board.revoke({("tanba.crawl-jobs", 0)}) == [running]
    board.finish(running, done=False)  # it stops later; its site is free again
    assert board.start_next() == [kept]
    assert board.counts()["pending"] == 0


def test_a_job_end_wakes_the_consumer_so_a_freed_slot_is_filled_at_once() -> None:
    board = JobBoard(max_running=1)
    board.add(held(0, "a.kz"))
    board.add(held(1, "b.kz"))
    [running] = board.start_next()
    seen = board.ends()
    assert not board.wait_for_end(seen, 0.0)  # nothing ended yet
    ender = threading.Thread(target=board.finish, args=(running, True))
    ender.start()
    # Woken by the end, not by the timeout (a missed notification would wait 60 s, then fail).
    assert board.wait_for_end(seen, 60.0)
    ender.join()
    assert [h.job.site for h in board.start_next() if h.job] == ["b.kz"]
    # An end before the wait (after the count was taken) is not missed either.
    seen = board.ends()
    board.finish(board.running()[0], True)
    assert board.wait_for_end(seen, 0.0)


def test_while_jobs_wait_the_broker_is_asked_at_the_idle_pace_not_twenty_times_a_second() -> None:
    board = JobBoard(max_running=1)
    board.add(held(0, "a.kz"))
    board.add(held(1, "b.kz"))
    board.start_next()
    waiting = board.counts()  # b.kz waits for the one slot
    assert next_step(waiting, since_poll_s=0.1) == ("wait", 0.4)
    assert next_step(waiting, since_poll_s=0.49)[0] == "wait"
    # Every 0.5 s it asks for more jobs, waiting for them briefly: the slot comes first.
    assert next_step(waiting, since_poll_s=0.5) == ("poll", 0.05)
    board.finish(board.running()[0], True)
    board.start_next()
    idle = board.counts()  # every job started: nothing waits, the poll waits for jobs
    assert next_step(idle, since_poll_s=0.0) == ("poll", 0.5)
