"""False matches on a real catalogue: 50,000+ registered images, 5,000+ unrelated queries.

Usage: ``python -m bench.real_catalogue [--out /tmp/real_catalogue_false.json]``
(``make -C bench bench-real-catalogue``; ``bench/fetch-media`` installs the packages).

Protocol, chosen so that every match is a false match:

* Every image is a file of a Debian package (``/var/lib/dpkg/info/<package>.list``
  names the package's files; symlinks are left out, they repeat a file). The
  WORKS are every PNG, JPEG and WebP of one set of packages, the QUERIES every
  one of another, disjoint set by other authors (:data:`WORKS`, :data:`QUERIES`;
  Tux Paint's stamps draw on Open Clip Art, so both are works). A match between
  the two sets is false, unless both projects took the same picture from a
  common source, which a pixel check finds and prints apart.
  Duplicates and animation frames inside the works do not matter (works are not
  queried).
* Works are printed as the registry prints them (``image_print(...,
  variants=REFERENCE)``), queries as a crawled copy (the default variants), each
  query twice: the file as served, and as a web copy (JPEG q75, at most 800 px on
  its long side; ``--no-web`` leaves it out). Files the fingerprinter refuses
  (corrupt, bombs), prints without windows (too flat) and images under
  ``--min-side`` px on a side are skipped and counted.
* The works go into the matcher's own :class:`~tanba.matcher.image_signal.ImageSignal`
  (its default index, filled in one block with ``add_block``), and every query is
  asked with ``ImageSignal.match``: its matches at ``TANBA_IMAGE_MIN_SIMILARITY``
  are the false matches (those where both packages ship one picture,
  :func:`pixel_correlation`, counted apart). A second ``ImageSignal`` with no
  similarity floor over the same index gives each query's best wrong score, so
  the margin below the threshold is printed too.

Prints are cached per file under ``--cache`` (keyed by path, size, mtime, the
variants asked and the fingerprinting code), so a second run only matches.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import io
import json
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import tanba.fingerprint
from bench import media, quality
from bench.image_alterations import ALTERATIONS, Alteration
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.image import DESCRIPTOR_LENGTH, ImagePrint, similarity
from tanba.core.signals.image_detail import print_details, print_thumbnail
from tanba.fingerprint.decode import decode
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.image import QUERY, REFERENCE, Windows, image_print, thumbnail, to_print
from tanba.matcher.image_signal import ImageSignal
from tanba.matcher.segments import SegmentedImageIndex
from tanba.matcher.segments import Windows as Block

# Registered works and unrelated queries: disjoint packages, different authors.
WORKS = (
    "wesnoth-1.16-data", "widelands-data", "openclipart-png", "tuxpaint-stamps-default",
    "freedroidrpg-data", "hedgewars-data", "megaglest-data", "ukui-wallpapers",
    "mate-backgrounds", "plasma-workspace-wallpapers", "gnome-backgrounds", "freeorion-data",
    "freecol", "pingus-data", "lincity-ng-data", "scorched3d-data", "extremetuxracer-data",
    "neverball-data", "frozen-bubble-data", "oxygen-icon-theme", "adwaita-icon-theme",
    "boswars-data", "flare-game", "btanks-data", "tuxmath-data", "lbreakout2-data",
)  # fmt: skip
WALLPAPERS = (
    "ukui-wallpapers",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "gnome-backgrounds",
)
QUERIES = ("endless-sky-data", "naev-data", "supertux-data", "supertuxkart-data")
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_PIXELS = 200_000_000
SAME_PICTURE = 0.99  # pixel correlation above which two files are one picture
# Pairs of files the pixel check cannot tell are one picture, seen by eye to be one (each a
# query's path and a work's, under /usr/share): the same icon padded to another size (pixel
# correlation 0.98; a mean colour difference of 3.3 levels once aligned), the same galaxy
# photograph cropped to another shape (0.97 once aligned). Counted with the shared pictures.
SAME_BY_EYE = frozenset(
    {
        ("games/supertuxkart/data/gui/icons/rename.png",
         "openclipart/png/computer/icons/flat-theme/action/item_rename.png"),
        ("games/supertuxkart/data/gui/icons/rename.png",
         "openclipart/png/computer/icons/flat-theme/action/14_text.png"),
        ("games/supertuxkart/data/tracks/xr591/galaxy2.jpg",
         "tuxmath/images/factoroids/galaxy1.png"),
        # Found through the works' content boxes (session of 2026-12-07): one icon, one flag
        # and one road sign, each at another size or aspect than the file it matched.
        ("games/supertuxkart/data/gui/icons/red_mark.png",
         "icons/Adwaita/48x48/legacy/emblem-important.png"),
        ("games/supertuxkart/data/textures/deprecated/bananawrap.png",
         "openclipart/png/signs_and_symbols/flags/miscellany/banana_republic.png"),
        ("games/supertuxkart/data/tracks/black_forest/s3.png",
         "openclipart/png/transportation/no_entry.png"),
        ("games/supertuxkart/data/tracks/volcano_island/s3.png",
         "openclipart/png/transportation/no_entry.png"),
    }
)  # fmt: skip
SIDES = (32, 64, 128, 256)  # the queries' short sides, reported by band
LEVELS = (0.90, 0.92, 0.94, 0.96, 0.98)
SHOWN = 30


def package_images(package: str) -> list[Path]:
    """The package's image files, as dpkg lists them (regular files only, sorted)."""
    info = Path("/var/lib/dpkg/info")
    lists = [info / f"{package}.list", *info.glob(f"{package}:*.list")]
    found = [p for p in lists if p.is_file()]
    if not found:
        raise SystemExit(f"package {package} is not installed: run bench/fetch-media")
    paths = {Path(line) for line in found[0].read_text().splitlines()}
    return sorted(
        p for p in paths if p.suffix.lower() in SUFFIXES and p.is_file() and not p.is_symlink()
    )


