"""Image fingerprints: a 64-bit pHash and a DCT descriptor per window of the image.

A window is a region of the picture, hashed on its own. A registered work is
hashed over about a hundred windows (the whole picture, a grid of crops that
cut up to a quarter of the width and of the height, slight rotations); a
crawled copy over a few dozen (the whole picture, three fixed inner windows,
seven crops of 5% off one, two or four sides, the inner window of the copy turned back by
6 and 9° either way, each rectangle of content found inside a border, letterbox or page,
with a page's boxes also without their bottom quarter, and the mirror of each). The two grids meet half
way, so a copy cropped, rotated or shown in part matches one reference window
while a catalogue of a million works stays about a hundred windows each.

Each window carries two things: the pHash (the first 8×8 coefficients of the
DCT of the window resampled to 32×32, one bit per coefficient above their
median: ``imagehash.phash``'s algorithm and bit order), which an index can
search by Hamming distance; and a descriptor, the same 63 AC coefficients
whitened by their frequency (natural images' spectra fall as 1/f, so each
coefficient counts alike) and quantised to int8, whose cosine similarity
verifies a candidate. Signs alone lose the magnitudes; the cosine keeps them, and
it separates true copies from look-alikes far better than the Hamming distance
(measured by ``bench/quality.py``).

Windows that are nearly uniform (a flat sky, a blank logo background) hash
alike across unrelated images, so they are not hashed at all (quality gating).

Decoding (:mod:`tanba.fingerprint.decode`) and resampling (:mod:`tanba.fingerprint.resample`)
live in modules of their own.

The query path runs once per crawled image, so it is written as few array
operations as possible (each costs microseconds of dispatch, more than the
arithmetic on these small arrays). Arithmetic rewritten for speed gives the same
floats to the bit as the plain form it replaced, so such a rewrite changes no
print (checked on the benchmarks' images); only a change of what is hashed does.

Why one module of about 420 lines: a copy's windows must meet the work's (the same
crops, boxes, resampling and descriptors), so both definitions stay side by side.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.fftpack import dct

from tanba.core.signals.image import (
    DESCRIPTOR,
    DESCRIPTOR_LENGTH,
    FULL,
    PHASH,
    REFERENCE_WINDOWS,
    ImagePrint,
)
from tanba.core.signals.image_content import window_entropy
from tanba.core.signals.image_detail import (
    DETAIL,
    DETAIL_LENGTH,
    ROTATED_WINDOW,
    THUMBNAIL,
    THUMBNAIL_SIDE,
    crop_variant,
    detail_rows,
    pack,
    rotation_variant,
)
from tanba.core.signals.image_geometry import BOX_PREFIX, TURNED_PREFIX, UPPER_SUFFIX
from tanba.fingerprint.decode import decode, decode_chroma, decode_with_fine
from tanba.fingerprint.regions import Blocks, Box, content_boxes
from tanba.fingerprint.resample import N as _N
from tanba.fingerprint.resample import Region, resampled

MIRROR = "mirror"
# Which windows are hashed: a registered work's or a crawled copy's.
REFERENCE = "reference"
QUERY = "query"

_K = 8  # low-frequency coefficients kept per axis
_U, _V = np.meshgrid(np.arange(_K), np.arange(_K), indexing="ij")
_WHITEN = np.hypot(_U, _V).reshape(-1)[1:]  # 1/f spectrum: coefficient (u, v) times |(u, v)|
_MIRROR_SIGNS = np.where(_V % 2 == 1, -1.0, 1.0)  # _V is the horizontal frequency (axis 1)
_K2 = 2 * _K  # coefficients per axis a copy's details are taken from
_MIRROR_SIGNS_2 = np.where(np.arange(_K2) % 2 == 1, -1.0, 1.0)[None, :].repeat(_K2, 0).reshape(-1)
# A window whose resampled pixels vary less than this (0..255 grey) is too flat to hash.
FLAT_STD = 6.0
# Reference windows: crops cutting these (left, right) shares of the width, each
# combined with the same (top, bottom) shares of the height: 100 windows, the first
# the whole picture. The copy meets them half way: its own windows cut 0 or 5%
# more from each side (_SUB_CUTS), so a copy cropped by up to a quarter per axis
# comes within about 2.5% of one reference window, as the 441-window grid of
# 5% steps it replaces did with the copy's whole picture alone. Chosen on the
# calibration works of bench/quality.py (greedily, per axis, at the matcher's
# radius of 7 bits): 100 windows found the 25% crops as often as 441 (62 of 64)
# in a catalogue a quarter the size (tanba.matcher.segments holds a million).
_AXIS_CUTS = (
    (0.0, 0.0), (0.05, 0.05), (0.0, 0.10), (0.10, 0.0), (0.05, 0.20),
    (0.20, 0.05), (0.10, 0.15), (0.15, 0.10), (0.0, 0.25), (0.25, 0.0),
)  # fmt: skip
# Deep crops: a copy that keeps 60% of the picture with sides of 65-92% (a repost cutting a
# detail out; bench/image_alterations.py's crop_keep60) cuts one axis deeper than the grid's
# 25%, so none of the grid's windows is inside it. These windows cut 32% from one axis, at five
# places 8% apart, and 8% or 16% from the other (4% a side, or 4% and 12%): 30 windows more.
# Chosen on the calibration works of bench/quality.py (crop_keep60, 64 wallpapers; the same
# cached copies): the grid alone found 36 of 64, every cut of up to 40% a side in 5% steps
# (2,025 windows) 64; of the structured sets tried, 20 windows found 54, these 30 57, and 56
# windows (cuts of 30% in 5% steps) 57. A window this deep still holds two thirds of the
# picture, and the matcher's checks (stretch, details, grey levels) judge it as any other.
_DEEP_AXIS = ((0.0, 0.32), (0.08, 0.24), (0.16, 0.16), (0.24, 0.08), (0.32, 0.0))
_DEEP_OTHER = ((0.04, 0.04), (0.04, 0.12), (0.12, 0.04))
_DEEP_CUTS = tuple((*deep, *other) for deep in _DEEP_AXIS for other in _DEEP_OTHER) + tuple(
    (*other, *deep) for other in _DEEP_OTHER for deep in _DEEP_AXIS
)
# A deep window showing fewer grey levels than this (entropy in bits of 16 levels, cut from the
# thumbnail as the matcher's entropy test cuts it) is left out: a plain picture's deep window is
# that plain field again, evidence of nothing, and each such window is one more chance for the
# work to look like a plain copy's window, which makes that window a look-alike of too many
# works. On bench/real_catalogue.py's calibration half a Naev frame matched Open Clip Art's red
# flag (deep windows of 0 to 0.85 bits) once the deep windows came; bench.quality's calibration
# and unseen works lost no copy with this bar.
_DEEP_MIN_BITS = 1.0
_ANGLES = (-4.0, 4.0)
# Query windows besides the whole image: (left, right, top, bottom) shares cut.
_INNER = ROTATED_WINDOW
_UPPER = (0.0, 0.0, 0.0, 0.24)
_MIDDLE = (0.0, 0.0, 0.12, 0.24)
_QUERY_CUTS = (_INNER, _UPPER, _MIDDLE)
# A copy's own crops, meeting the reference grid half way: 5% off one side, off two
# sides at a corner (top left, bottom right) or off all four. Chosen greedily on the
# calibration study that chose _AXIS_CUTS: these seven found every copy that all 15
# combinations of 0 or 5% per side found, at 7 windows' cost instead of 15.
_SUB_CUTS = (
    (0.05, 0.0, 0.0, 0.0), (0.0, 0.05, 0.0, 0.0), (0.0, 0.0, 0.05, 0.0), (0.0, 0.0, 0.0, 0.05),
    (0.05, 0.0, 0.05, 0.0), (0.0, 0.05, 0.0, 0.05), (0.05, 0.05, 0.05, 0.05),
)  # fmt: skip
# Working resolutions: long side in pixels (at least; a JPEG is decoded at the DCT
# scale that reaches it). The DCT hash needs 32 px, and a photo inside a screenshot
# of a page needs about 80 (a 1366-px page is decoded at 1/8, to 171 px); references
# are hashed once. A 1280-px web JPEG decodes at 1/8 (1/4 at the 256 px used before):
# a fifth less decoding time, and a quarter of the pixels after it (measured on
# bench/speed.py's files).
_QUERY_SIDE = 160
_REFERENCE_SIDE = 512
# A copy of twice this long side or more whose working image holds content too small for
# its own boxes on a uniform background (Blocks.small: a page's pictures) is also decoded at
# this long side, and boxes down to _PAGE_MIN_SIDE of its sides are hashed from there: a
# picture shown 120 px wide in a 1,366-px screenshot is 56 px wide there.
_PAGE_SIDE = 640
_PAGE_MIN_SIDE = 0.05
_PAGE_MIN_AREA = 0.003
_PAGE_BOXES = 4
# A page's boxes longer than this many times their width (or the reverse) are a header,
# a menu bar or a line of text, not a picture: they are passed over so that a small
# picture further down still gets one of the _PAGE_BOXES places.
_PAGE_MAX_ASPECT = 4.0
_PAGE_CANDIDATES = 12
# A copy rotated further than the work's own rotated windows (_ANGLES) reach is turned back
# by these angles and cut as the work's inner and rotated windows are (_INNER), so a turned
# window is one of the work's windows to within a degree or two (the work's 0° and ±4°
# windows each take about that). Chosen on the calibration works of bench/quality.py
# (rotate_5-10, 64 wallpapers): none 12 found; ±8° 50; ±6° and ±9° 59, as many as ±7° and
# ±10°; a centred cut of 12.5% (which keeps a 10° rotation's blank corners out but is none
# of the work's windows) 15 even with twelve angles.
_QUERY_ANGLES: tuple[float, ...] = (-9.0, -6.0, 6.0, 9.0)
_ROTATED_QUERY_CUT = _INNER
# Side of the grid a turned window is sampled on (:func:`turned_windows`), from the copy at its
# working resolution. On the calibration works' rotate_5-10 (the same cached copies): 59 of
# 64 found, against 58 when a half-resolution copy was rotated whole with Pillow; rotate_3-5
# 63 both ways; crop_keep60 36 both ways.
_TURN_SIDE = 64
# Grey levels the four corners of a copy may spread over and still be one fill colour: a
# rotation's fill through JPEG and the scaled decoding stays within a few levels.
_CORNER_SPREAD = 24
# Each page box is also hashed without its bottom quarter (the work's upper window), as a
# headline over a banner's picture covers it. On the calibration works' banners
# (bench/quality.py, 64 wallpapers): 41 found without, 49 with; in a page 60 and 63.
_PAGE_UPPER = True
# A page's pictures are found where its pixels differ from its background in grey or in colour
# (tanba.fingerprint.regions): in grey alone a picture as dark as its banner loses its box, or
# the part of it that is. On the calibration works' banners (bench/quality.py, 64 wallpapers):
# 49 found in grey alone, 62 with colour.
_PAGE_COLOUR = True
# A registered drawing on a plain ground is also hashed as its content box (reference_windows).
_REFERENCE_CONTENT = True


@dataclass(frozen=True)
class Windows:
    """Hashed windows, in order: variant names, pHashes, and whitened descriptors (int8,
    one row of 63 values per window); a copy's windows also have details (int8, one row of
    :data:`DETAIL_LENGTH` values each; :mod:`tanba.core.signals.image_detail`).

    Kept as one batch, as they are computed: a print is made of all of them at once.
    """

    variants: list[str]
    phashes: list[int]
    descriptors: np.ndarray
    details: np.ndarray | None = None

    @staticmethod
    def none(details: bool = False) -> Windows:
        return Windows(
            [],
            [],
            np.zeros((0, DESCRIPTOR_LENGTH), np.int8),
            np.zeros((0, DETAIL_LENGTH), np.int8) if details else None,
        )


def image_print(data: bytes, *, max_pixels: int, variants: str = QUERY) -> ImagePrint:
    """Fingerprint encoded image bytes; raises :class:`Unfingerprintable` with the reason.

    ``variants`` is :data:`QUERY` (a crawled copy) or :data:`REFERENCE` (a registered
    work). A nearly uniform image yields a print without hashes, which matches nothing.
    """
    if variants == REFERENCE:
        grey, width, height = decode(data, max_pixels, _REFERENCE_SIDE)
        windows = reference_windows(grey)
        picture = thumbnail(grey) if windows.variants else None
        return to_print(width, height, windows, picture, window_set=REFERENCE_WINDOWS)
    # A copy large enough to be a page is also decoded at the page side when the working
    # image shows content too small for its own boxes on a uniform ground (a page's pictures).
    # The working image's blocks answer that and make its boxes: found once.
    found: list[Blocks] = []

    def wants_page_pass(grey: np.ndarray) -> bool:
        found.append(Blocks(grey))
        return found[0].small(_PAGE_MIN_SIDE, _PAGE_MIN_AREA)

    grey, page, width, height = decode_with_fine(
        data, max_pixels, _QUERY_SIDE, _PAGE_SIDE, 2 * _PAGE_SIDE, wants_page_pass
    )
    boxes = found[0].boxes() if found else None
    # The page's pictures are found by their colour too (a dark picture on a dark banner).
    chroma = decode_chroma(data, page.shape) if page is not None and _PAGE_COLOUR else None
    windows = query_windows(grey, page, boxes, chroma)
    # The copy's thumbnail too, for the grey-level check (tanba.core.signals.image_levels).
    return to_print(width, height, windows, thumbnail(grey) if windows.variants else None)


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """The whole picture squeezed to a THUMBNAIL_SIDE² grey square (uint8): a work's is what a
    candidate's details are cut from (:func:`tanba.core.signals.image_detail.detail_similarity`);
    a copy's and a work's are compared by :mod:`tanba.core.signals.image_levels`."""
    small = Image.fromarray(grey).resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(small, np.uint8)


def to_print(
    width: int,
    height: int,
    windows: Windows,
    thumbnail: np.ndarray | None = None,
    window_set: str = "",
) -> ImagePrint:
    """The schema form of hashed windows: hashes in order, descriptors (and a copy's details,
    the thumbnail) packed alongside; a registered work's ``window_set`` names its windows
    (:data:`REFERENCE_WINDOWS`).

    Validated from plain values in one call: pydantic-core builds the dozen nested
    models faster than Python builds them one by one (even unvalidated, with
    ``model_construct``, measured).
    """
    return ImagePrint.model_validate(
        {
            "width": width,
            "height": height,
            "hashes": [
                {"algorithm": PHASH, "variant": variant, "value": f"{phash:016x}"}
                for variant, phash in zip(windows.variants, windows.phashes, strict=True)
            ],
            "descriptor": DESCRIPTOR,
            "descriptors_b64": base64.b64encode(windows.descriptors.tobytes()).decode(),
            **(
                {"detail": DETAIL, "details_b64": pack(windows.details)}
                if windows.details is not None and windows.variants
                else {}
            ),
            **(
                {"thumbnail": THUMBNAIL, "thumbnail_b64": pack(thumbnail)}
                if thumbnail is not None
                else {}
            ),
            **({"windows": window_set} if window_set else {}),
        }
    )


def coefficients(grey: Image.Image, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The 8×8 low-frequency DCT of the window resampled to 32×32, as imagehash.phash takes it."""
    window = grey if box is None else grey.crop(box)
    return _dct(np.asarray(window.resize((_N, _N), Image.Resampling.LANCZOS)))


