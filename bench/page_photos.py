"""Pictures shown small inside a page: recall by the picture's width in a 1,366-px screenshot.

Usage: ``python -m bench.page_photos [--widths 120,200,320,500,700] [--works 64]
[--set wallpapers|other]``

The detection issue asks that a registered picture shown at 120 px or more inside a
page screenshot be found. Each of ``--works`` pictures is registered (``wallpapers``:
those of ``bench.quality``, which the page pass's settings were chosen on; ``other``:
painted art and photographs of at least 300 px from the held-out pool of
``bench.media.distractor_images``, never tuned on), then pasted at each width into ``bench.image_alterations.page_canvas``
(header, menu, sidebar, text; JPEG q85) and the page is asked about, as a crawled
image, through the matcher's whole image decision. Printed per width: how many
pages found their picture, and the time per page (fingerprint and match).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench import media
from bench.image_alterations import jpeg, page_canvas
from bench.quality import _source
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.matcher.match import Matcher

MAX_PIXELS = 200_000_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="120,200,320,500,700")
    parser.add_argument("--works", type=int, default=64)
    parser.add_argument("--set", choices=("wallpapers", "other"), default="wallpapers")
    args = parser.parse_args(argv)
    if args.set == "wallpapers":
        works = media.work_photos()[: args.works]
    else:
        pool = media.distractor_images(6 * args.works, seed=9, pool=media.HELD_OUT)
        works = [p for p in pool if min(_source(p).size) >= 300][: args.works]
    matcher = Matcher(Settings.from_env())
    for i, path in enumerate(works):
        reference = image_print(path.read_bytes(), max_pixels=MAX_PIXELS, variants=REFERENCE)
        fingerprint = Fingerprint(media=IMAGE, sha256="0" * 64, image=reference)
        matcher.add(
            Work(work_id=f"w{i}", owner="bench", title=path.stem, media=IMAGE, sha256="0" * 64,
                 registered_at="2026-01-01T00:00:00Z", fingerprint=fingerprint)
        )  # fmt: skip
    print(f"PICTURES INSIDE A PAGE: {len(works)} {args.set} registered, one page each per width")
    for width in (int(w) for w in args.widths.split(",")):
        found, spent = 0, 0.0
        for i, path in enumerate(works):
            page = jpeg(page_canvas(_source(path), np.random.default_rng(i), photo_width=width))
            started = time.perf_counter()
            copy = image_print(page, max_pixels=MAX_PIXELS)
            matches = matcher.match(Fingerprint(media=IMAGE, sha256="1" * 64, image=copy))
            spent += time.perf_counter() - started
            found += any(m.work.work_id == f"w{i}" for m in matches)
        print(f"  {width:>5} px wide: {found:>3}/{len(works)} found, "
              f"{1000 * spent / len(works):.1f} ms a page")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
