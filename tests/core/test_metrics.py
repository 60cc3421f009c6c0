"""The workers' Prometheus metrics: the lag gauge and the /metrics endpoint."""

from __future__ import annotations

import socket
import urllib.request

from prometheus_client import REGISTRY

from tanba.core import metrics


class FakeConsumer:
    def __init__(self) -> None:
        self.value: int | None = 7
        self.calls = 0

    def lag(self) -> int | None:
        self.calls += 1
        return self.value


def test_the_lag_gauge_follows_the_consumer_at_most_once_per_interval() -> None:
    now = [100.0]
    report = metrics.LagReporter("test-stage", interval_s=1.0, monotonic=lambda: now[0])
    consumer = FakeConsumer()
    report(consumer)
    assert metrics.LAG.labels("test-stage")._value.get() == 7
    consumer.value = 3
    now[0] += 0.5
    report(consumer)  # too soon: the broker is not asked again
    assert consumer.calls == 1 and metrics.LAG.labels("test-stage")._value.get() == 7
    now[0] += 0.6
    report(consumer)
    assert metrics.LAG.labels("test-stage")._value.get() == 3
    consumer.value = None  # unknown (broker unreachable): keep the last value
    now[0] += 2
    report(consumer)
    assert metrics.LAG.labels("test-stage")._value.get() == 3


def test_metrics_endpoint_lists_every_worker_series() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.stage_started("endpoint-stage")
    metrics.serve(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    for name in (
        "tanba_messages_processed_total",
        "tanba_messages_failed_total",
        "tanba_batch_seconds_count",
        "tanba_consumer_lag",
    ):
        assert f'{name}{{stage="endpoint-stage"}}' in text


def test_an_ended_crawl_job_counts_its_outcome_pages_media_and_failures_by_reason() -> None:
    series = [
        ("tanba_crawl_jobs_total", {"outcome": "interrupted"}),
        ("tanba_crawl_pages_total", {}),
        ("tanba_crawl_media_total", {}),
        ("tanba_crawl_failures_total", {"reason": "dns"}),
        ("tanba_crawl_job_seconds_count", {}),
    ]

    def reading() -> list[float]:
        return [float(REGISTRY.get_sample_value(name, labels) or 0.0) for name, labels in series]

    before = reading()
    metrics.crawl_job_ended(
        "interrupted", pages=12, media=30, failures={"dns": 2, "timeout": 1}, seconds=4.5
    )
    assert [a - b for a, b in zip(reading(), before, strict=True)] == [1, 12, 30, 2, 1]
