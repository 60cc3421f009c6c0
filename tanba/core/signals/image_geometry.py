"""Where a window pair puts the copy on the work: the geometry test of an image match.

Contract: a window pair (the copy's window, by its variant name, against the work's)
implies where the copy's whole frame lies on the work, in shares of the work's width
and height (:func:`implied_frame`). A true copy, uniformly scaled, cropped, framed or
mirrored, keeps the picture's proportions: the frame, in the work's pixels, has the
copy's aspect ratio (:func:`stretch` is the log of their ratio, about 0). And the copy's
other windows that match the work put the copy at the same place (:func:`same_place`).

Why: the descriptor and the details see a window resampled to 32 × 32, so they are
blind to its proportions. On ``bench/real_catalogue.py`` (55,676 real works) most false
matches that passed them paired a tall strip of a copy with a wide one of a work (a
dialog frame's top against an icon), which no copy of that work can do; a true copy's
window pairs agree with one another, unrelated pictures' rarely do.

A copy's window names (:mod:`tanba.fingerprint.image`): ``full``, crops named by
:func:`~tanba.core.signals.image_detail.crop_variant`, the same prefixed with ``sub:``
(a copy's own small crops), each with :data:`MIRROR_SUFFIX` when mirrored (``mirror``
alone is the whole copy mirrored); ``box<i>:crop:…`` (a content box, with the shares of
the copy it cuts off as a crop's name gives them; ``box<i>-upper:crop:…`` a page box
without its bottom quarter); a copy printed before boxes were placed names them ``box<i>``,
with no place: the test is skipped for them. A turned window (``turned:±N``: the copy turned
back by N degrees and cut to :data:`~tanba.core.signals.image_detail.ROTATED_WINDOW`) has a
place but not the copy's orientation: :func:`turned_frame` gives its frame for the stretch
alone (its greys are not the copy thumbnail's there, so the grey checks skip it).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from tanba.core.signals.image import FULL
from tanba.core.signals.image_detail import ROTATED_WINDOW, window_geometry

MIRROR = "mirror"  # the whole copy mirrored (tanba.fingerprint.image.MIRROR)
MIRROR_SUFFIX = f"-{MIRROR}"
SUB_PREFIX = "sub:"
BOX_PREFIX = "box"  # a content box: box<i>:crop:…
UPPER_SUFFIX = "-upper"  # a page box without its bottom quarter: box<i>-upper:crop:…
TURNED_PREFIX = "turned:"  # the copy turned back: turned:±N (tanba.fingerprint.image)
# How much more a pair through a content box may stretch the copy than a pair of grid windows
# (log of the ratio, added to TANBA_IMAGE_MAX_STRETCH): a box is measured in the pixels of the
# image it was found in, 160 or 640 px on its long side, where a picture shown small is some
# 40 px wide: a pixel off on each side is 5% of its width. Set from that, after a banner
# picture of bench.quality's unseen set (0.104) and a page's 120-px picture of bench.page_photos
# (0.114) were rejected at 0.10; the false pairs through boxes of bench/real_catalogue.py's
# held-out half stretch 0.18 and more.
BOX_STRETCH_SLACK = 0.05


class Frame(NamedTuple):
    """The copy's whole picture placed on the work, in shares of the work's sides
    (``left`` > ``right`` never: a mirrored copy says so in ``mirrored``)."""

    left: float
    right: float
    top: float
    bottom: float
    mirrored: bool


def copy_window(variant: str) -> tuple[tuple[float, float, float, float], bool] | None:
    """(left, right, top, bottom) shares a copy's window cuts off, and whether it is
    mirrored; None for a window whose place its name does not give (a content box printed
    before boxes were placed) or that is not the copy's orientation (a turned window)."""
    mirrored = variant == MIRROR or variant.endswith(MIRROR_SUFFIX)
    base = FULL if variant == MIRROR else variant.removesuffix(MIRROR_SUFFIX)
    if is_box(base):  # box<i>:crop:… (a content box and its place)
        base = base.partition(":")[2]
    found = window_geometry(base.removeprefix(SUB_PREFIX))
    if found is None or found[4]:
        return None
    return found[:4], mirrored


def is_box(variant: str) -> bool:
    """Whether a copy's window is one of its content boxes (placed or not)."""
    return variant.startswith(BOX_PREFIX)


def implied_frame(copy_variant: str, work_variant: str) -> Frame | None:
    """Where the pair puts the copy's frame on the work (None if either window's place is
    unknown). A work's rotated window counts as its unrotated inner part."""
    copy = copy_window(copy_variant)
    work = window_geometry(work_variant)
    if copy is None or work is None:
        return None
    return _frame(*copy, work[:4])


def turned_frame(copy_variant: str, work_variant: str) -> Frame | None:
    """Where a pair through a turned window puts the copy's frame on the work, the turned
    window taken as the copy's unturned inner part (as a work's rotated window is); None for
    any other window, or a work window whose place is unknown.

    Why apart from :func:`implied_frame`: the frame is right for the proportions (a copy
    rotated within its own canvas, turned back, is the picture again), but the window's
    content is turned against the copy's thumbnail, where the grey checks would sample it.
    On bench/real_catalogue.py's held-out half two false pairs came through turned windows
    (a melting block against a map's mask, a panel against an ammunition can)."""
    work = window_geometry(work_variant)
    if not copy_variant.startswith(TURNED_PREFIX) or work is None:
        return None
    return _frame(turned_place(copy_variant) or ROTATED_WINDOW, False, work[:4])


def turned_place(variant: str) -> tuple[float, float, float, float] | None:
    """(left, right, top, bottom) shares of the turned copy a window of an enlarged canvas's
    turn cuts off (``turned:±N:crop:…``, its place in its name); None for any other window,
    a turn within the canvas (``turned:±N``) among them."""
    if not variant.startswith(TURNED_PREFIX):
        return None
    place = window_geometry(variant.removeprefix(TURNED_PREFIX).partition(":")[2])
    return None if place is None else place[:4]


def _frame(
    copy: tuple[float, float, float, float],
    mirrored: bool,
    work: tuple[float, float, float, float],
) -> Frame:
    (ql, qr, qt, qb), (wl, wr, wt, wb) = copy, work
    sx = (1 - wl - wr) / (1 - ql - qr)
    sy = (1 - wt - wb) / (1 - qt - qb)
    if mirrored:  # the copy's x maps to the work's wl + (1 - qr - x) * sx
        left, right = wl - qr * sx, wl + (1 - qr) * sx
    else:
        left, right = wl - ql * sx, wl + (1 - ql) * sx
    return Frame(left, right, wt - qt * sy, wt + (1 - qt) * sy, mirrored)


def stretch(frame: Frame, copy_size: tuple[int, int], work_size: tuple[int, int]) -> float:
    """log(horizontal / vertical scale) from the copy's pixels to the work's: 0 for a copy
    that kept the picture's proportions."""
    sx = (frame.right - frame.left) * work_size[0] / copy_size[0]
    sy = (frame.bottom - frame.top) * work_size[1] / copy_size[1]
    return math.log(sx / sy)


def same_place(a: Frame, b: Frame, tolerance: float) -> bool:
    """Whether two pairs put the copy at one place: each side within ``tolerance`` of the
    frame's width (height), and mirrored alike."""
    width, height = a.right - a.left, a.bottom - a.top
    return (
        a.mirrored == b.mirrored
        and abs(a.left - b.left) <= tolerance * width
        and abs(a.right - b.right) <= tolerance * width
        and abs(a.top - b.top) <= tolerance * height
        and abs(a.bottom - b.bottom) <= tolerance * height
    )