# -- fingerprints, cached per file ------------------------------------------------


@dataclass(frozen=True)
class Printed:
    """One file's print as arrays (no windows when skipped), or why it was refused."""

    width: int
    height: int
    variants: list[str]
    hashes: np.ndarray  # uint64
    descriptors: np.ndarray  # int8 (n, 63)
    refused: str = ""
    details: np.ndarray | None = None  # a query's: int8 (n, DETAIL_LENGTH)
    thumbnail: np.ndarray | None = None  # a work's: uint8 square

    def image(self) -> ImagePrint:
        windows = Windows(
            self.variants, [int(h) for h in self.hashes], self.descriptors, self.details
        )
        return to_print(self.width, self.height, windows, self.thumbnail)


def _code_key() -> str:
    """A digest of the fingerprinting code: a changed fingerprinter invalidates the cache."""
    root = Path(tanba.fingerprint.__file__).parent
    digest = hashlib.sha256()
    for name in ("image.py", "decode.py", "resample.py", "regions.py"):
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:12]


def web_copy(data: bytes) -> bytes:
    """The file as a web page would serve it: JPEG q75, at most 800 px long, on white."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    flat.thumbnail((800, 800), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=75)
    return out.getvalue()


def _compute(path: Path, variants: str, web: bool) -> Printed:
    try:
        data = path.read_bytes()
        if web:
            data = web_copy(data)
        image = image_print(data, max_pixels=MAX_PIXELS, variants=variants)
    except (Unfingerprintable, OSError, ValueError, Image.DecompressionBombError) as error:
        return Printed(
            0,
            0,
            [],
            np.zeros(0, np.uint64),
            np.zeros((0, DESCRIPTOR_LENGTH), np.int8),
            refused=type(error).__name__,
        )
    return Printed(
        image.width,
        image.height,
        [h.variant for h in image.hashes],
        np.array([h.as_int() for h in image.hashes], np.uint64),
        image.descriptor_rows().reshape(-1, DESCRIPTOR_LENGTH).astype(np.int8)
        if image.hashes
        else np.zeros((0, DESCRIPTOR_LENGTH), np.int8),
        details=print_details(image),
        thumbnail=print_thumbnail(image),
    )


# The working side a copy was decoded at before the page pass (94bef07 and earlier):
# --reuse-prints adds a copy's thumbnail from the grey decoded there.
_OLD_QUERY_SIDE = 160


def _with_thumbnail(printed: Printed, path: Path, web: bool) -> Printed:
    """A cached copy's print from before copies carried a thumbnail, given the one its
    fingerprinter would have made: ``thumbnail`` of ``decode(data, max_pixels, 160)``, that
    code's working grey (see ``--reuse-prints``)."""
    if not printed.variants or printed.thumbnail is not None:
        return printed
    data = path.read_bytes()
    grey = decode(web_copy(data) if web else data, MAX_PIXELS, _OLD_QUERY_SIDE)[0]
    return replace(printed, thumbnail=thumbnail(grey))


