"""A passage the work repeats is reported at every position it occurs, best first."""

from __future__ import annotations

import numpy as np

from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.audio import CHROMAPRINT, AudioPrint
from tanba.matcher.audio_signal import AudioSignal

ITEM_S = 0.1238  # Chromaprint's item period at 11,025 Hz


def _print(items: np.ndarray) -> Fingerprint:
    audio = AudioPrint.from_items(CHROMAPRINT, len(items) * ITEM_S, ITEM_S, items)
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=audio)


def _noisy(items: np.ndarray, ber: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flips = rng.random((len(items), 32)) < ber
    mask = (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    out = items ^ mask
    out[::3] = items[::3]  # some items survive exactly, as after MP3 coding
    return out


def _track(seed: int, length: int = 1600) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=length, dtype=np.uint32)


def test_a_chorus_heard_three_times_is_found_at_each_occurrence() -> None:
    song = _track(1)
    chorus = song[200:360].copy()
    song[700:860] = _noisy(chorus, 0.03, 2)  # sung again, slightly differently
    song[1300:1460] = chorus
    signal = AudioSignal(Settings.from_env({}))
    signal.add("song", _print(song))
    signal.add("other", _print(_track(3)))
    excerpt = _noisy(chorus, 0.08, 4)
    (match,) = signal.match(_print(excerpt))
    spans = match.detail.positions
    starts = [round(s.offset_s / ITEM_S) for s in spans]
    assert starts[0] == round(match.detail.offset_s / ITEM_S)  # the reported one first
    assert sorted(starts) == [200, 700, 1300]
    assert all(s.duration_s == match.detail.duration_s for s in spans)
    assert spans[0].ber <= min(s.ber for s in spans[1:]) + 0.02


def test_a_passage_heard_once_has_one_span() -> None:
    song = _track(5)
    signal = AudioSignal(Settings.from_env({}))
    signal.add("song", _print(song))
    (match,) = signal.match(_print(_noisy(song[400:560], 0.08, 6)))
    assert [round(s.offset_s / ITEM_S) for s in match.detail.positions] == [400]
