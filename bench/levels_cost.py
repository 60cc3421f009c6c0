"""What the grey-level check costs a crawled copy's print: ``image_print`` with and without its thumbnail.

Usage: ``python -m bench.levels_cost [--files 60] [--rounds 3]``. The files are
``bench.speed``'s 1,280-px web JPEGs (real photos and drawings); each is printed both ways
one after the other (without: the copy's thumbnail left out, which is the print before
the check), so a change of load on the shared machine hits both alike. The check adds
nothing to a registered work (its thumbnail is kept for the detail check already).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.speed import web_jpegs
from tanba.fingerprint import image as image_module

MAX_PIXELS = 10**9


def _none(grey: np.ndarray) -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60, help="web JPEGs to print")
    parser.add_argument("--rounds", type=int, default=3, help="times each file is printed")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="tanba-levels-cost-"))
    paths = web_jpegs(args.files, folder)
    data = [path.read_bytes() for path in paths]
    real = image_module.thumbnail
    for one in data[:5]:  # warm the page cache and the libraries
        image_module.image_print(one, max_pixels=MAX_PIXELS)
    without = with_thumbnail = 0.0
    try:
        for _ in range(args.rounds):
            for one in data:
                image_module.thumbnail = _none  # type: ignore[assignment]
                started = time.perf_counter()
                image_module.image_print(one, max_pixels=MAX_PIXELS)
                without += time.perf_counter() - started
                image_module.thumbnail = real
                started = time.perf_counter()
                image_module.image_print(one, max_pixels=MAX_PIXELS)
                with_thumbnail += time.perf_counter() - started
    finally:
        image_module.thumbnail = real
        for path in paths:
            path.unlink()
        folder.rmdir()
    count = args.rounds * len(data)
    print(
        f"{len(data)} web JPEGs of 1280 px, {args.rounds} rounds: a copy's print without its "
        f"thumbnail {1000 * without / count:.2f} ms, with {1000 * with_thumbnail / count:.2f} ms "
        f"({with_thumbnail / without:.3f}x the time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