def _cached(job: tuple[Path, str, bool, Path, bool]) -> Printed:
    """The file's print, from the cache or computed and written there (runs in a worker);
    with the job's last flag, a copy's print read from an older cache gets its thumbnail."""
    path, variants, web, cache, add_thumbnail = job
    if add_thumbnail and variants == QUERY:
        return _with_thumbnail(_cached((path, variants, web, cache, False)), path, web)
    stat = path.stat()
    key = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{variants}\0{web}"
    where = cache / hashlib.sha256(key.encode()).hexdigest()[:2]
    file = where / (hashlib.sha256(key.encode()).hexdigest() + ".npz")
    if file.is_file():
        with np.load(file) as z:
            return Printed(
                int(z["width"]),
                int(z["height"]),
                z["variants"].tolist(),
                z["hashes"],
                z["descriptors"],
                str(z["refused"]),
                z.get("details"),
                z.get("thumbnail"),
            )
    printed = _compute(path, variants, web)
    where.mkdir(parents=True, exist_ok=True)
    partial = file.with_suffix(f".{os.getpid()}.partial")
    arrays: dict[str, Any] = {
        "width": printed.width,
        "height": printed.height,
        "variants": np.array(printed.variants, dtype=str),
        "hashes": printed.hashes,
        "descriptors": printed.descriptors,
        "refused": printed.refused,
    }
    if printed.details is not None:
        arrays["details"] = printed.details
    if printed.thumbnail is not None:
        arrays["thumbnail"] = printed.thumbnail
    with open(partial, "wb") as f:
        np.savez(f, **arrays)
    partial.replace(file)
    return printed


def fingerprint(
    paths: list[Path], variants: str, web: bool, cache: Path, pool: ProcessPoolExecutor,
    add_thumbnail: bool = False,
) -> list[Printed]:  # fmt: skip
    jobs = [(p, variants, web, cache, add_thumbnail) for p in paths]
    out = []
    for i, printed in enumerate(pool.map(_cached, jobs, chunksize=32), 1):
        out.append(printed)
        if i % 1000 == 0:
            print(
                f"  {variants}{' web' if web else ''} prints {i:,}/{len(paths):,}",
                file=sys.stderr,
                flush=True,
            )
    return out


# -- matching ---------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """The kept images of one side: path, package and print, in the same order."""

    paths: list[Path]
    packages: list[str]
    prints: list[Printed]
    skipped: Counter[str]


def gather(
    packages: tuple[str, ...], variants: str, web: bool, min_side: int, cache: Path,
    pool: ProcessPoolExecutor, limit: int | None, add_thumbnail: bool = False,
) -> Side:  # fmt: skip
    side = Side([], [], [], Counter())
    for package in packages:
        paths = package_images(package)[:limit]
        printed_all = fingerprint(paths, variants, web, cache, pool, add_thumbnail)
        for path, printed in zip(paths, printed_all, strict=True):
            if printed.refused:
                side.skipped[f"refused ({printed.refused})"] += 1
            elif min(printed.width, printed.height) < min_side:
                side.skipped[f"under {min_side} px"] += 1
            elif not printed.variants:
                side.skipped["too flat (no window)"] += 1
            else:
                side.paths.append(path)
                side.packages.append(package)
                side.prints.append(printed)
    return side


def split_queries(side: Side, split: str) -> Side:
    """The queries of one half (``media.in_pool``: by a hash of the path), or all of them."""
    keep = [i for i, path in enumerate(side.paths) if media.in_pool(path, split)]
    return Side(
        [side.paths[i] for i in keep],
        [side.packages[i] for i in keep],
        [side.prints[i] for i in keep],
        side.skipped,
    )


Thumbnails = dict[str, tuple[np.ndarray, int, int]]