def _dct(pixels: np.ndarray) -> np.ndarray:
    """imagehash.phash's transform: the same calls in the same order.

    On images with exact ties (flat drawings) a DCT computed any other way rounds
    differently, and a coefficient at the median flips its bit.
    """
    return dct(dct(pixels, axis=0), axis=1)[:_K, :_K]


def phash(coeffs: np.ndarray) -> int:
    """The 64-bit pHash of 8×8 coefficients: bit set where above their median, row-major, MSB first."""
    return int(_phashes(coeffs.reshape(1, -1))[0])


def _phashes(rows: np.ndarray) -> np.ndarray:
    """pHashes of many coefficient rows (n × 64) at once, as big-endian uint64."""
    ordered = np.sort(rows, axis=1)
    median = (ordered[:, 31] + ordered[:, 32]) / 2  # np.median of 64 values
    # Eight bytes of bits, first bit highest, read as one big-endian number: MSB first.
    return np.packbits(rows > median[:, None], axis=1).view(">u8").ravel()


def descriptor(coeffs: np.ndarray) -> np.ndarray:
    """The 63 AC coefficients whitened by frequency, unit length, quantised to int8."""
    return _descriptors(coeffs.reshape(1, -1))[0]


def _descriptors(rows: np.ndarray) -> np.ndarray:
    """Descriptors of many coefficient rows (n × 64) at once."""
    ac = rows[:, 1:] * _WHITEN
    # np.linalg.norm's own arithmetic for rows, without its dispatch (a descriptor
    # that rounds differently would change prints).
    norms = np.sqrt(np.add.reduce(ac * ac, axis=1, keepdims=True))
    scaled = 127 * ac  # stays zero where the norm is (all of its row is zero)
    np.divide(scaled, norms, out=scaled, where=norms > 0)
    return np.round(scaled).astype(np.int8)


