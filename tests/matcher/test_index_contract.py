"""Index contract: every image and audio index returns the hits of the linear reference scan."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from tanba.core.signals.image import ImageHash
from tanba.matcher.audio_index import InvertedAudioIndex
from tanba.matcher.audio_score import MODEL_FILE, AudioRule
from tanba.matcher.audio_segments import AudioTuning, SegmentedAudioIndex
from tanba.matcher.index import (
    AudioHit,
    AudioIndex,
    ImageIndex,
    LinearAudioIndex,
    LinearImageIndex,
)
from tanba.matcher.segments import SegmentedImageIndex, Tuning

IMAGE_INDEXES: dict[str, Callable[[], ImageIndex]] = {
    "linear": LinearImageIndex,
    "segmented": SegmentedImageIndex,
    # Every work its own segment with bucket tables, merged as they come.
    "segments-merged": lambda: SegmentedImageIndex(
        tuning=Tuning(freeze_rows=1, background=False, tables_from=0)
    ),
}
AUDIO_INDEXES: dict[str, Callable[[], AudioIndex]] = {
    "linear": LinearAudioIndex,
    "inverted": InvertedAudioIndex,
    "segmented": SegmentedAudioIndex,
    # A segment every three tracks, merged as they come.
    "segments-merged": lambda: SegmentedAudioIndex(
        tuning=AudioTuning(freeze_tracks=3, background=False)
    ),
}


def _h(value: int, variant: str = "full") -> ImageHash:
    return ImageHash(algorithm="phash64", variant=variant, value=f"{value:016x}")


def _flip(value: int, bits: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    for b in rng.choice(64, size=bits, replace=False):
        value ^= 1 << int(b)
    return value


@pytest.fixture(params=list(IMAGE_INDEXES))
def image_index(request: pytest.FixtureRequest) -> ImageIndex:
    return IMAGE_INDEXES[request.param]()


@pytest.fixture(params=list(AUDIO_INDEXES))
def audio_index(request: pytest.FixtureRequest) -> AudioIndex:
    return AUDIO_INDEXES[request.param]()


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
    hits = audio_index.query(excerpt, AudioRule(0.3, 24))
    assert [(h.work_id, h.work_offset, h.query_offset, h.span) for h in hits] == [
        ("t3", 400, 0, 160)
    ]
    assert hits[0].ber < 0.1


def test_audio_unrelated_query_finds_nothing(audio_index: AudioIndex) -> None:
    rng = np.random.default_rng(8)
    audio_index.add("t", rng.integers(0, 2**32, size=800, dtype=np.uint32))
    assert (
        audio_index.query(rng.integers(0, 2**32, size=100, dtype=np.uint32), AudioRule(0.3, 24))
        == []
    )


def test_audio_too_short_query_finds_nothing(audio_index: AudioIndex) -> None:
    items = np.arange(500, dtype=np.uint32)
    audio_index.add("t", items)
    assert audio_index.query(items[10:20], AudioRule(0.3, 24)) == []


def test_audio_silence_matches_no_silence(audio_index: AudioIndex) -> None:
    """Silence is one repeated item in every track: a silent tail must not match a silent intro."""
    rng = np.random.default_rng(10)
    silence = np.full(40, 0x256DF977, np.uint32)  # Chromaprint's item for digital silence
    work = np.concatenate([rng.integers(0, 2**32, size=600, dtype=np.uint32), silence])
    audio_index.add("t", work)
    near_silence = silence.copy()
    near_silence[::4] ^= np.uint32(1 << 5)  # a fade: one bit comes and goes
    for copy in (silence, near_silence):
        query = np.concatenate([copy, rng.integers(0, 2**32, size=400, dtype=np.uint32)])
        assert audio_index.query(query, AudioRule(0.3, 16)) == []
        assert audio_index.query(copy, AudioRule(0.3, 16)) == []


def test_audio_remove(audio_index: AudioIndex) -> None:
    items = np.random.default_rng(9).integers(0, 2**32, size=300, dtype=np.uint32)
    audio_index.add("t", items)
    audio_index.remove("t")
    assert audio_index.query(items[50:150], AudioRule(0.3, 24)) == []


_VOICE_RULE = {"min_llr": 3.5, "full_span_items": 64, "llr_min_items": 32}


def _voiced(items: np.ndarray, seed: int, strength: float = 1.0) -> np.ndarray:
    """Voice-over-like damage: each classifier's code redrawn from the LLR model's odds.

    P(copy code | work code) is taken proportional to exp(strength x LLR), so the copy
    disagrees as a voice makes it (about a third of the bits at strength 1) yet in the
    pattern the model expects; strength 0 gives unrelated codes.
    """
    llr = np.array(json.loads(MODEL_FILE.read_text())["llr"])
    odds = np.exp(strength * llr)
    odds /= odds.sum(axis=2, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.zeros(len(items), np.uint32)
    for k in range(16):
        shift = np.uint32(30 - 2 * k)
        work = (items >> shift) & 3
        drawn = (rng.random(len(items))[:, None] > np.cumsum(odds[k][work], axis=1)).sum(axis=1)
        out |= np.minimum(drawn, 3).astype(np.uint32) << shift
    return out


def _tracks(seed: int, count: int = 6, length: int = 1200) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        f"t{i}": rng.integers(0, 2**32, size=length, dtype=np.uint64).astype(np.uint32)
        for i in range(count)
    }


def test_audio_voice_over_is_found_by_the_llr_test_alone() -> None:
    # The rule, on the reference that tries every alignment. (The fast indexes vote with
    # 16-bit halves, which such damage rarely leaves whole: real voice-overs are found by
    # the landmark path, whose candidates the same LLR test verifies.)
    audio_index = LinearAudioIndex()
    tracks = _tracks(11)
    for work_id, items in tracks.items():
        audio_index.add(work_id, items)
    excerpt = _voiced(tracks["t2"][300:440], seed=2)
    hits = audio_index.query(excerpt, AudioRule(0.22, 16, **_VOICE_RULE))
    assert [(h.work_id, h.work_offset, h.query_offset, h.span) for h in hits] == [
        ("t2", 300, 0, 140)
    ]
    assert hits[0].ber > 0.25 and hits[0].llr > 3.5  # the BER test alone would refuse it
    assert audio_index.query(excerpt, AudioRule(0.22, 16, full_span_items=64)) == []


def test_audio_llr_test_needs_its_minimum_span() -> None:
    audio_index = LinearAudioIndex()
    tracks = _tracks(12)
    for work_id, items in tracks.items():
        audio_index.add(work_id, items)
    short = _voiced(tracks["t1"][500:524], seed=3)  # 24 items, below llr_min_items
    assert audio_index.query(short, AudioRule(0.22, 16, **_VOICE_RULE)) == []
    assert [h.work_id for h in audio_index.query(short, AudioRule(0.22, 16, min_llr=3.5))] == ["t1"]


def test_audio_unrelated_query_finds_nothing_with_the_llr_test_on(
    audio_index: AudioIndex,
) -> None:
    tracks = _tracks(13)
    for work_id, items in tracks.items():
        audio_index.add(work_id, items)
    for seed in range(5):
        unrelated = _voiced(tracks["t0"][:150], seed=seed, strength=0.0)
        assert audio_index.query(unrelated, AudioRule(0.22, 16, **_VOICE_RULE)) == []


def _coded(items: np.ndarray, ber: float, seed: int) -> np.ndarray:
    """MP3-like damage: bits flipped at ``ber``, one item in three left whole."""
    rng = np.random.default_rng(seed)
    flips = rng.random((len(items), 32)) < ber
    mask = (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    out = items ^ mask
    out[::3] = items[::3]
    return out


def _both_asked(
    kind: str, seed: int, damage: Callable[[np.ndarray, int], np.ndarray]
) -> Iterator[tuple[list[AudioHit], list[AudioHit]]]:
    """(fast index's hits, linear scan's hits) for 12 damaged excerpts of 8 tracks,
    long and short, the voice (LLR) test on."""
    tracks = _tracks(seed, count=8)
    linear, fast = LinearAudioIndex(), AUDIO_INDEXES[kind]()
    for work_id, items in tracks.items():
        linear.add(work_id, items)
        fast.add(work_id, items)
    rng = np.random.default_rng(seed)
    rule = AudioRule(0.22, 16, **_VOICE_RULE)
    for k in range(12):
        work_id = f"t{int(rng.integers(8))}"
        length = int(rng.choice([20, 40, 60, 140]))
        start = int(rng.integers(0, 1200 - length))
        excerpt = damage(tracks[work_id][start : start + length], k)
        yield fast.query(excerpt, rule), linear.query(excerpt, rule)


def _same_hit(got: AudioHit, want: AudioHit) -> None:
    assert (got.work_id, got.work_offset, got.query_offset, got.span) == (
        want.work_id,
        want.work_offset,
        want.query_offset,
        want.span,
    )
    assert got.ber == pytest.approx(want.ber) and got.llr == pytest.approx(want.llr, abs=1e-4)


@pytest.mark.parametrize("ber", [0.05, 0.12, 0.2, 0.3])
@pytest.mark.parametrize("kind", ["inverted", "segments-merged"])
def test_audio_fast_indexes_return_the_linear_scans_hits_where_items_survive(
    ber: float, kind: str
) -> None:
    # Coding damage from light to past the BER limit: where items come through whole,
    # as after MP3 coding, the fast index accepts exactly what the linear scan accepts.
    for got, want in _both_asked(kind, 40 + int(100 * ber), lambda e, k: _coded(e, ber, k)):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _same_hit(g, w)


@pytest.mark.parametrize("strength", [0.0, 0.5, 0.8, 1.0, 2.0])
@pytest.mark.parametrize("kind", ["inverted", "segments-merged"])
def test_audio_fast_indexes_accept_nothing_the_linear_scan_refuses(
    strength: float, kind: str
) -> None:
    # From unrelated (0) through borderline to clean-ish (2) voice-like damage: whatever
    # the fast index accepts, the linear scan accepts too, at the same alignment.
    def voiced(excerpt: np.ndarray, k: int) -> np.ndarray:
        return _voiced(excerpt, seed=k, strength=strength)

    for got, want in _both_asked(kind, 20 + int(10 * strength), voiced):
        by_work = {h.work_id: h for h in want}
        for g in got:
            _same_hit(g, by_work[g.work_id])


@pytest.mark.parametrize("radius", [0, 3, 7, 12, 16])
def test_image_candidates_equal_the_linear_scan_on_many_hashes(radius: int) -> None:
    # Clusters of near-duplicates (as a work's windows are) among random hashes, and queries
    # at every distance around them: the fast index must miss nothing and add nothing.
    rng = np.random.default_rng(radius)
    centres = rng.integers(0, 2**63, size=40, dtype=np.uint64)
    linear = LinearImageIndex()
    fast = SegmentedImageIndex(tuning=Tuning(freeze_rows=100, background=False, tables_from=0))
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


@pytest.mark.parametrize("probe", [0, 1])
def test_a_shallow_probe_finds_a_subset_holding_everything_within_its_reach(probe: int) -> None:
    # Probing each 21-bit chunk ``probe`` bits deep: every pair within 3 × probe + 2 bits
    # is found (pigeonhole), nothing outside the radius is, and nothing is invented.
    rng = np.random.default_rng(probe)
    linear = LinearImageIndex()
    shallow = SegmentedImageIndex(tuning=Tuning(background=False, tables_from=0, probe_bits=probe))
    centres = rng.integers(0, 2**63, size=30, dtype=np.uint64)
    for w, centre in enumerate(centres.tolist()):
        hashes = [_h(_flip(centre, int(k), seed=w * 100 + j), f"v{j}") for j, k in
                  enumerate(rng.integers(0, 12, size=20))]  # fmt: skip
        linear.add(f"w{w}", hashes)
        shallow.add(f"w{w}", hashes)
    shallow.freeze()
    queries = [_h(int(c)) for c in centres]
    want = linear.candidates(queries, 7)
    got = shallow.candidates(queries, 7)
    assert set(got) <= set(want)
    reach = 3 * probe + 2
    assert [h for h in want if h.distance <= reach] == [h for h in got if h.distance <= reach]
    assert len(got) < len(want)  # the probe is shallower than the radius: some are left
