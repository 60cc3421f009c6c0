"""Prometheus metrics of the workers; served on TANBA_METRICS_PORT when it is set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

MESSAGES = Counter("tanba_messages_processed_total", "Messages processed", ["stage"])
FAILURES = Counter(
    "tanba_messages_failed_total", "Messages sent to the dead-letter topic", ["stage"]
)
BATCH_SECONDS = Histogram("tanba_batch_seconds", "Time to process one batch", ["stage"])
LAG = Gauge("tanba_consumer_lag", "Messages waiting for the stage", ["stage"])


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (no-op for 0)."""
    if port:
        start_http_server(port, addr="127.0.0.1")