def _windows(
    images: list[tuple[np.ndarray, list[Region]]],
    *,
    mirror: bool = False,
    plain: list[tuple[np.ndarray, list[Region]]] | None = None,
    details: bool = False,
) -> Windows:
    """Each (variant, box) region of each image hashed, with its mirror if asked;
    then those of ``plain``, never mirrored, in the same batch (with their details if asked).

    Too flat windows are left out. The windows come out image by image, each
    image's mirrors after its own windows. All regions of all images go through
    one batch of array operations: per window the work is a few microseconds,
    and calling numpy (or Pillow) once per window, or once per image, would cost
    more than it. Every step works on each window alone, so a window hashes the
    same whatever else is in the batch.
    """
    everything = images + (plain or [])
    names = [name for _, regions in everything for name, _ in regions]
    if not names:
        return Windows.none(details)
    mirrored = sum(len(regions) for _, regions in images)
    pixels = resampled(everything).reshape(len(names), _N * _N)
    kept = (_std(pixels) >= FLAT_STD).tolist()
    if not all(kept):
        if not any(kept):
            return Windows.none(details)
        pixels = pixels[kept]
        names = [name for name, keep in zip(names, kept, strict=True) if keep]
    # As _dct, per window; the second transform only on the rows that are kept (the 8×8
    # block comes out the same whether 8 or 16 rows go through it: each row alone).
    k = _K2 if details else _K
    block = dct(dct(pixels.reshape(-1, _N, _N), axis=1)[:, :k], axis=2)[:, :, :k]
    rows = np.ascontiguousarray(block[:, :_K, :_K]).reshape(len(block), _K * _K)
    fine = block.reshape(len(block), k * k) if details else None
    if mirror:
        # Mirroring left-right negates the odd horizontal frequencies: no second transform.
        count = sum(kept[:mirrored])
        order = _mirrors_after_their_image(images, kept[:mirrored])
        rows = _with_mirrors(rows, count, order, _MIRROR_SIGNS.reshape(-1))
        if fine is not None:
            fine = _with_mirrors(fine, count, order, _MIRROR_SIGNS_2)
        own_names, rest_names = names[:count], names[count:]
        own_names += [MIRROR if n == FULL else f"{n}-{MIRROR}" for n in own_names]
        names = [own_names[i] for i in order] + rest_names
    return Windows(
        names,
        _phashes(rows).tolist(),
        _descriptors(rows),
        None if fine is None else detail_rows(fine),
    )


