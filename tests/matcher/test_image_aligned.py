"""Weak pairs scored at their best alignment: crops that fall between a work's windows.

A crop whose sides lie between the cuts of the work's window grid pairs each of its
windows with a work's window a few percent off, so no pair's descriptors reach the bar
(0.94), though every other test passes. Sketched from the work's thumbnail at the
detail check's best alignment, the pair agrees by 0.97 or more. The route is taken only
for works large enough and windows showing enough grey levels (icons and symbols are
where sketches agree by chance), and it decides over shards as one matcher decides it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.schemas.gather import ShardAnswered
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings, SettingsError
from tanba.core.signals.image import ImagePrint
from tanba.core.signals.image_detail import aligned_similarity, print_thumbnail
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.matcher.gather import answer_of, answered
from tanba.matcher.match import Matcher, decided
from tests.support.media import cut, jpeg_bytes, photo_1024
from tests.support.works import registered

MAX = 50_000_000
SETTINGS = Settings.from_env({})
OFF = SETTINGS.with_(image_aligned_similarity=0.0)
# Crops found by a search over cuts of 0 to 21% a side of the first six photos at 1,024 px:
# with the route the work is matched (and no other), without it nothing is.
CROPS = {
    0: (0.14, 0.14, 0.14, 0.14),
    1: (0.14, 0.14, 0.14, 0.14),
    5: (0.07, 0.14, 0.14, 0.14),
}


def _work_print(path: Path) -> ImagePrint:
    return image_print(jpeg_bytes(photo_1024(path), 95), max_pixels=MAX, variants=REFERENCE)


def _work(work_id: str, image: ImagePrint) -> Work:
    return registered(work_id, Fingerprint(media=IMAGE, sha256="0" * 64, image=image))


def _copy(path: Path, sides: tuple[float, float, float, float]) -> Fingerprint:
    data = jpeg_bytes(cut(photo_1024(path), *sides))
    return Fingerprint(media=IMAGE, sha256="0" * 64, image=image_print(data, max_pixels=MAX))


def _matcher(settings: Settings, photos: list[Path]) -> Matcher:
    matcher = Matcher(settings)
    for i, path in enumerate(photos[:6]):
        matcher.add(_work(f"w{i}", _work_print(path)))
    return matcher


def _found(matcher: Matcher, fp: Fingerprint) -> list[str]:
    return [m.work.work_id for m in matcher.match(fp)]


def test_a_window_s_sketch_cut_from_the_thumbnail_agrees_with_its_descriptor(
    photos: list[Path],
) -> None:
    """Every window of a work, sketched from the work's 64-px thumbnail, agrees with the
    descriptor its print holds (the thumbnail blurs it a little); another photo's windows
    do not agree as well."""
    work, other = _work_print(photos[0]), _work_print(photos[1])
    thumbnail = print_thumbnail(work)
    assert thumbnail is not None
    own, others = work.descriptor_rows(), other.descriptor_rows()
    scores, strangers = [], []
    for k, window in enumerate(work.hashes):
        found = aligned_similarity(own[k], thumbnail, work.width, work.height, window.variant)
        stranger = aligned_similarity(
            others[k % len(others)], thumbnail, work.width, work.height, window.variant
        )
        if found is not None and stranger is not None:
            scores.append(found)
            strangers.append(stranger)
    assert len(scores) > 100  # the grid, deep crops and turns: every window can be cut
    assert min(scores) >= 0.97
    assert float(np.median(strangers)) < 0.8
    assert aligned_similarity(own[0], thumbnail, work.width, work.height, "box0") is None


@pytest.mark.parametrize("index", sorted(CROPS))
def test_a_crop_between_the_work_s_windows_is_found_at_its_best_alignment(
    index: int, photos: list[Path]
) -> None:
    copy = _copy(photos[index], CROPS[index])
    on = _matcher(SETTINGS, photos)
    found = on.match(copy)
    assert [m.work.work_id for m in found] == [f"w{index}"]
    assert found[0].score >= SETTINGS.image_min_similarity
    # The evidence says the score is an aligned one, and what the pair scored before.
    unaligned = found[0].detail.unaligned
    assert unaligned is not None and unaligned < SETTINGS.image_min_similarity <= found[0].score
    assert _found(_matcher(OFF, photos), copy) == []  # the route is what finds it
    whole = on.match(_copy(photos[index], (0.0, 0.0, 0.0, 0.0)))
    assert [m.work.work_id for m in whole] == [f"w{index}"]
    assert whole[0].detail.unaligned is None  # a pair past the bar as it was


def test_no_weak_pair_of_a_small_work_or_a_plain_window_is_taken(photos: list[Path]) -> None:
    """The same crop, with the work held too small or its window too plain for the route."""
    copy = _copy(photos[0], CROPS[0])
    assert _found(_matcher(SETTINGS.with_(image_aligned_min_side=1025), photos), copy) == []
    assert _found(_matcher(SETTINGS.with_(image_aligned_min_entropy=4.0), photos), copy) == []


def test_the_route_is_decided_over_shards_as_one_matcher_decides_it(photos: list[Path]) -> None:
    """The shards' answers carry the copy's descriptors, so the gather stage re-scores the
    weak pairs as one matcher does: the same works, scores and figures."""
    single = _matcher(SETTINGS, photos)
    shards = [Matcher(SETTINGS) for _ in range(2)]
    for i, path in enumerate(photos[:6]):
        shards[i % 2].add(_work(f"w{i}", _work_print(path)))
    for index, sides in CROPS.items():
        copy = _copy(photos[index], sides)
        expected = [(m.work.work_id, m.score, m.detail) for m in single.match(copy)]
        assert [w for w, _, _ in expected] == [f"w{index}"]
        events = [
            decode(encode(answered("k", i, 2, s.answer(copy), {})), ShardAnswered)
            for i, s in enumerate(shards)
        ]
        found = decided(SETTINGS, [answer_of(e) for e in events])
        assert [(m.work_id, m.score, m.detail) for m in found] == expected
        # An answer from a shard that predates the route carries no descriptors: no weak pair
        # can be re-scored, so nothing is matched rather than something unchecked.
        older = [e.model_copy(update={"descriptors_b64": ""}) for e in events]
        assert decided(SETTINGS, [answer_of(e) for e in older]) == []


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("TANBA_IMAGE_ALIGNED_SIMILARITY", "-0.1"),
        ("TANBA_IMAGE_ALIGNED_SIMILARITY", "1.5"),
        ("TANBA_IMAGE_ALIGNED_MIN_SIDE", "-1"),
        ("TANBA_IMAGE_ALIGNED_MIN_ENTROPY", "4.5"),
    ],
)
def test_the_route_s_settings_refuse_values_that_mean_nothing(env: str, value: str) -> None:
    with pytest.raises(SettingsError, match=env):
        Settings.from_env({env: value})