def register(works: Side, settings: Settings) -> tuple[ImageSignal, Thumbnails]:
    """The matcher's image signal holding every work, its index filled in one block, and the
    works' thumbnails it reads (more works join them in :func:`recall`)."""
    prints = works.prints
    thumbnails: Thumbnails = {
        f"w{i}": (p.thumbnail, p.width, p.height)
        for i, p in enumerate(prints)
        if p.thumbnail is not None
    }
    signal = ImageSignal(settings, thumbnails=thumbnails.get)
    index = signal.index
    assert isinstance(index, SegmentedImageIndex)
    names: dict[str, int] = {}
    variant = [names.setdefault(v, len(names)) for p in prints for v in p.variants]
    sizes = [len(p.hashes) for p in prints]
    index.add_block(
        Block(
            [f"w{i}" for i in range(len(prints))],
            np.concatenate([p.hashes for p in prints]),
            np.concatenate([p.descriptors for p in prints]),
            np.repeat(np.arange(len(prints), dtype=np.int32), sizes),
            np.array(variant, np.uint16),
            list(names),
        )
    )
    index.wait()
    return signal, thumbnails


@dataclass(frozen=True)
class FalseMatch:
    """A query matched to a work of another package: both files, the score, the window pair."""

    query: str
    query_package: str
    query_form: str
    query_side: int  # the query file's short side, px
    work: str
    work_package: str
    score: float
    distance: int  # bits between the two windows' pHashes
    query_window: str
    work_window: str
    pixel_correlation: float  # of the two files' pixels; see pixel_correlation()
    detail: float | None = None  # the finer coefficients' similarity (None: not checked)

    @property
    def shared_art(self) -> bool:
        return self.pixel_correlation >= SAME_PICTURE or self.seen_alike

    @property
    def seen_alike(self) -> bool:
        """One of :data:`SAME_BY_EYE`: one picture, though the pixel check misses it."""
        strip = "/usr/share/"
        return (self.query.removeprefix(strip), self.work.removeprefix(strip)) in SAME_BY_EYE


def window_pairs(signal: ImageSignal, image: ImagePrint) -> dict[str, tuple[float, int, str, str]]:
    """Per work, the candidate window pair ImageSignal scores best: (score, bits, query's, work's)."""
    rows = image.descriptor_rows()
    best: dict[str, tuple[float, int, str, str]] = {}
    for hit in signal.index.candidates(image.hashes, signal.settings.image_max_distance):
        if hit.reference is not None:
            score = float(similarity(hit.reference, rows[hit.query])[0])
            if hit.work_id not in best or score > best[hit.work_id][0]:
                best[hit.work_id] = (
                    score,
                    hit.distance,
                    image.hashes[hit.query].variant,
                    hit.variant,
                )
    return best


def _greys(path: str) -> tuple[float, np.ndarray]:
    """The file's aspect ratio and its pixels on white, grey, 64 × 64."""
    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    grey = flat.convert("L").resize((64, 64), Image.Resampling.BOX)
    return rgba.width / rgba.height, np.asarray(grey, np.float64).ravel()


def pixel_correlation(query: str, work: str) -> float:
    """How alike two files' pictures are, without the fingerprint: 0 unless their aspect ratios
    agree within 3%, else the correlation of their 64 × 64 grey pixels.

    At :data:`SAME_PICTURE` or above the two packages ship the same picture (Naev's
    nebulae are FreeOrion's pixel for pixel; SuperTuxKart's bushes are MegaGlest's,
    seen by eye): the author protocol calls that match false, but it is a true one.
    The check is strict: the same icon padded to another shape is not caught
    (SuperTuxKart's rename.png is Open Clip Art's item_rename.png), so it undercounts:
    :data:`SAME_BY_EYE` names the pairs seen so.
    """
    (ratio_q, q), (ratio_w, w) = _greys(query), _greys(work)
    if abs(ratio_q / ratio_w - 1) > 0.03 or not q.std() or not w.std():
        return 0.0
    return round(float(np.corrcoef(q, w)[0, 1]), 4)


@dataclass
class Results:
    """What the queries found: false matches, each query's best wrong score, query times."""

    false: list[FalseMatch] = field(default_factory=list)
    best: list[float] = field(default_factory=list)  # -1 where no candidate at all
    seconds: list[float] = field(default_factory=list)