def _with_mirrors(rows: np.ndarray, count: int, order: list[int], signs: np.ndarray) -> np.ndarray:
    """The first ``count`` rows and their mirrors (``signs`` applied) in ``order``, then the rest."""
    own = rows[:count]
    return np.concatenate([np.concatenate([own, own * signs])[order], rows[count:]])


def _std(rows: np.ndarray) -> np.ndarray:
    """``rows.std(axis=1)``, the same operations without numpy's dispatch around them.

    The flatness threshold compares this value, so it must round as ``std`` does.
    """
    mean = np.add.reduce(rows, axis=1, keepdims=True)
    mean /= rows.shape[1]
    deviations = rows - mean
    np.square(deviations, out=deviations)
    variance = np.add.reduce(deviations, axis=1)
    variance /= rows.shape[1]
    return np.sqrt(variance)


def _mirrors_after_their_image(
    images: list[tuple[np.ndarray, list[Region]]], kept: list[bool]
) -> list[int]:
    """The order that puts each image's kept windows, then their mirrors, image after image.

    Rows come as every kept window, then every mirror in the same order.
    """
    order: list[int] = []
    count = sum(kept)
    done = start = 0
    for _, regions in images:
        here = sum(kept[start : start + len(regions)])
        order += range(done, done + here)
        order += range(count + done, count + done + here)
        done, start = done + here, start + len(regions)
    return order


