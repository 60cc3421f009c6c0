"""Prometheus metrics of the workers; served on TANBA_METRICS_PORT when it is set.

Per stage: messages processed, messages dead-lettered, seconds per batch, and
the consumer lag (messages of the worker's partitions not committed yet: end
offsets minus committed offsets on Kafka, uncommitted rows on the embedded bus).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from tanba.core.clock import Every

MESSAGES = Counter("tanba_messages_processed_total", "Messages processed", ["stage"])
FAILURES = Counter(
    "tanba_messages_failed_total", "Messages sent to the dead-letter topic", ["stage"]
)
BATCH_SECONDS = Histogram("tanba_batch_seconds", "Time to process one batch", ["stage"])
LAG = Gauge(
    "tanba_consumer_lag", "Messages of this worker's partitions not committed yet", ["stage"]
)
# How often a worker asks the bus for its lag at most (it costs round trips to the broker).
LAG_INTERVAL_S = 1.0


def stage_started(stage: str) -> None:
    """Create a stage's series at zero, so /metrics lists them before the first batch."""
    MESSAGES.labels(stage)
    FAILURES.labels(stage)
    BATCH_SECONDS.labels(stage)
    LAG.labels(stage)


class HasLag(Protocol):
    """What the lag gauge reads: a bus consumer (:class:`tanba.core.bus.base.Consumer`)."""

    def lag(self) -> int | None: ...


class LagReporter:
    """Sets a stage's lag gauge from its consumer, at most once per ``interval_s``."""

    def __init__(
        self,
        stage: str,
        interval_s: float = LAG_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage = stage
        self._every = Every(interval_s, monotonic)

    def __call__(self, consumer: HasLag) -> None:
        if not self._every.turn():
            return
        lag = consumer.lag()
        if lag is not None:
            LAG.labels(self.stage).set(lag)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on ``host``:``port`` (no-op for port 0).

    Loopback by default; a container whose metrics Prometheus scrapes from outside
    needs ``host="0.0.0.0"``.
    """
    if port:
        start_http_server(port, addr=host)
