"""What sampling a stream fetches, against downloading it whole: bytes, seconds, time taken.

Run (after scripts/setup; ffmpeg makes the film)::

    .venv/bin/python -m bench.stream_sampling [--minutes 120] [--segment-s 6] [--size 426x240]

It makes an HLS stream (TS segments, H.264 and AAC) of a synthetic film of
``--minutes`` with ffmpeg, then samples it with the crawler's own sampler
(:func:`tanba.crawlers.streams.sample_stream`, default settings) through a fetch
that reads the files from disk and counts every byte handed over, and prints the
bytes and seconds fetched beside the whole stream (the baseline: what a crawler
that downloads the stream would fetch), and the time the sampling and the join
took. The issue's floor for this is 5% of the bytes for a 2-hour film.

Why a disk fetch and not the loopback server: the figure is what the sampler
asks for, which the crawl tests hold to the server's count (tests/crawlers/test_video.py).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from scrapy import Request
from scrapy.http import Response

from tanba.core.settings import Settings
from tanba.crawlers.streams import sample_stream

BASE = "http://cdn.example.ru/film/"


def make_film(root: Path, minutes: int, segment_s: int, size: str) -> Path:
    seconds = minutes * 60
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"aevalsrc=0.4*sin(2*PI*(200+t/10)*t):s=44100:d={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "400k", "-g", "50",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", str(segment_s), "-hls_playlist_type", "vod",
            "-hls_segment_filename", "seg%05d.ts", "index.m3u8",
        ],
        cwd=root,
        check=True,
    )  # fmt: skip
    return root / "index.m3u8"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--segment-s", type=int, default=6)
    parser.add_argument("--size", default="426x240")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tanba-bench-stream-") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        playlist = make_film(root, args.minutes, args.segment_s, args.size)
        made_s = time.monotonic() - started
        total = sum(p.stat().st_size for p in root.iterdir())
        fetched: list[int] = []

        async def fetch(request: Request) -> Response:
            path = root / request.url.removeprefix(BASE)
            body = path.read_bytes() if path.is_file() else b""
            fetched.append(len(body))
            return Response(request.url, status=200 if body else 404, body=body, request=request)

        def failed(request: Request, error: Exception | int) -> None:
            print(f"failed: {request.url}: {error}")

        settings = Settings(home=root)
        first = Response(BASE + "index.m3u8", body=playlist.read_bytes(), request=Request(BASE))
        started = time.monotonic()
        sampled = asyncio.run(sample_stream(first, fetch, settings, failed))
        took_s = time.monotonic() - started
    sample = sampled.sample
    seconds = sum(p.duration_s for p in sample.pieces)
    fetched_bytes = len(first.body) + sum(fetched)
    print(f"film: {args.minutes} min, {args.size}, {args.segment_s} s segments, "
          f"{sample.segments_listed} segments, {total / 1e6:.1f} MB (made in {made_s:.0f} s)")  # fmt: skip
    print(f"settings: {settings.stream_max_segments} segments, {settings.stream_max_seconds:.0f} s, "
          f"{settings.stream_max_bytes / 2**20:.0f} MiB")  # fmt: skip
    print("| | bytes fetched | share of the stream | seconds of film | time |")
    print("|---|---|---|---|---|")
    print(f"| whole stream (baseline) | {total:,} | 100% | {sample.stream_duration_s:,.0f} | — |")
    print(
        f"| Tanba's sample | {fetched_bytes:,} | {100 * fetched_bytes / total:.2f}% "
        f"| {seconds:.0f} ({len(sample.pieces)} pieces) | {took_s:.2f} s (join included) |"
    )
    print(f"joined file: {len(sampled.data):,} bytes; pieces at stream seconds "
          f"{[round(p.stream_start_s) for p in sample.pieces]}")  # fmt: skip


if __name__ == "__main__":
    main()