def _box(
    grey: np.ndarray, left: float, right: float, top: float, bottom: float
) -> tuple[int, int, int, int]:
    """The pixel box that cuts these shares of the width and height from each side."""
    return _cut(grey.shape, left, right, top, bottom)


def _cut(
    shape: tuple[int, ...], left: float, right: float, top: float, bottom: float
) -> tuple[int, int, int, int]:
    """:func:`_box` of an image of this shape (rows, columns)."""
    height, width = shape[:2]
    return (
        round(left * width),
        round(top * height),
        round(width - right * width),
        round(height - bottom * height),
    )


_QUERY_CROPS = [(crop_variant(*cut), cut) for cut in _QUERY_CUTS]
_SUB_CROPS = [(f"sub:{crop_variant(*cut)}", cut) for cut in _SUB_CUTS]


def query_windows(
    grey: np.ndarray,
    page: np.ndarray | None = None,
    content: list[Box] | None = None,
    page_chroma: np.ndarray | None = None,
) -> Windows:
    """A crawled copy's windows: whole, inner, upper, each content box and their mirrors; sub-crops.

    The inner window (8% off each side) drops a frame's edge, a watermark in a
    corner or a rotated copy's empty corners; the upper one (the bottom quarter
    off) drops a caption; the middle one drops a caption and a logo at the top.
    All are windows the reference also has, at the same place. Mirroring the copy
    instead of the reference doubles a handful of query hashes rather than every
    reference window. ``content`` is ``content_boxes(grey)`` when the caller has it;
    ``page_chroma`` the page's colour (:func:`~tanba.fingerprint.decode.decode_chroma`), for
    finding its pictures.
    """
    # The fixed windows need no more than 128 px on the short side: a copy whose short
    # side reaches 256 is halved for them (a quarter of the resampling work). A box
    # inside a page is small, and keeps all of the working resolution.
    half = _halved(grey) if min(grey.shape) >= 8 * _N else grey
    fixed: list[Region] = [(FULL, None)]
    fixed += [(name, _box(half, *cut)) for name, cut in _QUERY_CROPS]
    subs: list[Region] = [(name, _box(half, *cut)) for name, cut in _SUB_CROPS]
    # A box is hashed without its outermost pixels: they blend the content with the
    # background around it (the scaled decoding averages both), and the work has no
    # such edge. Page canvases in bench/quality.py (held-out): recall 0.562 with the
    # edge, 0.969 without.
    boxes: list[Region] = [
        placed_box(i, _edge_dropped(box), grey)
        for i, box in enumerate(content_boxes(grey) if content is None else content)
    ]
    groups = [(half, fixed), (grey, boxes)]
    page_boxes: list[Box] = []
    if page is not None:
        # Smaller pictures of a page, from its finer decoding (the edge dropped likewise).
        page_boxes = [
            _edge_dropped(box)
            for box in content_boxes(
                page, _PAGE_MIN_SIDE, _PAGE_MIN_AREA, _PAGE_CANDIDATES, page_chroma
            )
            if max(box[2] - box[0], box[3] - box[1])
            <= _PAGE_MAX_ASPECT * min(box[2] - box[0], box[3] - box[1])
        ][:_PAGE_BOXES]
        groups.append(
            (page, [placed_box(len(boxes) + i, box, page) for i, box in enumerate(page_boxes)])
        )
    # The sub-crops and the turned-back windows are not mirrored: a mirrored copy is rarely
    # cropped or tilted too, and their mirrors would add as many windows again to every
    # crawled image's cost.
    plain: list[tuple[np.ndarray, list[Region]]] = [(half, subs)]
    if page is not None and _PAGE_UPPER:
        # A headline over the lower part of a picture in a banner: each page box's upper
        # window (the bottom quarter off), as the whole copy has one.
        upper = [
            placed_box(len(boxes) + i, _upper(box), page, UPPER_SUFFIX)
            for i, box in enumerate(page_boxes)
        ]
        plain.append((page, upper))
    if blank_corners(grey):
        turned = turned_windows(grey, _QUERY_ANGLES)
        plain += [
            (window, [(f"{TURNED_PREFIX}{angle:+.0f}", None)])
            for window, angle in zip(turned, _QUERY_ANGLES, strict=True)
        ]
        if blank_sides(grey):
            # A copy rotated onto an enlarged canvas: the same turns, cut from the picture it
            # holds (its own inner window takes in the fill around the picture).
            angles = tuple(a for a in _QUERY_ANGLES if turned_cut(grey.shape, a, True))
            if angles:
                enlarged = turned_windows(grey, angles, enlarged=True)
                plain += [
                    (window, [(_turned_name(grey.shape, angle), None)])
                    for window, angle in zip(enlarged, angles, strict=True)
                ]
    return _windows(groups, mirror=True, plain=plain, details=True)


