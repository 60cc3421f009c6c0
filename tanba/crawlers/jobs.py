"""The crawl jobs a crawler holds: which to start next, and which offsets it may commit.

Contract: a crawler adds every job it polls (:meth:`JobBoard.add`, in partition
order); :meth:`JobBoard.start_next` hands out pending jobs to start, at most
``max_running`` at once and never two of one site (so the per-domain concurrency of
one crawl is the site's, whatever the number of jobs); :meth:`JobBoard.finish` records
how a job ended, and :meth:`JobBoard.committable` gives, per partition, the newest
message before which every held message is done: committing it is safe, as every
job up to it has published its media and its report. An interrupted job (the crawler
stopping, or its partition moving to another crawler) is never done, so its offset
and every later one of its partition stay uncommitted and whoever owns the partition
next runs them again. :meth:`JobBoard.revoke` forgets a partition's jobs and returns
those still running, which the crawler must stop before another takes them.

Why offsets and not one job at a time per partition: a partition holds many sites
(keys hash onto it), and a crawler runs several of them at once; Kafka's offset is one
number per partition, so only the done prefix may be committed. A job done after a
gap is redone by the next owner if this crawler dies first: at-least-once, which the
pipeline's deterministic ids make harmless (an alert's id is work, page and media
URL; a crawl report is replaced by the next one of the same crawl and target).

Thread-safe: the consumer thread adds, commits and revokes, the reactor thread
finishes jobs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from tanba.core.bus import Message
from tanba.core.schemas.crawl_jobs import CrawlJobRequested

State = Literal["pending", "running", "done", "interrupted"]
Partition = tuple[str, int]


@dataclass(eq=False)
class Held:
    """A polled job and where it stands; ``job`` is None for a message that is no job."""

    message: Message
    job: CrawlJobRequested | None
    state: State = "pending"
    stopping: bool = False  # the crawler asked it to stop (it will end interrupted)

    @property
    def partition(self) -> Partition:
        return (self.message.topic, self.message.partition)


@dataclass
class JobBoard:
    """The jobs of one crawler between poll and commit (see the module doc)."""

    max_running: int
    _held: dict[Partition, list[Held]] = field(default_factory=dict)
    _busy_sites: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ends: int = 0  # jobs ended so far (wait_for_end compares with it)
    _ended: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._ended = threading.Condition(self._lock)

    def add(self, held: Held) -> None:
        """Hold a polled message (a job, or ``job=None`` for one to skip: it counts as done)."""
        with self._lock:
            if held.job is None:
                held.state = "done"
            self._held.setdefault(held.partition, []).append(held)

    def start_next(self) -> list[Held]:
        """Pending jobs to start now (marked running), oldest first, one per free site."""
        with self._lock:
            running = sum(h.state == "running" for hs in self._held.values() for h in hs)
            ready = sorted(
                (h for hs in self._held.values() for h in hs if h.state == "pending"),
                key=lambda h: (h.message.offset, h.message.partition),
            )
            started: list[Held] = []
            for held in ready:
                if running + len(started) >= self.max_running:
                    break
                assert held.job is not None
                if held.job.site in self._busy_sites:
                    continue
                self._busy_sites.add(held.job.site)
                held.state = "running"
                started.append(held)
            return started

    def finish(self, held: Held, done: bool) -> None:
        """A running job ended: ``done`` (crawled, media and report durable) or interrupted."""
        with self._lock:
            held.state = "done" if done else "interrupted"
            if held.job is not None:
                self._busy_sites.discard(held.job.site)
            self._ends += 1
            self._ended.notify_all()

    def ends(self) -> int:
        """How many jobs have ended so far (finished, either way): a count for wait_for_end."""
        with self._lock:
            return self._ends

    def wait_for_end(self, seen: int, timeout_s: float) -> bool:
        """Block until more than ``seen`` jobs have ended, at most ``timeout_s``; True if so."""
        with self._lock:
            return self._ended.wait_for(lambda: self._ends != seen, timeout_s)

    def committable(self) -> list[Message]:
        """Per partition, the newest message with every held message up to it done; forgotten."""
        out: list[Message] = []
        with self._lock:
            for partition, hs in self._held.items():
                done = 0
                while done < len(hs) and hs[done].state == "done":
                    done += 1
                if done:
                    out.append(hs[done - 1].message)
                    self._held[partition] = hs[done:]
        return out

    def revoke(self, partitions: set[Partition]) -> list[Held]:
        """Forget the jobs of ``partitions``; returns those still running (to be stopped)."""
        with self._lock:
            running: list[Held] = []
            for partition in partitions:
                for held in self._held.pop(partition, []):
                    if held.state == "running":
                        running.append(held)
            return running

    def running(self) -> list[Held]:
        with self._lock:
            return [h for hs in self._held.values() for h in hs if h.state == "running"]

    def counts(self) -> dict[str, int]:
        """How many held messages are in each state (for the log, the pause and idleness)."""
        with self._lock:
            out = {"pending": 0, "running": 0, "done": 0, "interrupted": 0}
            for hs in self._held.values():
                for h in hs:
                    out[h.state] += 1
            return out
