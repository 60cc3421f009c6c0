"""The worker runtime every stage runs in: poll a batch, handle it, make it durable, commit.

The contract (after quix-streams' sinks): a stage turns each message into
effects (``handle``), the runtime makes the batch's effects durable in one go
(``apply``), and only then commits the offsets. A crash anywhere before the
commit replays the batch, and stages make effects idempotent, so nothing is
lost or doubled. A message that keeps failing goes to the dead-letter topic
with its error instead of blocking the queue; a dependency that is down
(TransientError) is retried with backoff, without committing, until it is back.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tanba.core import metrics, topics
from tanba.core.bus import Bus, Consumer, Message, Record
from tanba.core.clock import Clock, SystemClock, iso
from tanba.core.exceptions import EventDecodeError, TransientError
from tanba.core.schemas.base import encode
from tanba.core.schemas.deadletter import DeadLetter
from tanba.core.settings import Settings

log = logging.getLogger("tanba.core.worker")

#: How long one poll waits for messages before the worker looks at its stop event again.
_POLL_TIMEOUT_S = 0.5
_MAX_BACKOFF_S = 30.0


class Stage(ABC):
    """One step of the pipeline, as the runtime sees it."""

    name: str
    group: str
    topics: tuple[str, ...]

    def before_batch(self) -> None:  # noqa: B027 - optional hook
        """Called before each batch (e.g. the matcher refreshes its works)."""

    def batch_size(self, settings: Settings) -> int:
        """The most messages one batch takes (``TANBA_BATCH_SIZE`` unless the stage says)."""
        return settings.batch_size

    def gather_s(self, settings: Settings) -> float:
        """How long a batch that is not full goes on polling for more after its first poll.

        0 (the default): a batch is what one poll returns. A stage whose batch costs much
        whatever its size (the matcher's store write) says longer, so that a stage keeping
        up writes fewer, larger batches.
        """
        return 0.0

    @abstractmethod
    def handle(self, message: Message) -> list[Any]:
        """The effects of one message; pure apart from reads. Raises on failure."""

    @abstractmethod
    def apply(self, effects: Sequence[Any]) -> None:
        """Make a batch's effects durable and idempotent. Raises TransientError when it can't."""


class PublishingStage(Stage):
    """A stage whose effects are records to publish: ``(topic, Record)`` pairs."""

    bus: Bus

    def apply(self, effects: Sequence[Any]) -> None:
        by_topic: dict[str, list[Record]] = {}
        for topic, record in effects:
            by_topic.setdefault(topic, []).append(record)
        for topic, records in by_topic.items():
            self.bus.publish(topic, records)


@dataclass
class WorkerStats:
    """What a worker did, for the summary line and tests."""

    messages: int = 0
    batches: int = 0
    effects: int = 0
    dead_lettered: int = 0
    retries: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


class Worker:
    """Runs a stage against the bus until stopped, or until drained when ``drained`` says so."""

    def __init__(
        self,
        stage: Stage,
        bus: Bus,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        clock: Clock | None = None,
        on_batch: Callable[[WorkerStats], None] | None = None,
        poll_timeout_s: float = _POLL_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``poll_timeout_s``: how long each poll waits for messages. A drained worker stops
        only after an empty poll, so tests on the embedded bus (whose poll answers from its
        file at once) pass a short one; Kafka needs the default (with 50 ms polls a chain of
        two stages did not drain within 120 s). ``monotonic``: the clock of a batch's gathering
        (:meth:`Stage.gather_s`), so tests count polls instead of waiting."""
        self.stage = stage
        self.bus = bus
        self.settings = settings
        self.stop = stop or threading.Event()
        self.clock = clock or SystemClock()
        self.on_batch = on_batch
        self.poll_timeout_s = poll_timeout_s
        self.monotonic = monotonic
        self.stats = WorkerStats()
        self.finished = threading.Event()  # set when run() returns; downstream stages drain on it

    def run(self, drained: Callable[[], bool] | None = None) -> WorkerStats:
        """Process batches until ``stop`` is set, or until drained once ``drained()`` is true.

        ``drained`` says the upstream has finished, so nothing new will arrive. The
        worker then stops at the first empty poll after which its group has no lag on
        its topics (every partition committed up to its end offset). An empty poll
        alone proves nothing on Kafka: a rebalance or a fetch still in flight returns
        nothing while messages wait. ``finished`` is set when this returns, however.
        """
        try:
            return self._run(drained)
        finally:
            self.finished.set()

    def _run(self, drained: Callable[[], bool] | None) -> WorkerStats:
        consumer = self.bus.consumer(self.stage.group, self.stage.topics)
        metrics.stage_started(self.stage.name)
        report_lag = metrics.LagReporter(self.stage.name)
        try:
            while not self.stop.is_set():
                # Asked before the poll: once the upstream was done before an empty poll and
                # the group shows no lag after it, nothing is left that this stage must see.
                upstream_done = drained is not None and drained()
                size = self.stage.batch_size(self.settings)
                batch = self._gather(consumer, consumer.poll(size, self.poll_timeout_s), size)
                if not batch:
                    report_lag(consumer)
                    if upstream_done and self._caught_up():
                        break
                    continue
                # A commit that cannot reach the bus is retried like any write: until done or
                # stopped (then the batch is simply redone by whoever reads it next).
                if self._process(batch) and self._until_durable(partial(consumer.commit, batch)):
                    report_lag(consumer)
        finally:
            consumer.close()
        return self.stats

    def _gather(self, consumer: Consumer, batch: list[Message], size: int) -> list[Message]:
        """``batch`` and what later polls return, until ``size`` messages or the stage's
        gather time (:meth:`Stage.gather_s`) since the first poll answered; an empty batch
        as is (a worker with nothing to do polls as before)."""
        gather_s = self.stage.gather_s(self.settings)
        if not batch or gather_s <= 0:
            return batch
        deadline = self.monotonic() + gather_s
        while len(batch) < size and not self.stop.is_set():
            left = deadline - self.monotonic()
            if left <= 0:
                break
            batch = batch + consumer.poll(size - len(batch), left)
        return batch

    def _caught_up(self) -> bool:
        """True when the stage's group has committed every message of its topics."""
        try:
            lag = self.bus.group_lag(self.stage.group, self.stage.topics)
        except TransientError as exc:
            log.warning("%s: cannot tell whether drained (%s); polling on", self.stage.name, exc)
            return False
        if lag:
            log.info("%s: upstream done, %d messages still to commit", self.stage.name, lag)
        return lag == 0

    def _process(self, batch: list[Message]) -> bool:
        """Handle and apply one batch; False when stopped before its effects were durable."""
        started = time.monotonic()
        # The matcher's refresh writes its state: retried like any write (it is idempotent).
        if not self._until_durable(self.stage.before_batch):
            return False
        effects: list[Any] = []
        dead: list[Record] = []
        for message in batch:
            outcome = self._handle(message)
            if outcome is None:
                return False  # stopped while a dependency was down: the batch is redone
            if isinstance(outcome, Record):
                dead.append(outcome)
            else:
                effects.extend(outcome)
        if not self._until_durable(lambda: self.stage.apply(effects)):
            return False
        if dead and not self._until_durable(lambda: self.bus.publish(topics.DEAD_LETTER, dead)):
            return False
        self._account(batch, effects, dead, time.monotonic() - started)
        return True

    def _handle(self, message: Message) -> list[Any] | Record | None:
        """A message's effects, or its dead-letter record after ``max_attempts`` failures.

        A TransientError (a store the stage reads, such as the blob store, down) is not
        the message's failure: it is retried with backoff, uncounted, until it passes;
        None when the worker was stopped meanwhile.
        """
        error = ""
        attempts = 0
        delay = 0.5
        while attempts < self.settings.max_attempts:
            attempts += 1
            try:
                return self.stage.handle(message)
            except TransientError as exc:
                attempts -= 1
                log.warning(
                    "%s: %s; retrying %s in %.1f s, nothing committed",
                    self.stage.name,
                    exc,
                    _pos(message),
                    delay,
                )
                if self.stop.wait(delay):
                    return None
                delay = min(delay * 2, _MAX_BACKOFF_S)
            except EventDecodeError as exc:  # retrying cannot fix a malformed message
                error = f"EventDecodeError: {exc}"
                break
            except Exception as exc:  # a bug or a bad input must not stop the stage
                error = "".join(traceback.format_exception_only(exc)).strip()
                log.warning(
                    "%s: attempt %d at %s failed: %s",
                    self.stage.name,
                    attempts,
                    _pos(message),
                    error,
                )
                self.stats.retries += 1
        letter = dead_letter(self.stage.name, message, error, attempts, iso(self.clock.now()))
        metrics.FAILURES.labels(self.stage.name).inc()
        return Record(message.topic, encode(letter))

    def _until_durable(self, write: Callable[[], None]) -> bool:
        """Run ``write`` until it succeeds, backing off while a dependency is down."""
        delay = 0.5
        while True:
            try:
                write()
                return True
            except TransientError as exc:
                log.warning(
                    "%s: %s; retrying in %.1f s, nothing committed", self.stage.name, exc, delay
                )
                if self.stop.wait(delay):
                    return False
                delay = min(delay * 2, _MAX_BACKOFF_S)

    def _account(
        self, batch: list[Message], effects: list[Any], dead: list[Record], seconds: float
    ) -> None:
        s = self.stats
        s.messages += len(batch)
        s.batches += 1
        s.effects += len(effects)
        s.dead_lettered += len(dead)
        for m in batch:
            s.by_topic[m.topic] = s.by_topic.get(m.topic, 0) + 1
        metrics.MESSAGES.labels(self.stage.name).inc(len(batch))
        metrics.BATCH_SECONDS.labels(self.stage.name).observe(seconds)
        log.info(
            json.dumps(
                {
                    "event": "batch",
                    "stage": self.stage.name,
                    "messages": len(batch),
                    "effects": len(effects),
                    "dead_lettered": len(dead),
                    "first": _pos(batch[0]),
                    "last": _pos(batch[-1]),
                    "ms": round(seconds * 1000, 1),
                }
            )
        )
        if self.on_batch is not None:
            self.on_batch(s)


def dead_letter(stage: str, message: Message, error: str, attempts: int, at: str) -> DeadLetter:
    """The dead letter of ``message``: its bytes kept whole (base64), the error cut to 4,000
    characters; what every stage writes to the dead-letter topic."""
    return DeadLetter(
        stage=stage,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        payload_b64=base64.b64encode(message.value).decode(),
        error=error[:4000],
        attempts=attempts,
        failed_at=at,
    )


def _pos(m: Message) -> str:
    return f"{m.topic}/{m.partition}@{m.offset}"
