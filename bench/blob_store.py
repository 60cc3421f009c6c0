"""Blob store speed: the file system against S3 on loopback, side by side.

Run (the S3 server is scripts/services' S3Proxy; start it first)::

    scripts/services start s3
    .venv/bin/python -m bench.blob_store [--endpoint http://127.0.0.1:8333] [--json out.json]

For 1 KB, 1 MB and 50 MB objects of random bytes (each put is of new bytes, so
nothing is skipped as already stored), it times on each store: ``put`` of
bytes; a second ``put`` of the same bytes in the same process (the idempotent
path: hashing, then a stat on the file system, nothing on S3, whose store
remembers what it stored); ``exists`` from a store opened anew, as another
process asks (a stat, or one HEAD); and ``get``. Printed per size and operation: the
median milliseconds per operation and the throughput in MB/s over all of them,
file system and S3 in adjacent columns, with S3's time as a multiple of the file
system's. The file system store fsyncs every blob (its durability), and S3Proxy
writes to the same disk, so the difference is the S3 protocol, HTTP and the
server's own copy, not the disk. 50 MB objects go as multipart uploads (16 MiB
parts, 4 at once), as the crawler's and the importer's large media do.

The S3 objects are written under a prefix of their own and deleted at the end;
the file system's under a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tanba.core.blobs import BlobStore, open_blobs
from tanba.core.settings import Settings

# (label, bytes, operations): enough operations to steady the median, few for the big ones.
SIZES = (("1 KB", 1 << 10, 300), ("1 MB", 1 << 20, 40), ("50 MB", 50 << 20, 3))
OPERATIONS = ("put", "put again", "exists", "get")
S3_KEYS = {"TANBA_S3_ACCESS_KEY": "tanba-dev", "TANBA_S3_SECRET_KEY": "tanba-dev-secret"}


def measure(store: BlobStore, cold: BlobStore, size: int, count: int) -> dict[str, list[float]]:
    """Seconds of each operation on ``count`` new objects of ``size`` bytes.

    ``cold``: the same store opened anew, which has not seen the blobs (``exists``
    there is what another process pays: a stat, or a HEAD).
    """
    payloads = [os.urandom(size) for _ in range(count)]
    seconds: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    digests = []
    for data in payloads:
        start = time.perf_counter()
        digests.append(store.put(data))
        seconds["put"].append(time.perf_counter() - start)
    for data in payloads:
        start = time.perf_counter()
        store.put(data)
        seconds["put again"].append(time.perf_counter() - start)
    for digest in digests:
        start = time.perf_counter()
        assert cold.exists(digest)
        seconds["exists"].append(time.perf_counter() - start)
    for digest in digests:
        start = time.perf_counter()
        got = store.get(digest)
        seconds["get"].append(time.perf_counter() - start)
        assert len(got) == size
    return seconds


def summary(seconds: list[float], size: int) -> dict[str, float]:
    return {
        "median_ms": statistics.median(seconds) * 1000,
        "mb_per_s": size * len(seconds) / sum(seconds) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--endpoint", default=os.environ.get("TANBA_TEST_S3", "http://127.0.0.1:8333")
    )
    parser.add_argument("--bucket", default="tanba")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="tanba-bench-blobs-") as home:
        settings = {
            "files": Settings.from_env({"TANBA_HOME": home}),
            "s3": Settings.from_env(
                {
                    "TANBA_HOME": home,
                    "TANBA_BLOBS": f"s3://{args.bucket}/{prefix}",
                    "TANBA_S3_ENDPOINT": args.endpoint,
                    **S3_KEYS,
                }
            ),
        }
        stores = {name: open_blobs(s) for name, s in settings.items()}
        try:
            stores["s3"].exists("0" * 64)
        except Exception as exc:
            print(f"S3 at {args.endpoint} is not usable: {exc}", file=sys.stderr)
            return 2
        try:
            for label, size, count in SIZES:
                for name, store in stores.items():
                    seconds = measure(store, open_blobs(settings[name]), size, count)
                    results.setdefault(label, {})[name] = {
                        op: summary(seconds[op], size) for op in OPERATIONS
                    }
        finally:
            _drop(stores["s3"], prefix)

    print(f"Blob stores: file system ({tempfile.gettempdir()}) vs S3Proxy at {args.endpoint}")
    print(
        f"{'size':>6} {'operation':<10} {'ops':>4} | {'files ms/op':>11} {'s3 ms/op':>9} "
        f"{'s3/files':>8} | {'files MB/s':>10} {'s3 MB/s':>8}"
    )
    for label, _size, count in SIZES:
        for op in OPERATIONS:
            f, s = results[label]["files"][op], results[label]["s3"][op]
            # No bytes move in an existence check: its throughput means nothing.
            rates = (
                f"{'-':>10} {'-':>8}"
                if op == "exists"
                else f"{f['mb_per_s']:>10.1f} {s['mb_per_s']:>8.1f}"
            )
            print(
                f"{label:>6} {op:<10} {count:>4} | {f['median_ms']:>11.2f} {s['median_ms']:>9.2f} "
                f"{s['median_ms'] / f['median_ms']:>7.1f}x | {rates}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def _drop(store: BlobStore, prefix: str) -> None:
    """Delete the benchmark's objects (everything under its prefix)."""
    from tanba.core.blobs.s3 import S3BlobStore

    assert isinstance(store, S3BlobStore)
    client, bucket = store.objects.client, store.location.bucket
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])


if __name__ == "__main__":
    sys.exit(main())
