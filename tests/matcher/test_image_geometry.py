"""The geometry test of image matching: a window pair must keep the copy's proportions.

The descriptor and the details see windows resampled to 32 × 32, blind to their
shape: a picture squeezed to another shape matches them as well as its copy does.
No copy of a work can be the work's picture at other proportions, so such a pair is
no evidence; a copy resized, cropped or mirrored keeps them and still matches.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageOps

from tanba.core.settings import Settings, SettingsError
from tanba.core.signals.image_detail import crop_variant
from tanba.core.signals.image_geometry import (
    Frame,
    implied_frame,
    same_place,
    stretch,
    turned_frame,
)
from tanba.fingerprint.image import REFERENCE
from tanba.matcher.image_signal import (
    ImageEvidence,
    ImageSignal,
    Pair,
    WorkChecks,
    decide,
)
from tests.support import pictures

SETTINGS = Settings.from_env({})


def test_a_pair_of_the_same_windows_places_the_copy_on_the_work() -> None:
    assert implied_frame("full", "full") == Frame(0.0, 1.0, 0.0, 1.0, False)
    # The copy's inner window is the work's: the copy is the work, whatever the window.
    inner = crop_variant(0.08, 0.08, 0.08, 0.08)
    assert implied_frame(inner, inner) == pytest.approx(Frame(0.0, 1.0, 0.0, 1.0, False))
    # A copy's mirrored window names where it is on the copy before the mirror.
    assert implied_frame(f"{crop_variant(0.0, 0.05, 0.0, 0.0)}-mirror", "full") == (
        pytest.approx(Frame(-0.05 / 0.95, 1.0, 0.0, 1.0, True))
    )
    # A copy cropped: its whole picture is the work's window.
    assert implied_frame("full", crop_variant(0.2, 0.05, 0.1, 0.15)) == pytest.approx(
        Frame(0.2, 0.95, 0.1, 0.85, False)
    )
    assert implied_frame("box0", "full") is None  # a content box printed before it was placed
    # A content box's name gives its place on the copy, as a crop's does: the page around it
    # lies beyond the work.
    box = "box0:" + crop_variant(0.2, 0.2, 0.25, 0.25)
    assert implied_frame(box, "full") == pytest.approx(Frame(-1 / 3, 4 / 3, -0.5, 1.5, False))
    assert implied_frame(f"{box}-mirror", "full") == pytest.approx(
        Frame(-1 / 3, 4 / 3, -0.5, 1.5, True)
    )
    assert implied_frame("sub:" + crop_variant(0.05, 0.0, 0.0, 0.0), "full") is not None


def test_a_small_content_box_keeps_its_proportions_in_its_name() -> None:
    """A box's place is named in hundredths of a percent: a picture 8.8% by 7.2% of a page
    in whole percentages (8 by 8) would stretch by 20%, and the geometry test would reject
    the copy (bench.page_photos at 120 px: 30 of 64 pictures found so, 42 placed exactly)."""
    shares = (0.436, 0.476, 0.454, 0.474)
    copy_size, work_size = (1000, 1000), (880, 720)  # the picture: 88 x 72 px of the page
    assert crop_variant(*shares, decimals=2) == "crop:43.60-47.60-45.40-47.40"
    precise = implied_frame("box0:" + crop_variant(*shares, decimals=2), "full")
    whole = implied_frame("box0:" + crop_variant(*shares), "full")
    assert precise is not None and whole is not None
    assert stretch(precise, copy_size, work_size) == pytest.approx(0.0, abs=1e-9)
    assert stretch(whole, copy_size, work_size) == pytest.approx(math.log(11 / 9))


def test_a_tall_strip_against_a_wide_one_stretches_the_copy() -> None:
    frame = implied_frame(crop_variant(0.0, 0.0, 0.12, 0.24), crop_variant(0.0, 0.0, 0.0, 0.1))
    assert frame is not None
    assert stretch(frame, (100, 100), (100, 100)) == pytest.approx(math.log(0.64 / 0.9))
    kept = implied_frame("full", "full")
    assert kept is not None
    assert stretch(kept, (400, 300), (800, 600)) == pytest.approx(0.0)
    assert stretch(kept, (400, 300), (800, 800)) == pytest.approx(math.log(3 / 4))
    assert same_place(kept, Frame(0.03, 1.02, -0.02, 0.99, False), 0.06)
    assert not same_place(kept, Frame(0.0, 1.0, 0.0, 1.0, True), 0.06)  # one mirrored
    assert not same_place(kept, Frame(0.1, 1.1, 0.0, 1.0, False), 0.06)


def _checks(size: tuple[int, int]) -> WorkChecks:
    """Checks against one work of ``size`` whose details are not checked (no copy details)."""
    return WorkChecks(None, lambda _: (np.zeros((64, 64), np.uint8), *size))


def test_decide_sets_aside_a_stretching_pair_and_keeps_one_that_is_not() -> None:
    """The false matches of bench/real_catalogue.py in small: a dialog frame's strip (the
    copy's middle window) against an icon's window of other proportions."""
    middle = crop_variant(0.0, 0.0, 0.12, 0.24)
    windows = ("full", middle)
    stretched = ImageEvidence(
        pairs={"w": [Pair(0.99, 1, 3, crop_variant(0.0, 0.0, 0.0, 0.1))]},
        windows=windows,
        width=100,
        height=100,
    )
    assert decide(SETTINGS, stretched, _checks((100, 100))) == []
    off = SETTINGS.with_(image_max_stretch=0.0)
    assert [m.work_id for m in decide(off, stretched, _checks((100, 100)))] == ["w"]
    # The same pair against a work that much wider is a copy's: the proportions are kept.
    assert [m.work_id for m in decide(SETTINGS, stretched, _checks((225, 160)))] == ["w"]
    # A shard's answer that predates the test names no windows: not judged.
    older = ImageEvidence(pairs=stretched.pairs)
    assert [m.work_id for m in decide(SETTINGS, older, _checks((100, 100)))] == ["w"]


def test_a_pair_through_a_content_box_may_stretch_a_little_more() -> None:
    """A box is measured in the pixels of a small image (a pixel a side is 5% of a 40-px
    box): it may stretch the copy by BOX_STRETCH_SLACK more than a grid window; the false
    pairs through boxes of bench/real_catalogue.py stretch 0.18 and more."""
    windows = ("full", "box0:" + crop_variant(0.25, 0.25, 0.25, 0.25, decimals=2))
    whole = ImageEvidence(
        pairs={"w": [Pair(0.99, 0, 1, "full")]}, windows=windows, width=100, height=100
    )
    box = ImageEvidence(
        pairs={"w": [Pair(0.99, 1, 1, "full")]}, windows=windows, width=100, height=100
    )
    assert SETTINGS.image_max_stretch < math.log(1.12) < SETTINGS.image_max_stretch + 0.05
    assert decide(SETTINGS, whole, _checks((112, 100))) == []  # stretched by 0.113
    assert [m.work_id for m in decide(SETTINGS, box, _checks((112, 100)))] == ["w"]
    assert decide(SETTINGS, box, _checks((120, 100))) == []  # by 0.182


def test_a_turned_window_is_judged_by_its_proportions_alone() -> None:
    """A turned window is the copy turned back and cut as a work's inner window: its pair
    places the copy for the stretch (a copy rotated in its own canvas keeps its proportions),
    not for the grey checks (its content is turned against the copy's thumbnail)."""
    inner = crop_variant(0.08, 0.08, 0.08, 0.08)
    assert implied_frame("turned:+6", "full") is None
    assert turned_frame("full", "full") is None and turned_frame("turned:-9", "box0") is None
    assert turned_frame("turned:+6", inner) == pytest.approx(Frame(0.0, 1.0, 0.0, 1.0, False))
    windows = ("full", "turned:-9")
    turned = ImageEvidence(
        pairs={"w": [Pair(0.99, 1, 3, inner)]}, windows=windows, width=160, height=90
    )
    assert [m.work_id for m in decide(SETTINGS, turned, _checks((320, 180)))] == ["w"]
    # A wide copy's turned window against a square work's inner window: squeezed by 0.58.
    assert decide(SETTINGS, turned, _checks((100, 100))) == []
    off = SETTINGS.with_(image_max_stretch=0.0)
    assert [m.work_id for m in decide(off, turned, _checks((100, 100)))] == ["w"]


def test_an_enlarged_turned_window_is_judged_at_the_place_its_name_gives() -> None:
    """A window cut from the picture an enlarged canvas held (``turned:±N:crop:…``) is that
    part of the turned copy: its proportions, not the canvas's, are the picture's."""
    inner = crop_variant(0.08, 0.08, 0.08, 0.08)
    square = "turned:+9:crop:20.00-20.00-10.00-10.00"  # 120 × 120 px of a 200 × 150 canvas
    assert tuple(turned_frame(square, inner) or ()) == pytest.approx(
        (-0.2, 1.2, -0.025, 1.025, False)
    )
    windows = ("full", square)
    turned = ImageEvidence(
        pairs={"w": [Pair(0.99, 1, 1, inner)]}, windows=windows, width=200, height=150
    )
    assert [m.work_id for m in decide(SETTINGS, turned, _checks((100, 100)))] == ["w"]
    assert decide(SETTINGS, turned, _checks((200, 150))) == []  # the canvas's proportions


def test_decide_asks_several_windows_at_one_place_when_told() -> None:
    windows = ("full", crop_variant(0.08, 0.08, 0.08, 0.08), "box0")
    inner = crop_variant(0.08, 0.08, 0.08, 0.08)
    two = SETTINGS.with_(image_min_windows=2)
    agreeing = ImageEvidence(
        pairs={"w": [Pair(0.99, 0, 1, "full"), Pair(0.98, 1, 2, inner)]},
        windows=windows, width=100, height=100,
    )  # fmt: skip
    alone = ImageEvidence(
        pairs={"w": [Pair(0.99, 0, 1, "full"), Pair(0.98, 1, 2, "full")]},
        windows=windows, width=100, height=100,
    )  # fmt: skip
    box = ImageEvidence(
        pairs={"w": [Pair(0.99, 2, 1, "full")]}, windows=windows, width=100, height=100
    )
    assert [m.work_id for m in decide(two, agreeing, _checks((100, 100)))] == ["w"]
    assert decide(two, alone, _checks((100, 100))) == []  # the inner window is elsewhere
    assert [m.work_id for m in decide(two, box, _checks((100, 100)))] == ["w"]  # place unknown
    assert [
        m.work_id for m in decide(SETTINGS.with_(image_min_windows=1), alone, _checks((100, 100)))
    ] == ["w"]


def test_a_picture_squeezed_to_another_shape_is_not_its_copy_and_copies_still_match() -> None:
    """End to end: the squeezed picture passes the descriptor and the details (its windows,
    resampled, are the work's), and only the geometry test sets it aside."""
    work = pictures.picture(1, 2)
    signal = ImageSignal(SETTINGS)
    signal.add("w", pictures.fingerprint(pictures.jpeg_at(work, (512, 512)), REFERENCE))
    squeezed = pictures.fingerprint(pictures.jpeg_at(work, (400, 240)))
    assert signal.match(squeezed) == []
    unjudged = ImageSignal(SETTINGS.with_(image_max_stretch=0.0), signal.index, signal.thumbnail)
    assert [m.work_id for m in unjudged.match(squeezed)] == ["w"]
    for copy in (
        pictures.jpeg_at(work, (300, 300)),
        pictures.jpeg_at(ImageOps.mirror(work), (300, 300)),
        pictures.jpeg_at(work.crop((40, 10, 500, 470)), (300, 300)),
    ):
        assert [m.work_id for m in signal.match(pictures.fingerprint(copy))] == ["w"]


def test_a_picture_squeezed_inside_a_page_is_set_aside_through_its_content_box() -> None:
    """A picture shown inside a page matches through its content box, whose name gives its
    place: the box is judged as any window is, so the picture squeezed to another shape on
    the page is no copy (bench/real_catalogue.py: a sign's box against building sprites)."""
    work = pictures.picture(1, 2)
    signal = ImageSignal(SETTINGS)
    signal.add("w", pictures.fingerprint(pictures.jpeg_at(work, (512, 512)), REFERENCE))

    def page(size: tuple[int, int]) -> Image.Image:
        canvas = Image.new("RGB", (800, 600), "white")
        canvas.paste(work.convert("RGB").resize(size), (250, 150))
        return canvas

    kept = pictures.fingerprint(pictures.jpeg_at(page((300, 300)), (800, 600)))
    squeezed = pictures.fingerprint(pictures.jpeg_at(page((400, 240)), (800, 600)))
    assert [m.work_id for m in signal.match(kept)] == ["w"]
    assert signal.match(squeezed) == []
    unjudged = ImageSignal(SETTINGS.with_(image_max_stretch=0.0), signal.index, signal.thumbnail)
    assert [m.work_id for m in unjudged.match(squeezed)] == ["w"]


@pytest.mark.parametrize(
    ("env", "value"), [("TANBA_IMAGE_MAX_STRETCH", "-0.1"), ("TANBA_IMAGE_MIN_WINDOWS", "0")]
)
def test_the_geometry_settings_refuse_values_that_mean_nothing(env: str, value: str) -> None:
    with pytest.raises(SettingsError, match=env):
        Settings.from_env({env: value})
