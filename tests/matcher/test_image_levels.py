"""The grey-level check of image matching: a copy keeps the work's greys up to brightness and contrast.

The descriptor and the details are blind to brightness and contrast, so a light-blue
halo passed for a black dot and a dark porthole for a bright green disc. Where a window
pair places the copy, its thumbnail's cells must be a moderate brightness and contrast
change of the work's: real copies made darker, paler, more or less contrasted, greyscale
or as a web JPEG stay within the threshold; the same shape in other greys does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from tanba.core.settings import Settings, SettingsError
from tanba.core.signals.image_geometry import Frame
from tanba.core.signals.image_levels import level_residual, level_residual_reference
from tanba.fingerprint.image import QUERY, REFERENCE
from tanba.matcher.image_signal import ImageEvidence, Pair, WorkChecks, decide
from tests.support.pictures import PLACED, WHOLE, disc, web_thumbnail

SETTINGS = Settings.from_env({})
MAX = SETTINGS.image_max_levels


@pytest.mark.parametrize(("frame", "variant"), PLACED)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_fast_residual_is_the_reference_one(frame: Frame, variant: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    copy, work = (rng.integers(0, 256, (64, 64)).astype(np.uint8) for _ in range(2))
    fast = level_residual(copy, work, frame, variant)
    slow = level_residual_reference(copy, work, frame, variant)
    assert fast is not None and slow is not None
    assert fast == pytest.approx(slow, abs=1e-9)
    assert fast > 0


def test_golden_residuals() -> None:
    black = disc(0)
    assert level_residual(black, black, WHOLE, "full") == 0.0
    # A light disc against a black one: no allowed change maps one onto the other.
    assert level_residual(disc(165), black, WHOLE, "full") == pytest.approx(24.158, abs=0.001)
    # The same disc 25% darker everywhere is a brightness change: nothing left.
    assert level_residual(disc(0, 191), black, WHOLE, "full") == pytest.approx(0.0, abs=1.0)
    # Unknown places are not judged: a copy's content box, an empty frame.
    assert level_residual(black, black, WHOLE, "box0") is None
    assert level_residual(black, black, Frame(0.5, 0.5, 0.0, 1.0, False), "full") is None
    # A window covering under half of the copy (a small content box: the copy spreads over
    # three times the work's width) is not judged; at half it is.
    assert level_residual(disc(165), black, Frame(-1.0, 2.0, 0.0, 1.0, False), "full") is None
    assert level_residual(disc(165), black, Frame(-0.5, 1.5, 0.0, 1.0, False), "full") is not None


def test_real_copies_keep_their_grey_levels_unrelated_photos_do_not(photos: list[Path]) -> None:
    works = []
    for path in photos[:4]:
        with Image.open(path) as image:
            works.append(image.convert("RGB").resize((1280, 1280 * image.height // image.width)))
    registered = [web_thumbnail(w, REFERENCE) for w in works]
    for work, thumbnail in zip(works, registered, strict=True):
        copies = [
            work.convert("L"),
            ImageEnhance.Brightness(work).enhance(1.25),
            ImageEnhance.Brightness(work).enhance(0.75),
            ImageEnhance.Contrast(work).enhance(1.25),
            ImageEnhance.Contrast(work).enhance(0.75),
            work.resize((400, 400 * work.height // work.width)),
        ]
        for copy in copies:
            residual = level_residual(web_thumbnail(copy, QUERY), thumbnail, WHOLE, "full")
            assert residual is not None and residual <= MAX / 2
    apart = [
        level_residual(registered[i], registered[j], WHOLE, "full")
        for i in range(len(registered))
        for j in range(len(registered))
        if i != j
    ]
    assert min(r for r in apart if r is not None) > MAX


def _checks(copy: np.ndarray, work: np.ndarray) -> WorkChecks:
    """Checks against one 128-px work (no copy details: the detail check is not tested)."""
    return WorkChecks(None, lambda _: (work, 128, 128), copy)


def test_a_pair_whose_greys_differ_is_no_evidence() -> None:
    """bench/real_catalogue.py's false match in small: a light-blue halo's whole picture
    against a black dot's, their sketches alike."""
    pair = ImageEvidence(
        pairs={"w": [Pair(0.97, 0, 4, "full")]}, windows=("full",), width=128, height=128
    )
    halo, dot = disc(165), disc(0)

    def matched(settings: Settings, checks: WorkChecks) -> list[str]:
        return [m.work_id for m in decide(settings, pair, checks)]

    assert matched(SETTINGS, _checks(halo, dot)) == []
    assert matched(SETTINGS, _checks(disc(0, 191), dot)) == ["w"]  # the dot darkened
    assert matched(SETTINGS.with_(image_max_levels=0.0), _checks(halo, dot)) == ["w"]  # off
    # A copy printed before the check (no thumbnail of its own): not judged.
    assert matched(SETTINGS, WorkChecks(None, lambda _: (dot, 128, 128))) == ["w"]
    # A pair whose place is unknown (a content box): not judged.
    boxed = ImageEvidence(
        pairs={"w": [Pair(0.97, 0, 4, "full")]}, windows=("box0",), width=128, height=128
    )
    assert [m.work_id for m in decide(SETTINGS, boxed, _checks(halo, dot))] == ["w"]


def test_the_level_setting_refuses_a_negative_threshold() -> None:
    with pytest.raises(SettingsError, match="TANBA_IMAGE_MAX_LEVELS"):
        Settings.from_env({"TANBA_IMAGE_MAX_LEVELS": "-1"})
