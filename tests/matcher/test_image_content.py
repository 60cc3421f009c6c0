"""The simple-window rule of image matching: a small work's lone pair must show grey levels.

A disc, a 2 × 2 checker or a frame on blank ground, drawn in two or three greys, has
windows whose sketch and details agree with many unrelated pictures' (a planet and a
record button). A small work whose only evidence is such a window is not matched; the
same window confirmed by another pair, a larger work, or a window with many grey
levels still is.
"""

from __future__ import annotations

import numpy as np
import pytest

from tanba.core.settings import Settings, SettingsError
from tanba.core.signals.image_content import window_entropy, window_entropy_reference
from tanba.core.signals.image_detail import crop_variant, rotation_variant
from tanba.matcher.image_signal import ImageEvidence, Lookalike, Pair, WorkChecks, decide

SETTINGS = Settings.from_env({})
VARIANTS = ["full", crop_variant(0.25, 0.0, 0.0, 0.25), crop_variant(0.05, 0.1, 0.0, 0.2)]
VARIANTS += [rotation_variant(-4.0), rotation_variant(9.0)]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_entropy_is_the_reference_one(variant: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.normal(0, 12, (64, 64)), axis=1) + 128  # many levels, not noise
    thumbnail = np.clip(smooth, 0, 255).astype(np.uint8)
    size = (int(rng.integers(20, 900)), int(rng.integers(20, 900)))
    fast = window_entropy(thumbnail, *size, variant)
    slow = window_entropy_reference(thumbnail, *size, variant)
    assert fast is not None and slow is not None
    # A pixel on a bin's edge may fall either side of it (the sums are not in one order).
    assert fast == pytest.approx(slow, abs=0.02)
    assert 1.0 < fast <= 4.0


def test_golden_entropies() -> None:
    flat = np.full((64, 64), 200, np.uint8)
    assert window_entropy(flat, 48, 48, "full") == 0.0
    halves = flat.copy()
    halves[:, :32] = 0
    assert window_entropy(halves, 48, 48, "full") == pytest.approx(1.0)
    # The right half alone is flat: a window's own levels, not the picture's.
    assert window_entropy(halves, 48, 48, crop_variant(0.5, 0.0, 0.0, 0.0)) == 0.0
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))  # every level, evenly
    assert window_entropy(ramp, 48, 48, "full") == pytest.approx(4.0, abs=0.01)
    assert window_entropy(ramp, 48, 48, "box0") is None  # a copy's window: not a work's
    assert window_entropy_reference(ramp, 48, 48, "box0") is None


def _disc() -> np.ndarray:
    """A record button's thumbnail: a dark disc on white, two greys."""
    y, x = np.mgrid[:64, :64]
    return np.where(np.hypot(x - 31.5, y - 31.5) < 26, 20, 255).astype(np.uint8)


def _checks(thumbnail: np.ndarray, size: tuple[int, int]) -> WorkChecks:
    """Checks against one work (no copy details: the detail check is not what is tested)."""
    return WorkChecks(None, lambda _: (thumbnail, *size))


def _matched(settings: Settings, evidence: ImageEvidence, checks: WorkChecks) -> list[str]:
    return [m.work_id for m in decide(settings, evidence, checks)]


def test_a_small_simple_work_is_not_matched_on_one_pair_alone() -> None:
    """The false matches of bench/real_catalogue.py in small: a planet's window against a
    48-px record button's whole picture, the one pair between them."""
    lone = ImageEvidence(
        pairs={"w": [Pair(0.96, 0, 5, "full")]}, windows=("full",), width=160, height=160
    )
    assert _matched(SETTINGS, lone, _checks(_disc(), (48, 48))) == []
    # The rule off, or a work of 64 px or more: the pair decides as before.
    assert _matched(SETTINGS.with_(image_min_entropy=0.0), lone, _checks(_disc(), (48, 48))) == [
        "w"
    ]
    assert _matched(SETTINGS, lone, _checks(_disc(), (64, 64))) == ["w"]
    # A small work whose window shows many grey levels: its one pair is evidence.
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    assert _matched(SETTINGS, lone, _checks(ramp, (48, 48))) == ["w"]
    # A print without a thumbnail (before the detail check): not judged.
    assert _matched(SETTINGS, lone, WorkChecks(None, lambda _: None)) == ["w"]


def test_a_small_simple_work_confirmed_by_a_second_pair_still_matches() -> None:
    """A copy of a simple icon gives several pairs (whole, inner, upper windows): only a
    lone pair is set aside."""
    inner = crop_variant(0.08, 0.08, 0.08, 0.08)
    two = ImageEvidence(
        pairs={"w": [Pair(0.97, 0, 4, "full"), Pair(0.96, 1, 6, inner)]},
        windows=("full", inner), width=48, height=48,
    )  # fmt: skip
    assert _matched(SETTINGS, two, _checks(_disc(), (48, 48))) == ["w"]


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("TANBA_IMAGE_MIN_ENTROPY", "-0.5"),
        ("TANBA_IMAGE_MIN_ENTROPY", "4.5"),
        ("TANBA_IMAGE_SMALL_SIDE", "-1"),
    ],
)
def test_the_simple_window_settings_refuse_values_that_mean_nothing(env: str, value: str) -> None:
    with pytest.raises(SettingsError, match=env):
        Settings.from_env({env: value})


def test_enlarged_turns_of_a_plain_inner_window_are_plain_too() -> None:
    """A disc's inner window looks like too many registered pictures to be evidence; turned a
    few degrees and cut from the middle of the canvas it is the disc again, though each such
    window alone gathers too few hits to be counted plain: they are set aside with it. The
    turns within the canvas still count (small sprites are found through them), and a copy
    whose inner window is not plain (a tilted photo, its corners blank) matches through any."""
    inner = crop_variant(0.08, 0.08, 0.08, 0.08)
    windows = ("full", inner, "turned:-6", "turned:+6:crop:11.79-11.79-11.79-11.79")
    enlarged = {"w": [Pair(0.95, 3, 4, rotation_variant(4.0))]}
    within = {"w": [Pair(0.96, 2, 4, inner)]}
    rng = np.random.default_rng(4)
    alike = [
        Lookalike(1, 3, f"other{k}", "full", rng.integers(-127, 128, 63).astype(np.int8))
        for k in range(3)
    ]
    checks = WorkChecks(None, lambda _: None)

    def evidence(pairs: dict[str, list[Pair]], lookalikes: list[Lookalike]) -> ImageEvidence:
        return ImageEvidence(lookalikes, pairs, "", windows, 256, 256)

    assert _matched(SETTINGS, evidence(enlarged, alike), checks) == []
    assert _matched(SETTINGS, evidence(within, alike), checks) == ["w"]
    assert _matched(SETTINGS, evidence(enlarged, []), checks) == ["w"]
