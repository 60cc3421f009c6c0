"""The texture check of image matching: a copy shows no far finer texture than the work.

The descriptor, the details and the grey-level check (cells 4 × 4) all see a shape in
its greys, so a dark planet passed for a flat black disc and a radar's lines for a black
circle. Where a window pair places the copy, the copy's texture (a low quantile of its
gradient magnitudes, so a shape's edges do not count) may exceed twice the work's only
by ``image_max_texture`` grey levels: real copies (brightness, contrast, greyscale,
smaller, a web JPEG) stay below; a textured disc against a flat one does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from tanba.core.settings import Settings, SettingsError
from tanba.core.signals.image_geometry import Frame
from tanba.core.signals.image_levels import texture_excess, texture_excess_reference
from tanba.fingerprint.image import QUERY, REFERENCE
from tanba.matcher.image_signal import ImageEvidence, Pair, WorkChecks, decide
from tests.support.pictures import PLACED, WHOLE, disc, web_thumbnail

SETTINGS = Settings.from_env({})
MAX = SETTINGS.image_max_texture


def _disc(inside: np.ndarray | int, outside: int = 255) -> np.ndarray:
    """A disc filling most of the picture (the corners outside), as a planet's picture does."""
    return disc(inside, outside, radius=38)


def _planet(seed: int = 0) -> np.ndarray:
    """A dark disc with a rough surface: 4-px blocks of 20-100 grey around 60."""
    blocks = np.random.default_rng(seed).integers(20, 101, (16, 16))
    return _disc(np.kron(blocks, np.ones((4, 4), np.int64)))


@pytest.mark.parametrize(("frame", "variant"), PLACED)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_fast_excess_is_the_reference_one(frame: Frame, variant: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    smooth = np.kron(rng.integers(0, 256, (8, 8)), np.ones((8, 8), np.int64)).astype(np.uint8)
    rough = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    for copy, work in ((rough, smooth), (smooth, rough), (_planet(seed), _disc(0))):
        fast = texture_excess(copy, work, frame, variant)
        slow = texture_excess_reference(copy, work, frame, variant)
        assert fast is not None and slow is not None
        assert fast == pytest.approx(slow, abs=1e-9)
    assert texture_excess(rough, smooth, frame, variant) > MAX  # type: ignore[operator]


def test_golden_excesses() -> None:
    flat = _disc(0)
    assert texture_excess(flat, flat, WHOLE, "full") == 0.0  # a flat disc has no texture
    # The rough planet against the flat disc: its surface is texture the disc lacks.
    assert texture_excess(_planet(), flat, WHOLE, "full") == pytest.approx(37.0, abs=0.001)
    # The other way round a copy shows less texture than the work: never rejected.
    assert texture_excess(flat, _planet(), WHOLE, "full") == pytest.approx(-83.25, abs=0.001)
    # Unknown places are not judged: a copy's content box, an empty frame.
    assert texture_excess(flat, flat, WHOLE, "box0") is None
    assert texture_excess(flat, flat, Frame(0.5, 0.5, 0.0, 1.0, False), "full") is None


def test_real_copies_show_no_texture_their_work_lacks(photos: list[Path]) -> None:
    for path in photos[:4]:
        with Image.open(path) as image:
            work = image.convert("RGB").resize((1280, 1280 * image.height // image.width))
        registered = web_thumbnail(work, REFERENCE)
        copies = [
            work.convert("L"),
            ImageEnhance.Brightness(work).enhance(1.25),
            ImageEnhance.Brightness(work).enhance(0.75),
            ImageEnhance.Contrast(work).enhance(1.25),
            ImageEnhance.Contrast(work).enhance(0.75),
            work.resize((400, 400 * work.height // work.width)),
        ]
        for copy in copies:
            excess = texture_excess(web_thumbnail(copy, QUERY), registered, WHOLE, "full")
            assert excess is not None and excess <= 0.0  # well under MAX: a copy's own margin


def _checks(copy: np.ndarray, work: np.ndarray) -> WorkChecks:
    """Checks against one 128-px work (no copy details: the detail check is not tested)."""
    return WorkChecks(None, lambda _: (work, 128, 128), copy)


def test_a_textured_shape_against_a_flat_one_is_no_evidence() -> None:
    """bench/real_catalogue.py's false match in small: a dark planet's whole picture against
    a flat black disc's, their sketches and cells alike."""
    pair = ImageEvidence(
        pairs={"w": [Pair(0.97, 0, 4, "full")]}, windows=("full",), width=128, height=128
    )
    planet, disc = _planet(), _disc(0)

    def matched(settings: Settings, checks: WorkChecks) -> list[str]:
        return [m.work_id for m in decide(settings, pair, checks)]

    assert matched(SETTINGS, _checks(planet, disc)) == []
    # The grey-level check alone lets it through: the cells are a brightness change.
    assert matched(SETTINGS.with_(image_max_texture=0.0), _checks(planet, disc)) == ["w"]
    assert matched(SETTINGS, _checks(_disc(0, 191), disc)) == ["w"]  # the disc darkened
    assert matched(SETTINGS, _checks(disc, planet)) == ["w"]  # a copy smoothed: kept
    # A copy printed before the check (no thumbnail of its own): not judged.
    assert matched(SETTINGS, WorkChecks(None, lambda _: (disc, 128, 128))) == ["w"]


def test_the_texture_setting_refuses_a_negative_threshold() -> None:
    with pytest.raises(SettingsError, match="TANBA_IMAGE_MAX_TEXTURE"):
        Settings.from_env({"TANBA_IMAGE_MAX_TEXTURE": "-1"})
