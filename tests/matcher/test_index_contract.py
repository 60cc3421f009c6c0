"""Index contract: every image and audio index returns the hits of the linear reference scan."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.audio_index import InvertedAudioIndex
from matcher.index import AudioIndex, ImageIndex, LinearAudioIndex, LinearImageIndex
from matcher.mih_index import MultiIndexImageIndex
from tanba.schemas.common import ImageHash

IMAGE_INDEXES = [LinearImageIndex, MultiIndexImageIndex]
AUDIO_INDEXES = [LinearAudioIndex, InvertedAudioIndex]


def _h(value: int, variant: str = "full") -> ImageHash:
    return ImageHash(algorithm="phash64", variant=variant, value=f"{value:016x}")


def _flip(value: int, bits: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    for b in rng.choice(64, size=bits, replace=False):
        value ^= 1 << int(b)
    return value


@pytest.fixture(params=IMAGE_INDEXES, ids=lambda c: c.__name__)
def image_index(request: pytest.FixtureRequest) -> ImageIndex:
    return request.param()


@pytest.fixture(params=AUDIO_INDEXES, ids=lambda c: c.__name__)
def audio_index(request: pytest.FixtureRequest) -> AudioIndex:
    return request.param()


def test_image_hits_within_distance_best_first_one_per_work(image_index: ImageIndex) -> None:
    base = 0x0123456789ABCDEF
    image_index.add("near", [_h(_flip(base, 3)), _h(_flip(base, 9, 1), "mirror")])
    image_index.add("far", [_h(_flip(base, 20, 2))])
    image_index.add("edge", [_h(_flip(base, 10, 3))])
    hits = image_index.query([_h(base)], max_distance=10)
    assert [(h.work_id, h.distance, h.variant) for h in hits] == [
        ("near", 3, "full"),
        ("edge", 10, "full"),
    ]


def test_image_remove_and_replace(image_index: ImageIndex) -> None:
    image_index.add("w", [_h(1)])
    image_index.add("w", [_h(0xFFFF_FFFF_FFFF_FFFF)])  # replaces
    assert image_index.query([_h(1)], 5) == []
    image_index.remove("w")
    image_index.remove("unknown")
    assert image_index.query([_h(0xFFFF_FFFF_FFFF_FFFF)], 5) == []


def _noisy(items: np.ndarray, ber: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flips = rng.random((len(items), 32)) < ber
    mask = (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    return items ^ mask


def test_audio_excerpt_found_at_its_offset(audio_index: AudioIndex) -> None:
    rng = np.random.default_rng(7)
    tracks = {f"t{i}": rng.integers(0, 2**32, size=1500, dtype=np.uint32) for i in range(5)}
    for work_id, items in tracks.items():
        audio_index.add(work_id, items)
    excerpt = _noisy(tracks["t3"][400:560], 0.08, 1)
    excerpt[::3] = tracks["t3"][400:560][::3]  # some items survive exactly, as after MP3 coding
    hits = audio_index.query(excerpt, max_ber=0.3, min_items=24)
    assert [(h.work_id, h.work_offset, h.query_offset, h.span) for h in hits] == [
        ("t3", 400, 0, 160)
    ]
    assert hits[0].ber < 0.1


def test_audio_unrelated_query_finds_nothing(audio_index: AudioIndex) -> None:
    rng = np.random.default_rng(8)
    audio_index.add("t", rng.integers(0, 2**32, size=800, dtype=np.uint32))
    assert audio_index.query(rng.integers(0, 2**32, size=100, dtype=np.uint32), 0.3, 24) == []


def test_audio_too_short_query_finds_nothing(audio_index: AudioIndex) -> None:
    items = np.arange(500, dtype=np.uint32)
    audio_index.add("t", items)
    assert audio_index.query(items[10:20], 0.3, 24) == []


def test_audio_remove(audio_index: AudioIndex) -> None:
    items = np.random.default_rng(9).integers(0, 2**32, size=300, dtype=np.uint32)
    audio_index.add("t", items)
    audio_index.remove("t")
    assert audio_index.query(items[50:150], 0.3, 24) == []


@pytest.mark.parametrize("radius", [0, 3, 7, 12, 16])
def test_image_candidates_equal_the_linear_scan_on_many_hashes(radius: int) -> None:
    # Clusters of near-duplicates (as a work's windows are) among random hashes, and queries
    # at every distance around them: the fast index must miss nothing and add nothing.
    rng = np.random.default_rng(radius)
    centres = rng.integers(0, 2**63, size=40, dtype=np.uint64)
    linear, fast = LinearImageIndex(), MultiIndexImageIndex()
    for w, centre in enumerate(centres.tolist()):
        hashes = [_h(_flip(centre, int(k), seed=w * 100 + j), f"v{j}") for j, k in
                  enumerate(rng.integers(0, 20, size=30))]  # fmt: skip
        linear.add(f"w{w}", hashes)
        fast.add(f"w{w}", hashes)
    queries = [_h(_flip(int(c), int(k), seed=7 + i)) for i, (c, k) in
               enumerate(zip(centres, rng.integers(0, 24, size=40), strict=True))]  # fmt: skip
    for q in queries:
        assert fast.candidates([q], radius) == linear.candidates([q], radius)
    assert fast.candidates(queries, radius) == linear.candidates(queries, radius)