def query_all(signal: ImageSignal, works: Side, queries: Side, form: str, results: Results) -> None:
    """Ask the matcher about every query; the floorless twin gives the best wrong score.

    Floorless down to the lowest level reported: below it, every candidate pair would go
    through the detail check, for a figure no one reads.
    """
    floorless = ImageSignal(
        signal.settings.model_copy(update={"image_min_similarity": min(LEVELS)}),
        signal.index,
        signal.thumbnail,
    )
    asked = zip(queries.paths, queries.packages, queries.prints, strict=True)
    for i, (path, package, printed) in enumerate(asked, 1):
        if i % 1000 == 0:
            print(
                f"  {form} queries asked {i:,}/{len(queries.paths):,}", file=sys.stderr, flush=True
            )
        image = printed.image()
        fp = Fingerprint(media=IMAGE, sha256="0" * 64, image=image)
        started = time.perf_counter()
        matches = signal.match(fp)  # the matcher's decision
        results.seconds.append(time.perf_counter() - started)
        wrong = floorless.match(fp)
        results.best.append(wrong[0].score if wrong else -1.0)
        pairs = window_pairs(signal, image) if matches else {}
        for m in matches:
            k = int(m.work_id[1:])
            work = str(works.paths[k])
            _, bits, query_window, work_window = pairs[m.work_id]
            results.false.append(
                FalseMatch(
                    str(path), package, form, min(printed.width, printed.height), work,
                    works.packages[k], m.score, m.detail.distance or bits, query_window,
                    m.detail.variant or work_window, pixel_correlation(str(path), work),
                    m.detail.detail,
                )
            )  # fmt: skip


GRAPHICS_SAMPLE = 300


@dataclass
class Recall:
    """True copies asked inside the catalogue: found / asked per set, and their wrong matches."""

    found: Counter[str] = field(default_factory=Counter)
    asked: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    details: list[float] = field(default_factory=list)  # of the true matches (calibration)
    wrong_ids: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _ask(signal: ImageSignal, data: bytes, work_id: str, row: str, recall: Recall) -> None:
    image = image_print(data, max_pixels=MAX_PIXELS, variants=QUERY)
    matches = signal.match(Fingerprint(media=IMAGE, sha256="0" * 64, image=image))
    matched = {m.work_id for m in matches}
    recall.asked[row] += 1
    recall.found[row] += work_id in matched
    recall.wrong[row] += len(matched - {work_id})
    recall.wrong_ids[row] += sorted(matched - {work_id})
    recall.details += [m.detail.detail for m in matches if m.work_id == work_id and m.detail.detail]


def _crop_copy(data: bytes, rng: np.random.Generator) -> bytes:
    """10% of the width and height cut, split at random between the sides; then a web copy."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        w, h = image.size
        left, top = rng.uniform(0, 0.1) * w, rng.uniform(0, 0.1) * h
        box = (round(left), round(top), round(left + 0.9 * w), round(top + 0.9 * h))
        out = io.BytesIO()
        image.crop(box).save(out, "PNG")
    return web_copy(out.getvalue())


def recall(signal: ImageSignal, thumbnails: Thumbnails, works: Side, cache: Path) -> Recall:
    """Copies of registered works, asked against the whole catalogue.

    Photos: bench.quality's works (wallpapers), registered beside the catalogue and
    asked in its 15 alterations (its cache of them is shared). Graphics: a seeded
    sample of the catalogue's own works of at least 64 px a side, asked as a web copy
    and as a 10% crop of it: the rules that drop plain windows must not drop these.
    """
    out = Recall()
    photos = media.work_photos()
    registered = []
    for place, path in enumerate(photos):
        printed = image_print(path.read_bytes(), max_pixels=MAX_PIXELS, variants=REFERENCE)
        if not printed.hashes:
            continue  # too flat to register (bench.quality leaves it out too)
        registered.append((place, path))
        work_id = f"p{place}"
        signal.index.add(work_id, printed.hashes, printed.descriptor_rows())
        thumbnail = print_thumbnail(printed)
        if thumbnail is not None:
            thumbnails[work_id] = (thumbnail, printed.width, printed.height)
    for place, path in registered:
        source: Image.Image | None = None
        for a, alteration in enumerate(ALTERATIONS):

            def make(
                a: int = a, alteration: Alteration = alteration, place: int = place,
                path: Path = path,
            ) -> bytes:  # fmt: skip
                nonlocal source
                source = source or quality._source(path)
                return alteration.apply(source, np.random.default_rng([place, a]))

            data = quality._cached(cache, f"img|{path}|{alteration.name}|v1", make)
            _ask(signal, data, f"p{place}", f"photo {alteration.name}", out)
    for k in graphics_sample(works):
        data = works.paths[k].read_bytes()
        _ask(signal, web_copy(data), f"w{k}", "graphic web copy", out)
        _ask(signal, _crop_copy(data, _path_rng(works.paths[k])), f"w{k}", "graphic crop 10%", out)
    return out


def graphics_sample(works: Side) -> list[int]:
    """The places of the registered works whose copies are asked: GRAPHICS_SAMPLE of those
    64 px or more on a side, the first by a hash of their path.

    Why by path: a fingerprinting change that lets one more file register (a window no longer
    too flat) shifts every later place, and a sample drawn by place would then be other
    pictures, so two commits' figures could not be compared (the deep-crop windows did that:
    of 300 web copies, 137 were the same pictures).
    """
    sizeable = [i for i, p in enumerate(works.prints) if min(p.width, p.height) >= 64]
    ranked = sorted(sizeable, key=lambda i: _path_digest(works.paths[i]))
    return sorted(ranked[:GRAPHICS_SAMPLE])


def _path_digest(path: Path) -> bytes:
    """The file's path hashed: what the graphics sample and each crop are drawn by."""
    return hashlib.sha256(str(path).encode()).digest()


