"""The detail check and the look-alike rule of image matching.

Pictures whose 8×8 sketches agree but whose finer structure differs are made
here from DCT coefficients (a shared coarse part, a texture of its own each), so
the descriptor alone would match them and only the details tell them apart.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tanba.core.schemas.common import Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.image import similarity
from tanba.core.signals.image_detail import (
    coefficients16,
    crop_variant,
    detail_similarity,
    print_details,
    print_thumbnail,
    reference_coefficients,
    reference_windows,
    rotation_variant,
    window_geometry,
)
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.fingerprint.resample import resampled
from tanba.matcher.image_signal import ImageSignal
from tanba.matcher.index import LinearImageIndex
from tanba.matcher.match import Matcher, default_signals, without_print
from tanba.matcher.state import MatcherState
from tests.support import pictures
from tests.support.pictures import MAX
from tests.support.works import registered

SETTINGS = Settings.from_env({})


def test_variant_names_give_their_window_back() -> None:
    assert window_geometry("full") == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert window_geometry(crop_variant(0.05, 0.2, 0.1, 0.15)) == (0.05, 0.2, 0.1, 0.15, 0.0)
    assert window_geometry(rotation_variant(-4.0)) == (0.08, 0.08, 0.08, 0.08, -4.0)
    assert window_geometry("box0") is None  # a copy's own window: not a work's


@pytest.mark.parametrize("variant", ["full", "crop:05-20-10-15", "rot:+4", "rot:-4"])
def test_a_window_cut_from_the_thumbnail_is_the_window_the_fingerprinter_hashed(
    variant: str,
) -> None:
    """Cut from the 64 px thumbnail, the window is the full-size one (rotations turn the
    same way as Pillow's), up to the thumbnail's blur."""
    picture = pictures.picture(1, 2)
    grey = np.asarray(picture.resize((512, 384)))  # not square: proportions matter to turns
    work = image_print(
        pictures.jpeg(picture.resize((512, 384)), 512, 95), max_pixels=MAX, variants=REFERENCE
    )
    thumbnail = print_thumbnail(work)
    assert thumbnail is not None
    left, right, top, bottom, angle = window_geometry(variant) or (0, 0, 0, 0, 0)
    turned = (
        np.asarray(Image.fromarray(grey).rotate(angle, Image.Resampling.BICUBIC)) if angle else grey
    )
    h, w = turned.shape
    box = (round(left * w), round(top * h), round(w - right * w), round(h - bottom * h))
    truth = resampled([(turned, [(variant, box)])])[0]
    windows = reference_windows(thumbnail, work.width, work.height, variant)
    assert windows is not None
    centred = windows[len(windows) // 2]  # the alignment without shift or scale
    assert np.corrcoef(truth.ravel(), centred.ravel())[0, 1] > 0.97


def test_copies_keep_their_details_and_sketch_alikes_do_not() -> None:
    work = image_print(pictures.jpeg(pictures.picture(1, 2)), max_pixels=MAX, variants=REFERENCE)
    thumbnail = print_thumbnail(work)
    assert thumbnail is not None
    copy = image_print(pictures.jpeg(pictures.picture(1, 2), 300, 75), max_pixels=MAX)
    alike = image_print(pictures.jpeg(pictures.picture(1, 3), 300, 75), max_pixels=MAX)
    for query, low, high in ((copy, 0.93, 1.0), (alike, -1.0, 0.8)):
        details = print_details(query)
        assert details is not None
        assert query.hashes[0].variant == "full"
        found = detail_similarity(details[0], thumbnail, work.width, work.height, "full")
        assert found is not None and low <= found <= high
    # The descriptor alone cannot tell the sketch-alike apart: both score as a copy.
    full = work.descriptor_rows()[0]
    assert similarity(full, alike.descriptor_rows()[0])[0] > SETTINGS.image_min_similarity


@pytest.mark.parametrize("index", ["linear", "fast"])
def test_a_sketch_alike_is_refused_unless_its_print_predates_details(index: str) -> None:
    signal = ImageSignal(SETTINGS, LinearImageIndex() if index == "linear" else None)
    signal.add("w", pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2)), REFERENCE))
    copy = pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2), 300, 75))
    alike = pictures.fingerprint(pictures.jpeg(pictures.picture(1, 3), 300, 75))
    found = signal.match(copy)
    assert [m.work_id for m in found] == ["w"]
    assert found[0].detail.detail is not None and found[0].detail.detail >= 0.93
    assert signal.match(alike) == []
    assert alike.image is not None
    older = alike.model_copy(
        update={"image": alike.image.model_copy(update={"detail": "", "details_b64": ""})}
    )
    assert [m.work_id for m in signal.match(older)] == ["w"]  # no details: descriptor decides


def test_a_window_that_looks_like_many_works_is_no_evidence() -> None:
    """Three works whose sketches are near one another (0.94 to 0.96 apart, so three
    pictures) and a copy of none of them that looks like all three: allowed one
    look-alike, it is evidence for none (the detail check and the weak pairs' re-scoring,
    which the detail check guards, off: the rule alone)."""
    settings = SETTINGS.with_(
        image_min_detail=0.0, image_max_lookalikes=1, image_aligned_similarity=0.0
    )
    signal = ImageSignal(settings)
    for k in range(3):
        work = pictures.picture(1, 10 + k, 0.3, mix=20 + k, eps=0.2)
        signal.add(f"w{k}", pictures.fingerprint(pictures.jpeg(work), REFERENCE))
    plain = _unturned(pictures.fingerprint(pictures.jpeg(pictures.picture(1, 99, 0.0), 300, 75)))
    assert signal.match(plain) == []
    counted = ImageSignal(settings.with_(image_max_lookalikes=0), signal.index)
    assert len(counted.match(plain)) == 3


def _unturned(fp: Fingerprint) -> Fingerprint:
    """``fp`` without its turned windows (``turned:±N``), rows of every table kept in step.

    With the detail check off, a turned window of this synthetic copy came within 0.9452
    of one work's rotated window (its details 0.47 apart, which the check would refuse):
    a window like one work, which the look-alike rule rightly lets pass. The rule is
    tested on the windows that look like all three."""
    image = fp.image
    assert image is not None
    keep = [i for i, h in enumerate(image.hashes) if not h.variant.startswith("turned:")]
    descriptors = np.frombuffer(base64.b64decode(image.descriptors_b64), np.int8).reshape(
        len(image.hashes), -1
    )
    details = np.frombuffer(base64.b64decode(image.details_b64), np.int8).reshape(
        len(image.hashes), -1
    )
    return fp.model_copy(
        update={
            "image": image.model_copy(
                update={
                    "hashes": [image.hashes[i] for i in keep],
                    "descriptors_b64": base64.b64encode(descriptors[keep].tobytes()).decode(),
                    "details_b64": base64.b64encode(details[keep].tobytes()).decode(),
                }
            )
        }
    )


def test_one_picture_registered_several_times_still_matches() -> None:
    """A catalogue may hold a picture at several sizes: they are one look-alike, not three."""
    signal = ImageSignal(SETTINGS)
    for k, size in enumerate((512, 400, 300)):
        signal.add(
            f"w{k}",
            pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2), size, 95), REFERENCE),
        )
    copy = pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2), 250, 75))
    assert sorted(m.work_id for m in signal.match(copy)) == ["w0", "w1", "w2"]


def test_the_matcher_keeps_a_work_s_thumbnail_beside_it_and_after_a_restart(
    tmp_path: Path,
) -> None:
    work = registered("w", pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2)), REFERENCE))
    kept = without_print(work)
    assert kept.fingerprint.image is not None and kept.fingerprint.image.hashes == []
    assert print_thumbnail(kept.fingerprint.image) is not None
    state = MatcherState(tmp_path / "state")
    matcher = Matcher(SETTINGS, default_signals(SETTINGS, state.images, state.works), state.works)
    matcher.add(work)
    state.save({0: 1})
    state.close()
    reopened = MatcherState(tmp_path / "state")
    signals = default_signals(SETTINGS, reopened.images, reopened.works)
    restarted = Matcher(SETTINGS, signals, reopened.works)
    copy = pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2), 300, 75))
    found = restarted.match(copy)
    assert [m.work.work_id for m in found] == ["w"]
    assert found[0].detail.detail is not None  # checked against the saved thumbnail
    assert (
        restarted.match(pictures.fingerprint(pictures.jpeg(pictures.picture(1, 3), 300, 75))) == []
    )


@pytest.mark.parametrize("variant", ["full", "crop:05-20-10-15", "crop:25-00-00-25"])
def test_the_fast_cut_gives_the_reference_cut_s_coefficients(variant: str) -> None:
    """reference_coefficients folds sampling into the DCT: the same numbers as sampling
    each window (reference_windows) and transforming it."""
    thumbnail = np.random.default_rng(0).integers(0, 256, (64, 64)).astype(np.uint8)
    fast = reference_coefficients(thumbnail, 640, 480, variant)
    windows = reference_windows(thumbnail, 640, 480, variant)
    assert fast is not None and windows is not None
    np.testing.assert_allclose(fast, coefficients16(windows), rtol=0, atol=1e-6)
