"""CPU per blob of the S3 store's client: the fast path (signed urllib3) beside boto3's, one run.

Run (the S3 server is scripts/services' S3Proxy; start it first)::

    .venv/bin/python -m bench.s3_cpu [--endpoint http://127.0.0.1:8333] [--count 100]

For objects of 50 kB (a web picture, put in one request) and 300 kB (over the 256 KiB
bound: a HEAD first, then the PUT), it prints this process's CPU milliseconds per
``put`` of new bytes and per ``local_path`` (the checked temporary copy the decoder
sandbox reads), with :class:`~tanba.core.blobs.s3.SignedHttp` (what ``open_blobs``
gives when an endpoint is set) and with boto3 alone (the reference); and, for
``local_path``, the copy as it was before (boto3's stream copied, then the file read
again for its digest). CPU time, not wall time: it is what the pipeline's stages pay
per medium on a busy machine (bench/pipeline_throughput.py). The objects are written
under a prefix of their own and deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tanba.core.blobs import BlobStore, open_blobs
from tanba.core.blobs.s3 import S3BlobStore
from tanba.core.settings import Settings

SIZES = (("50 kB", 50_000), ("300 kB", 300_000))


def cpu_ms_each(items: list[object], action: Callable[[object], object]) -> float:
    started = time.process_time()
    for item in items:
        action(item)
    return (time.process_time() - started) * 1000 / len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8333")
    parser.add_argument("--bucket", default="tanba")
    parser.add_argument("--count", type=int, default=100, help="objects per size and path")
    args = parser.parse_args()
    spool = Path(tempfile.mkdtemp(prefix="tanba-s3-cpu-"))
    environ = {
        "TANBA_HOME": str(spool),
        "TANBA_BLOBS": f"s3://{args.bucket}/bench-s3-cpu-{uuid.uuid4().hex[:8]}",
        "TANBA_S3_ENDPOINT": args.endpoint,
        "TANBA_S3_ACCESS_KEY": os.environ.get("TANBA_S3_ACCESS_KEY", "tanba-dev"),
        "TANBA_S3_SECRET_KEY": os.environ.get("TANBA_S3_SECRET_KEY", "tanba-dev-secret"),
    }
    store = open_blobs(Settings.from_env(environ))
    assert isinstance(store, S3BlobStore)
    fast = store.objects.fast
    if fast is None:
        parser.error("no fast path: set --endpoint")
    stored: list[str] = []

    def local_copy(path_of: Callable[..., object]) -> Callable[[object], object]:
        def copy(digest: object) -> object:
            with path_of(digest, spool) as path:  # type: ignore[operator]
                return path

        return copy

    print(
        f"CPU ms per operation, {args.count} objects each (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"{'size':<8} {'operation':<34} {'fast path':>10} {'boto3':>10}")
    try:
        for label, size in SIZES:
            got: dict[str, dict[str, float]] = {}
            digests: dict[str, list[str]] = {}
            for path, client in (("fast path", fast), ("boto3", None)):
                store.objects.fast = client
                blobs = [os.urandom(size) for _ in range(args.count)]
                digests[path] = []
                got[path] = {
                    "put (new bytes)": cpu_ms_each(
                        blobs,
                        lambda data, d=digests[path]: d.append(store.put(data)),  # type: ignore[misc]
                    )
                }
                stored += digests[path]
                got[path]["local_path (checked copy)"] = cpu_ms_each(
                    list(digests[path]), local_copy(store.local_path)
                )
            store.objects.fast = None
            got["boto3"]["local_path before (copy, re-read)"] = cpu_ms_each(
                list(digests["boto3"]),
                local_copy(lambda d, s: BlobStore.local_path(store, d, s)),
            )
            for operation in got["boto3"]:
                fast_ms = got["fast path"].get(operation)
                cell = f"{fast_ms:10.2f}" if fast_ms is not None else f"{'-':>10}"
                print(f"{label:<8} {operation:<34} {cell} {got['boto3'][operation]:10.2f}")
    finally:
        client = store.objects.client
        for digest in stored:
            client.delete_object(Bucket=store.location.bucket, Key=store._key(digest))
        store.objects.fast = fast
    return 0


if __name__ == "__main__":
    sys.exit(main())
