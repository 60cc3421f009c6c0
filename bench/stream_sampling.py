"""What sampling a stream fetches, against downloading it whole: bytes, seconds, time taken.

Run (after scripts/setup; ffmpeg makes the film)::

    .venv/bin/python -m bench.stream_sampling [--minutes 120] [--segment-s 6] [--size 426x240]
        [--film FILE [--match]]

It makes an HLS stream (TS segments, H.264 and AAC) of a synthetic film of
``--minutes`` with ffmpeg (or, with ``--film``, of that real footage repeated by stream
copy to ``--minutes``: the registered film), then samples it with the crawler's own sampler
(:func:`tanba.crawlers.streams.sample_stream`, default settings) through a fetch
that reads the files from disk and counts every byte handed over, and prints the
bytes and seconds fetched beside the whole stream (the baseline: what a crawler
that downloads the stream would fetch), and the time the sampling and the join
took. The issue's floor for this is 5% of the bytes for a 2-hour film, and the film
matched: with ``--match`` the registered film (the ``--film`` file repeated, as it is, not
the stream's re-encode) is fingerprinted as a work and the joined sample as a crawled copy,
through the fingerprint stage's own sandbox, and the sample is matched against it
(:class:`~tanba.matcher.video_signal.VideoSignal`, the chunk index), its match printed.

Why a disk fetch and not the loopback server: the figure is what the sampler
asks for, which the crawl tests hold to the server's count (tests/crawlers/test_video.py).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import tempfile
import time
from pathlib import Path

from scrapy import Request
from scrapy.http import Response

from tanba.core.settings import Settings
from tanba.crawlers.streams import sample_stream
from tanba.fingerprint.compute import fingerprint_file
from tanba.matcher.video_index import ChunkVideoIndex
from tanba.matcher.video_signal import VideoSignal

BASE = "http://cdn.example.ru/film/"


def make_film(
    root: Path, minutes: int, segment_s: int, size: str, source: Path | None = None
) -> Path:
    """The HLS stream in ``root`` (``index.m3u8``): of FFmpeg's test picture, or of
    ``source`` (a file of real footage, already ``minutes`` long) scaled to ``size``."""
    seconds = minutes * 60
    picture = (
        ["-i", str(source)]
        if source is not None
        else ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    )
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", *picture,
            "-f", "lavfi", "-i", f"aevalsrc=0.4*sin(2*PI*(200+t/10)*t):s=44100:d={seconds}",
            "-map", "0:v", "-map", "1:a", "-t", str(seconds), "-vf", f"scale={size}",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "400k", "-g", "50",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", str(segment_s), "-hls_playlist_type", "vod",
            "-hls_segment_filename", "seg%05d.ts", "index.m3u8",
        ],
        cwd=root,
        check=True,
    )  # fmt: skip
    return root / "index.m3u8"


def repeated(source: Path, minutes: int, into: Path) -> Path:
    """``source`` repeated by stream copy to at least ``minutes`` (the registered film)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(source)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    repeats = max(1, math.ceil(minutes * 60 / float(probe.stdout.strip())))
    listing = into / "concat.txt"
    listing.write_text(f"file '{source.resolve()}'\n" * repeats, encoding="utf-8")
    film = into / f"film-x{repeats}{source.suffix}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-c", "copy", str(film)],
        check=True,
    )  # fmt: skip
    return film


def match(film: Path, sample: bytes, root: Path, settings: Settings) -> None:
    """Fingerprint ``film`` as a registered work and ``sample`` as a crawled copy, and print
    the sample's match against it."""
    copy = root / "sample.mkv"
    copy.write_bytes(sample)
    started = time.monotonic()
    work = fingerprint_file(film, "f" * 64, settings, reference=True)
    work_s = time.monotonic() - started
    found = fingerprint_file(copy, "e" * 64, settings)
    signal = VideoSignal(settings, ChunkVideoIndex())
    signal.add("film", work)
    matches = signal.match(found)
    frames = work.video.frames if work.video is not None else 0
    print(f"registered film: {frames:,} frames printed in {work_s:.0f} s (wall, sandbox); "
          f"sample: {found.video.frames if found.video is not None else 0} frames")  # fmt: skip
    if not matches:
        print("match: NONE (the sample was not matched to its film)")
        return
    d = matches[0].detail
    print(f"match: {matches[0].work_id}, score {matches[0].score:.2f}, evidence {d.evidence}, "
          f"offset {d.offset_s} s in the film, {d.query_offset_s} s in the sample, "
          f"{d.duration_s} s long, {len(d.positions)} positions listed")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--segment-s", type=int, default=6)
    parser.add_argument("--size", default="426x240")
    parser.add_argument(
        "--film", type=Path, default=None, help="real footage to repeat to --minutes and stream"
    )
    parser.add_argument(
        "--match",
        action="store_true",
        help="with --film: also register the film and match the sample against it",
    )
    args = parser.parse_args()
    if args.match and args.film is None:
        parser.error("--match needs --film FILE (a video file of real footage)")
    with (
        tempfile.TemporaryDirectory(prefix="tanba-bench-stream-") as tmp,
        tempfile.TemporaryDirectory(prefix="tanba-bench-film-") as films,
    ):
        root, work_dir = Path(tmp), Path(films)  # the stream; the film, outside it
        started = time.monotonic()
        film = repeated(args.film, args.minutes, work_dir) if args.film else None
        playlist = make_film(root, args.minutes, args.segment_s, args.size, film)
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
        print(
            f"| whole stream (baseline) | {total:,} | 100% | {sample.stream_duration_s:,.0f} | — |"
        )
        print(
            f"| Tanba's sample | {fetched_bytes:,} | {100 * fetched_bytes / total:.2f}% "
            f"| {seconds:.0f} ({len(sample.pieces)} pieces) | {took_s:.2f} s (join included) |"
        )
        print(f"joined file: {len(sampled.data):,} bytes; pieces at stream seconds "
              f"{[round(p.stream_start_s) for p in sample.pieces]}")  # fmt: skip
        if film is not None and args.match:
            match(film, sampled.data, work_dir, Settings(home=work_dir))


if __name__ == "__main__":
    main()