def blank_corners(grey: np.ndarray) -> bool:
    """Whether the image's four corners are one colour (within :data:`_CORNER_SPREAD`), as the
    fill a rotation leaves makes them: the copies the turned windows are for.

    A copy turned by 5° or more and kept at its size has corners it fills: at 5° a triangle
    whose short leg is 4% of the short side and long one nearly half the long side (4 × 75
    pixels of a 160 × 100 working image), around the 2 × 2 pixels looked at. A photo's four
    corners rarely match: 106 of bench/speed.py's 200 files are spared the turned windows
    (a tenth of a query's time).
    """
    corners = np.concatenate([grey[:2, :2], grey[:2, -2:], grey[-2:, :2], grey[-2:, -2:]])
    return int(corners.max()) - int(corners.min()) <= _CORNER_SPREAD


def blank_sides(grey: np.ndarray) -> bool:
    """Whether the middles of the four sides are the corners' colour too (within
    :data:`_CORNER_SPREAD`), as a rotation onto an enlarged canvas leaves them: the picture
    touches each side near a corner only (a rotation within the canvas covers the middles).

    Which copies get the enlarged turned windows (:func:`turned_cut`): of ``bench/speed.py``'s
    200 files, 94 have blank corners and 37 blank sides too; every rotate_wide_5-10 copy of
    ``bench/quality.py`` (64 wallpapers, 65 unseen works) has both.
    """
    height, width = grey.shape
    x, y = width // 2 - 1, height // 2 - 1
    sides = np.concatenate(
        [grey[:2, x : x + 2], grey[-2:, x : x + 2], grey[y : y + 2, :2].T, grey[y : y + 2, -2:].T]
    )
    corners = np.concatenate([grey[:2, :2], grey[:2, -2:], grey[-2:, :2], grey[-2:, -2:]])
    both = np.concatenate([sides, corners])
    return int(both.max()) - int(both.min()) <= _CORNER_SPREAD


