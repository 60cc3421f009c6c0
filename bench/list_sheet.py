"""Benchmark: one alert list page's sheet of pictures, stacked from its cells vs drawn.

Usage::

    .venv/bin/python bench/list_sheet.py [--cells 85] [--repeat 30]

Makes ``--cells`` generated pictures' cells (tanba.console.media.cell: 128-pixel
squares encoded to stack), then times, on the same cells, what a sheet request costs:
the sheet as the console makes it (tanba.console.pictures.stack: the cells' JPEG
scans joined, nothing decoded) beside the two ways of drawing it that came before
it: decoding every cell and encoding the sheet with libjpeg-turbo through simplejpeg,
and with Pillow. Prints the median and 95th percentile of each in milliseconds, the
sheet's size, and the load average (the figures move with it).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.console_list import picture
from tanba.console.media import blank_cell, cell
from tanba.console.pictures import LIST_SIDE, Cell, Sheet, stack
from tanba.core.settings import Settings
from tanba.core.wiring import App


def drawn_simplejpeg(cells: list[bytes]) -> bytes:
    canvas = np.empty((LIST_SIDE * len(cells), LIST_SIDE, 3), np.uint8)
    for i, data in enumerate(cells):
        canvas[i * LIST_SIDE : (i + 1) * LIST_SIDE] = simplejpeg.decode_jpeg(data, "RGB")
    out: bytes = simplejpeg.encode_jpeg(canvas, quality=80, colorspace="RGB")
    return out


def drawn_pillow(cells: list[bytes]) -> bytes:
    canvas = Image.new("RGB", (LIST_SIDE, LIST_SIDE * len(cells)))
    for i, data in enumerate(cells):
        with Image.open(io.BytesIO(data)) as im:
            canvas.paste(im, (0, i * LIST_SIDE))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=80)
    return out.getvalue()


def timed(make: Callable[[], bytes], repeat: int) -> tuple[float, float, int]:
    size = len(make())
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        make()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=85)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tanba-bench-sheet-"))
    app = App(Settings.from_env({}, home=home))
    try:
        thumbnails = home / "console" / "thumbnails"
        made = home / "pictures"
        made.mkdir()
        # The pictures of bench/console_list.py, as its found copies are made.
        shas = [app.blobs.put_file(picture(made / f"{i}.jpg", i)) for i in range(args.cells)]
        cells = {sha: cell(app.blobs, sha, thumbnails, 10**8) for sha in shas}
        sheet = Sheet(tuple(Cell("alert", sha, "") for sha in shas))
        order = [cells[sha] for sha in shas]
        print(
            f"{args.cells} cells, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(f"{'sheet made by':44} {'median ms':>10} {'p95 ms':>8} {'KiB':>6}")
        ways: list[tuple[str, Callable[[], bytes]]] = [
            (
                "stacking the cells (the console)",
                lambda: stack(sheet, cells.__getitem__, blank_cell()),
            ),
            ("decoding and encoding, simplejpeg", lambda: drawn_simplejpeg(order)),
            ("decoding and encoding, Pillow", lambda: drawn_pillow(order)),
        ]
        for label, make in ways:
            median, p95, size = timed(make, args.repeat)
            print(f"{label:44} {median:10.2f} {p95:8.2f} {size // 1024:6}")
    finally:
        app.close()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
