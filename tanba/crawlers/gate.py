"""Writes a full disk or a full bus refuses for now: the crawl pauses until they go through.

Contract: :meth:`WriteGate.write` runs ``attempt`` and returns its result. When
``attempt`` raises :class:`~tanba.core.exceptions.TransientError` (a full disk, a
bus that cannot take events) the write is parked instead:

- the first parked write pauses the crawl: the engine stops taking requests
  from the scheduler, ``paused`` is counted, and the error is logged once
  (``<target>: <error>; crawl paused, nothing fetched is lost``; the error of a
  full disk says which file and file system);
- the parked writes are retried in the order they were refused (``retry`` if
  given, else ``attempt`` again), after 1 s, then with the wait doubling up to
  30 s; a round that still fails logs ``<target>: still paused: <error>``;
- each of these lines is said at most once every 30 s for all targets alike
  (:class:`Repeats`), with how many times it was held back meanwhile;
- when the last one has gone through, the crawl resumes
  (``<target>: writes succeed again; crawl resumed``) and every parked
  ``write`` returns its result. A parked write that fails with any other error
  raises it in its own caller, and the others go on.

A write that comes while the crawl is paused is tried at once all the same (it
may fit); :meth:`opened` waits until the crawl is not paused, for work that
should not start meanwhile (downloading more media). Nothing is lost while
paused: each parked write holds what it has to write until it goes through.
A crawl stopped meanwhile (Ctrl-C) still waits for its parked writes before it
closes, since Scrapy closes a spider only once its items are through; a second
Ctrl-C (Scrapy's forced shutdown) stops it at once, and the next crawl fetches
again what was parked.

Why one gate per target, shared by its pipelines: the pause is the crawl's,
not one item's; with one queue the error is logged once per pause and the
writes go through in the order they were refused. The waits use asyncio (the
reactor Scrapy runs on), and ``sleep`` is injected so tests decide when the
disk has space again, without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from tanba.core.exceptions import TransientError
from tanba.crawlers.stats import TargetStats

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0

T = TypeVar("T")
log = logging.getLogger(__name__)


class Pausable(Protocol):
    """What the gate needs of Scrapy's ExecutionEngine."""

    def pause(self) -> None: ...

    def unpause(self) -> None: ...


def no_engine() -> Pausable | None:
    """The engine of a gate used outside a running crawl: there is none to pause."""
    return None


class Repeats:
    """Lets a line through at most once per ``interval_s`` for each text, across every gate.

    Every target has a gate, and while one bus or disk refuses them all, a line per
    target per round would be 5,000 lines a round for 5,000 targets: each text is
    logged once a window, with how many targets said it meanwhile.
    """

    def __init__(
        self, interval_s: float = MAX_RETRY_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._said: dict[str, tuple[float, int]] = {}  # text -> (when said, times held back)

    def held(self, text: str) -> int | None:
        """None to hold the line back; else how many were held back since it was last said."""
        now = self._monotonic()
        said = self._said.get(text)
        if said is not None and now - said[0] < self.interval_s:
            self._said[text] = (said[0], said[1] + 1)
            return None
        self._said[text] = (now, 0)
        return 0 if said is None else said[1]


# One per process: the gates of all its targets share what they said.
REPEATS = Repeats()


@dataclass
class _Parked(Generic[T]):
    write: Callable[[], T]
    done: asyncio.Future[T]


class WriteGate:
    """Runs writes that may be refused for now, pausing the crawl meanwhile (see the module doc)."""

    def __init__(
        self,
        name: str,
        tally: TargetStats,
        *,
        engine: Callable[[], Pausable | None] = no_engine,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        repeats: Repeats = REPEATS,
    ) -> None:
        self.name = name
        self._repeats = repeats
        self.tally = tally
        self._engine = engine
        self._sleep = sleep
        self._parked: deque[_Parked[Any]] = deque()
        self._waiting_open: list[asyncio.Future[None]] = []
        self._retrying: asyncio.Future[None] | None = None

    @property
    def paused(self) -> bool:
        """True while some write waits for the disk or the bus."""
        return bool(self._parked)

    async def write(self, attempt: Callable[[], T], retry: Callable[[], T] | None = None) -> T:
        """``attempt()``'s result; once it has gone through if it is refused for now."""
        try:
            return attempt()
        except TransientError as exc:
            refused = exc
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._parked.append(_Parked(retry or attempt, done))
        if len(self._parked) == 1:
            self._pause(refused)
        return await done

    async def write_in_thread(self, attempt: Callable[[], T]) -> T:
        """As :meth:`write`, with ``attempt`` run in a worker thread (a slow upload).

        A refused attempt is parked as :meth:`write` parks it; its retries run as
        :meth:`write`'s do. ``attempt`` must be safe to run beside the event loop.
        """
        try:
            return await asyncio.to_thread(attempt)
        except TransientError:
            return await self.write(attempt)

    async def opened(self) -> None:
        """Return once the crawl is not paused (at once when it is not)."""
        if self._parked:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting_open.append(waiter)
            await waiter

    def _pause(self, exc: TransientError) -> None:
        self.tally.paused += 1
        self._say(logging.ERROR, f"{exc}; crawl paused, nothing fetched is lost")
        engine = self._engine()
        if engine is not None:
            engine.pause()
        self._retrying = asyncio.ensure_future(self._retry_parked())

    async def _retry_parked(self) -> None:
        delay = FIRST_RETRY_S
        while self._parked:
            await self._sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)
            self._run_parked()
        self._say(logging.WARNING, "writes succeed again; crawl resumed")
        engine = self._engine()
        if engine is not None:
            engine.unpause()
        waiting, self._waiting_open = self._waiting_open, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

    def _run_parked(self) -> None:
        """Run the parked writes in order, up to the first that is still refused."""
        while self._parked:
            parked = self._parked[0]
            try:
                result = parked.write()
            except TransientError as exc:
                self._say(logging.WARNING, f"still paused: {exc}")
                return
            except Exception as exc:  # not the disk or the bus: its caller's failure
                self._parked.popleft()
                if not parked.done.done():
                    parked.done.set_exception(exc)
                continue
            self._parked.popleft()
            if not parked.done.done():  # its caller may have been cancelled meanwhile
                parked.done.set_result(result)

    def _say(self, level: int, text: str) -> None:
        """Log ``<target>: text``, unless another gate said the same text a moment ago."""
        held = self._repeats.held(text)
        if held is not None:
            others = f" (and {held} more times by this or other targets)" if held else ""
            log.log(level, "%s: %s%s", self.name, text, others)