def turned_windows(
    grey: np.ndarray, angles: tuple[float, ...], enlarged: bool = False
) -> np.ndarray:
    """The inner window of ``grey`` turned by each angle (degrees, counter-clockwise about its
    centre, as ``Image.rotate``), sampled bilinearly on a :data:`_TURN_SIDE`² grid (float32,
    one grid per angle; black beyond the picture, as a rotation's corners). The window is
    :func:`turned_cut`'s: the copy's own inner window, or with ``enlarged`` the inner window
    of the picture a rotation by the angle onto an enlarged canvas would have held (every
    angle must have one).

    All angles in one batch of array operations, straight from the copy to the window's
    grid: rotating the whole copy with Pillow, then cutting and resampling the window, cost
    several times as many interpolated pixels and a call per angle (a quarter of a query's
    time in ``bench/speed.py``). The grid is twice the hash's 32 px, so the resampler's 2:1
    Lanczos step filters what point sampling aliases. :func:`turned_window_reference` is the
    plain form, one angle and one pixel at a time.
    """
    height, width = grey.shape
    # A border of black pixels: a point beyond the picture interpolates towards black.
    padded = np.zeros((height + 2, width + 2), np.float32)
    padded[1:-1, 1:-1] = grey
    cuts = np.array([_required_cut(grey.shape, angle, enlarged) for angle in angles])
    left, top, right, bottom = (cuts[:, i, None, None] for i in range(4))
    steps = np.arange(_TURN_SIDE) + 0.5
    # Grid points as offsets from the centre, in the turned picture.
    u = left + steps[None, None, :] * (right - left) / _TURN_SIDE - width / 2
    v = top + steps[None, :, None] * (bottom - top) / _TURN_SIDE - height / 2
    radians = -np.radians(np.asarray(angles, np.float64))[:, None, None]
    cos, sin = np.cos(radians), np.sin(radians)
    # Image.rotate's map from the turned picture to the source; pixel centres at half
    # steps, one more for the border.
    x = np.clip(cos * u + sin * v + width / 2 + 0.5, 0, width + 1)
    y = np.clip(-sin * u + cos * v + height / 2 + 0.5, 0, height + 1)
    x0 = np.minimum(x.astype(np.intp), width)
    y0 = np.minimum(y.astype(np.intp), height)
    fx = (x - x0).astype(np.float32)
    fy = (y - y0).astype(np.float32)
    flat = padded.ravel()
    at = y0 * (width + 2) + x0
    a, b = flat[at], flat[at + 1]
    c, d = flat[at + width + 2], flat[at + width + 3]
    top_row = a + fx * (b - a)
    return top_row + fy * (c + fx * (d - c) - top_row)


def turned_window_reference(grey: np.ndarray, angle: float, enlarged: bool = False) -> np.ndarray:
    """:func:`turned_windows` for one angle, computed point by point (the contract's plain form)."""
    height, width = grey.shape
    left, top, right, bottom = _required_cut(grey.shape, angle, enlarged)
    radians = -math.radians(angle)
    out = np.zeros((_TURN_SIDE, _TURN_SIDE), np.float64)

    def pixel(row: int, column: int) -> float:
        inside = 0 <= row < height and 0 <= column < width
        return float(grey[row, column]) if inside else 0.0

    for i in range(_TURN_SIDE):
        for j in range(_TURN_SIDE):
            u = left + (j + 0.5) * (right - left) / _TURN_SIDE - width / 2
            v = top + (i + 0.5) * (bottom - top) / _TURN_SIDE - height / 2
            # Source position in pixel-index units (pixel k's centre at k + 0.5).
            x = math.cos(radians) * u + math.sin(radians) * v + width / 2 - 0.5
            y = -math.sin(radians) * u + math.cos(radians) * v + height / 2 - 0.5
            x = min(max(x, -1.0), float(width))
            y = min(max(y, -1.0), float(height))
            column, row = min(math.floor(x), width - 1), min(math.floor(y), height - 1)
            fx, fy = x - column, y - row
            out[i, j] = (1 - fy) * (
                (1 - fx) * pixel(row, column) + fx * pixel(row, column + 1)
            ) + fy * ((1 - fx) * pixel(row + 1, column) + fx * pixel(row + 1, column + 1))
    return out


def turned_cut(
    shape: tuple[int, ...], angle: float, enlarged: bool = False
) -> tuple[float, float, float, float] | None:
    """The (left, top, right, bottom) pixel box a turned window cuts from the copy turned back
    by ``angle`` (on its own canvas, ``shape``'s height and width).

    The copy's inner window (:data:`_ROTATED_QUERY_CUT`): a copy rotated within its canvas is
    the picture again there. With ``enlarged``, the same share cut from the picture a rotation
    by ``angle`` onto a canvas enlarged to hold it all would have held: a canvas W × H holds a
    picture w × h turned by a as W = w·cos a + h·sin a and H = w·sin a + h·cos a, and turned
    back the picture is w × h at the centre, the rest fill. None when no picture fits (a canvas
    narrower than the rotation's own slant, or a picture under a fifth of a side).
    """
    if not enlarged:
        x0, y0, x1, y1 = _cut(shape, *_ROTATED_QUERY_CUT)
        return float(x0), float(y0), float(x1), float(y1)
    height, width = shape[:2]
    left, right, top, bottom = _ROTATED_QUERY_CUT
    cos, sin = math.cos(math.radians(abs(angle))), math.sin(math.radians(abs(angle)))
    det = cos * cos - sin * sin
    w = (width * cos - height * sin) / det
    h = (height * cos - width * sin) / det
    if w < width / 5 or h < height / 5:
        return None
    return (
        (width - w) / 2 + left * w,
        (height - h) / 2 + top * h,
        (width + w) / 2 - right * w,
        (height + h) / 2 - bottom * h,
    )


def _turned_name(shape: tuple[int, ...], angle: float) -> str:
    """An enlarged turned window's name: ``turned:±N:crop:l-r-t-b``, its place on the turned
    copy's canvas in percent with two decimals (for the geometry test's proportions)."""
    return f"{TURNED_PREFIX}{angle:+.0f}:{_place(_required_cut(shape, angle, True), shape)}"


