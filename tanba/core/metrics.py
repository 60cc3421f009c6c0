"""Prometheus metrics of the workers; served on TANBA_METRICS_PORT when it is set.

Per stage: messages processed, messages dead-lettered, seconds per batch, and
the consumer lag (messages of the worker's partitions not committed yet: end
offsets minus committed offsets on Kafka, uncommitted rows on the embedded bus).
Crawlers add their jobs (ended, by outcome, and running), the pages and media the
jobs gave, the fetches that failed by reason, and how long jobs ran. What to
watch and when to add processes: docs/scaling.md.
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
CRAWL_JOBS = Counter("tanba_crawl_jobs_total", "Crawl jobs ended", ["outcome"])
CRAWL_JOBS_RUNNING = Gauge("tanba_crawl_jobs_running", "Crawl jobs this crawler runs now")
CRAWL_PAGES = Counter("tanba_crawl_pages_total", "Pages the ended crawl jobs fetched")
CRAWL_MEDIA = Counter("tanba_crawl_media_total", "Media the ended crawl jobs published")
CRAWL_FAILURES = Counter(
    "tanba_crawl_failures_total", "Fetches that failed, by reason (dns, timeout, ...)", ["reason"]
)
CRAWL_JOB_SECONDS = Histogram(
    "tanba_crawl_job_seconds",
    "How long one crawl job ran",
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200),
)
# The outcomes of a crawl job, as tanba_crawl_jobs_total labels them.
JOB_OUTCOMES = ("done", "interrupted", "dead_lettered")

# How often a worker asks the bus for its lag at most. A reading costs round trips to the
# broker (4.6 ms of CPU in `bench.kafka_cpu`), which at once a second was most of an idle
# worker's cost; Prometheus scrapes every 15 s or so, so a reading every 5 s loses nothing.
LAG_INTERVAL_S = 5.0


def stage_started(stage: str) -> None:
    """Create a stage's series at zero, so /metrics lists them before the first batch."""
    MESSAGES.labels(stage)
    FAILURES.labels(stage)
    BATCH_SECONDS.labels(stage)
    LAG.labels(stage)


def crawl_job_ended(
    outcome: str, *, pages: int, media: int, failures: dict[str, int], seconds: float
) -> None:
    """Count one ended crawl job: its outcome (one of JOB_OUTCOMES) and what it gave."""
    CRAWL_JOBS.labels(outcome).inc()
    CRAWL_PAGES.inc(pages)
    CRAWL_MEDIA.inc(media)
    for reason, count in failures.items():
        CRAWL_FAILURES.labels(reason).inc(count)
    CRAWL_JOB_SECONDS.observe(seconds)


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

    Loopback by default (TANBA_METRICS_HOST); a container whose metrics Prometheus
    scrapes from outside needs ``host="0.0.0.0"``.
    """
    if port:
        start_http_server(port, addr=host)