def _path_rng(path: Path) -> np.random.Generator:
    """A generator seeded by the file's path: its copy is the same whatever its place."""
    return np.random.default_rng(list(_path_digest(path)[:8]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/real_catalogue_false.json"))
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "tanba-bench" / "real-catalogue"
    )
    parser.add_argument(
        "--quality-cache",
        type=Path,
        default=Path.home() / ".cache" / "tanba-bench",
        help="bench.quality's altered copies (made there when missing)",
    )
    parser.add_argument("--min-side", type=int, default=32, help="skip images smaller (px)")
    parser.add_argument("--limit", type=int, help="at most this many files a package (a quick try)")
    parser.add_argument("--no-web", action="store_true", help="query the files as served only")
    parser.add_argument(
        "--split",
        choices=(media.ANY, media.CALIBRATION, media.HELD_OUT),
        default=media.ANY,
        help="ask one half of the queries (thresholds are chosen on calibration)",
    )
    parser.add_argument("--no-recall", action="store_true", help="skip the true copies")
    parser.add_argument("--recall-only", action="store_true", help="ask the true copies only")
    parser.add_argument(
        "--reuse-prints",
        metavar="KEY",
        help="read the prints cached by another fingerprinting code (a directory under --cache) "
        "made before copies carried a thumbnail, adding each copy's from its file as that code "
        "decoded it (a decision change measured without printing the catalogue again)",
    )
    args = parser.parse_args(argv)
    cache = args.cache / (args.reuse_prints or _code_key())
    old = bool(args.reuse_prints)
    settings = Settings()
    clock = {"start": time.perf_counter()}
    with ProcessPoolExecutor(2) as pool:
        works = gather(WORKS, REFERENCE, False, args.min_side, cache, pool, args.limit)
        clock["works printed"] = time.perf_counter()
        forms = {
            "served": gather(QUERIES, QUERY, False, args.min_side, cache, pool, args.limit, old)
        }
        if not args.no_web:
            forms["web"] = gather(QUERIES, QUERY, True, args.min_side, cache, pool, args.limit, old)
        clock["queries printed"] = time.perf_counter()
    forms = {form: split_queries(side, args.split) for form, side in forms.items()}
    signal, thumbnails = register(works, settings)
    clock["registered"] = time.perf_counter()
    results = Results()
    for form, queries in forms.items():
        if not args.recall_only:
            query_all(signal, works, queries, form, results)
    clock["queried"] = time.perf_counter()
    found = None if args.no_recall else recall(signal, thumbnails, works, args.quality_cache)
    clock["recall asked"] = time.perf_counter()

    print(f"queries: {args.split} split")
    if not args.recall_only:
        report(signal, works, forms, results, clock)
    if found is not None:
        print("TRUE COPIES inside the catalogue (found/asked; wrong works matched):")
        for row in found.asked:
            # A wallpaper's copy that matches a work of the wallpaper packages has most likely
            # found the same picture at another size (they ship several): counted apart.
            kin = sum(
                k.startswith("w") and works.packages[int(k[1:])] in WALLPAPERS
                for k in found.wrong_ids[row]
            ) if row.startswith("photo") else 0  # fmt: skip
            print(
                f"  {row}: {found.found[row]}/{found.asked[row]}; wrong {found.wrong[row]}"
                + (f" (of them {kin} to a wallpaper package)" if kin else "")
            )
        print(
            f"  all: {sum(found.found.values())}/{sum(found.asked.values())}; "
            f"wrong {sum(found.wrong.values())}"
        )
        if found.details:
            q = np.percentile(found.details, [1, 5, 50])
            print(
                f"  detail similarity of the true matches: p1 {q[0]:.3f}, p5 {q[1]:.3f}, p50 {q[2]:.3f}"
            )
    checked = [f.detail for f in results.false if f.detail is not None]
    if checked:
        print(
            "detail similarity of the false matches:",
            ", ".join(f">= {t}: {sum(d >= t for d in checked)}" for t in (0.93, 0.95, 0.97)),
        )
    args.out.write_text(json.dumps([asdict(f) for f in results.false], indent=1))
    print(f"false-match pairs written to {args.out}")
    return 0


def report(
    signal: ImageSignal, works: Side, forms: dict[str, Side], results: Results,
    clock: dict[str, float],
) -> None:  # fmt: skip
    s = signal.settings
    windows = sum(len(p.hashes) for p in works.prints)
    index = signal.index
    probe = index.tuning.probe_bits if isinstance(index, SegmentedImageIndex) else None
    print(
        f"REAL CATALOGUE: {len(works.prints):,} registered works ({windows:,} windows), "
        f"threshold {s.image_min_similarity}, radius {s.image_max_distance}, "
        f"{'exact search' if probe is None else f'probe bits {probe}'}"
    )
    print("works per package:", dict(Counter(works.packages)))
    print("works skipped:", dict(works.skipped))
    for form, queries in forms.items():
        print(f"queries ({form}) per package:", dict(Counter(queries.packages)))
        print(f"queries ({form}) skipped:", dict(queries.skipped))
    false = results.false
    shared = [f for f in false if f.shared_art]
    wrong = [f for f in false if not f.shared_art]
    print(
        f"queries asked: {len(results.best):,}; FALSE MATCHES: {len(false):,} pairs, "
        f"{len({(f.query, f.query_form) for f in false}):,} queries "
        f"(by form: {dict(Counter(f.query_form for f in false))})"
    )
    print(
        f"  of which the same picture shipped by both packages (pixel correlation >= "
        f"{SAME_PICTURE}, or seen by eye: {sum(f.seen_alike for f in shared)} pairs): "
        f"{len(shared)} pairs, {len({(f.query, f.query_form) for f in shared})} "
        f"queries; WITHOUT THEM: {len(wrong):,} pairs, "
        f"{len({(f.query, f.query_form) for f in wrong}):,} queries"
    )
    print("false matches per query package -> work package (pairs; same picture in brackets):")
    for pair, count in Counter(
        f"{f.query_package} -> {f.work_package}" for f in false
    ).most_common():
        same = sum(f"{f.query_package} -> {f.work_package}" == pair for f in shared)
        print(f"  {pair}: {count}" + (f" ({same})" if same else ""))
    sides = np.array([min(p.width, p.height) for q in forms.values() for p in q.prints])
    bands = list(zip(SIDES, [*SIDES[1:], None], strict=True))
    print(
        "queries with a false match (same picture left out) / asked, by short side:",
        ", ".join(
            f"{lo}-{hi - 1 if hi else ''} px: "
            f"{len({(f.query, f.query_form) for f in wrong if lo <= f.query_side < (hi or 10**9)})}"
            f"/{int(((sides >= lo) & (sides < (hi or 10**9))).sum())}"
            for lo, hi in bands
        ),
    )
    print(f"the {SHOWN} best-scoring false matches (same picture left out):")
    for f in sorted(wrong, key=lambda f: -f.score)[:SHOWN]:
        print(
            f"  {f.score:.4f} {f.query_form:6s} {f.query} ({f.query_window}) -> "
            f"{f.work} ({f.work_window}, {f.distance} bits)"
        )
    print("same picture, for example:")
    for f in sorted(shared, key=lambda f: (f.query_form, f.query))[:: max(1, len(shared) // 5)][:5]:
        print(f"  {f.score:.4f} {f.query_form:6s} {f.query} -> {f.work}")
    best = np.array(results.best)
    print(
        "queries whose best wrong candidate scores at least:",
        ", ".join(f"{level:.2f}: {int((best >= level).sum())}" for level in LEVELS),
    )
    ms = np.array(results.seconds) * 1000
    stamps = list(clock.items())
    print(
        "time (s):",
        ", ".join(f"{name} {t - stamps[i][1]:.1f}" for i, (name, t) in enumerate(stamps[1:])),
        f"| ImageSignal.match p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms",
    )


if __name__ == "__main__":
    sys.exit(main())