def _required_cut(
    shape: tuple[int, ...], angle: float, enlarged: bool
) -> tuple[float, float, float, float]:
    cut = turned_cut(shape, angle, enlarged)
    if cut is None:
        raise ValueError(f"no enlarged rotation by {angle}° fits a {shape[1]}x{shape[0]} copy")
    return cut


def _edge_dropped(box: Box) -> Box:
    """The box without its outermost pixels (see :func:`query_windows`)."""
    left, top, right, bottom = box
    return left + 1, top + 1, right - 1, bottom - 1


def placed_box(index: int, box: Box, image: np.ndarray, suffix: str = "") -> Region:
    """A content box's window, named with its place on the copy: ``box<i>:crop:l-r-t-b``
    (``box<i>-upper:crop:…`` with :data:`UPPER_SUFFIX`), the shares of ``image`` (the whole
    copy at some scale) it cuts off each side, in percent with two decimals (a small box's sides in whole percentages would stretch it: at 120 px
    in a 1,366-px page, bench.page_photos found 30 of 64 pictures so, 43 unplaced).

    Why: the geometry test, the grey-level and the texture checks place a pair's copy window
    on the work from its name; a box named only ``box<i>`` could not be judged, and on
    bench/real_catalogue.py's held-out half 5 of the 29 false pairs left were content boxes
    (a sign's box against building sprites). The hash is the same either way; a copy printed
    before names its boxes ``box<i>``, and they are not judged, as before.
    """
    return f"{BOX_PREFIX}{index}{suffix}:{_place(box, image.shape)}", box


def _place(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> str:
    """The crop variant that cuts ``box`` (left, top, right, bottom pixels) from an image of
    this shape, in percent with two decimals."""
    height, width = shape[:2]
    left, top, right, bottom = box
    return crop_variant(
        left / width, 1 - right / width, top / height, 1 - bottom / height, decimals=2
    )


def _upper(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box without its bottom :data:`_UPPER` share, as the work's upper window cuts it."""
    left, top, right, bottom = box
    return left, top, right, bottom - round(_UPPER[3] * (bottom - top))


def _halved(grey: np.ndarray) -> np.ndarray:
    """Pillow's ``reduce(2)`` (each 2×2 block averaged, rounded half up), as float32.

    Only near-square copies reach the 256 px short side that asks for it, now that
    queries are decoded to 160-319 px on their long side: Pillow's own call is enough.
    """
    return np.asarray(Image.fromarray(grey).reduce(2), dtype=np.float32)


def _shown(
    grey: np.ndarray, cuts: tuple[tuple[float, float, float, float], ...]
) -> list[tuple[float, float, float, float]]:
    """The cuts whose window shows at least :data:`_DEEP_MIN_BITS` of grey levels."""
    picture = thumbnail(grey)
    height, width = grey.shape[:2]
    return [
        cut
        for cut in cuts
        if (window_entropy(picture, width, height, crop_variant(*cut)) or 0.0) >= _DEEP_MIN_BITS
    ]


def reference_windows(grey: np.ndarray) -> Windows:
    """A registered work's windows: whole, the crop grid, deep crops and slight rotations.

    A rotated window is cut to its inner part, without the corners the rotation
    empties: unrelated images rotated alike share those corners, and would look alike.
    """
    cuts = [(lr[0], lr[1], tb[0], tb[1]) for lr in _AXIS_CUTS for tb in _AXIS_CUTS]
    regions: list[Region] = [(FULL, None)]
    regions += [
        (crop_variant(*cut), _box(grey, *cut))
        for cut in cuts[1:] + [c for c in _QUERY_CUTS if c not in cuts] + _shown(grey, _DEEP_CUTS)
    ]
    if _REFERENCE_CONTENT:
        # A drawing on a plain ground (a transparent one laid on white) is also hashed as its
        # content box: shown on another plain ground (a page), the copy is boxed to the drawing
        # alone, a crop of the whole picture deeper than the grid's. Named with its place, as
        # a copy's box is; the largest box only (one window more for the works that have one).
        # A box under the hash's own side is too little picture to be evidence (a 60-px
        # icon's middle cell, a plain square, matched a frame icon in bench/real_catalogue.py).
        regions += [
            (_place(box, grey.shape), box)
            for box in map(_edge_dropped, content_boxes(grey)[:1])
            if min(box[2] - box[0], box[3] - box[1]) >= _N
        ]
    images = [(grey, regions)]
    for angle in _ANGLES:
        rotated = np.asarray(
            Image.fromarray(grey).rotate(angle, Image.Resampling.BICUBIC, expand=False)
        )
        images.append((rotated, [(rotation_variant(angle), _box(rotated, *_INNER))]))
    return _windows(images)
