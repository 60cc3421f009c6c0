"""Audio fingerprints: golden values on real music, excerpts align, broken files are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fingerprint.audio import ITEM_S, audio_print
from fingerprint.exceptions import Unfingerprintable
from matcher.index import best_alignment
from tanba.demo.media import audio_excerpt, audio_mp3


def _print(path: Path):
    return audio_print(path, max_seconds=900, timeout_s=60)


def test_golden_items_of_a_real_track(tracks: list[Path]) -> None:
    fp = _print(tracks[0])  # frozen-bubble-data 2.212: frozen-mainzik-1p.ogg
    items = fp.items()
    assert (len(items), round(fp.duration_s, 2)) == (2577, 321.75)
    assert items[:4].tolist() == [2699493233, 2691100433, 2707746579, 2741304595]


def test_an_mp3_excerpt_aligns_at_its_offset_with_few_bit_errors(
    tracks: list[Path], tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(audio_excerpt(tracks[0], start_s=100, seconds=20, bitrate="64k"))
    hit = best_alignment("t", _print(tracks[0]).items(), _print(clip).items(), 24)
    assert hit is not None
    assert hit.ber < 0.2
    assert abs(hit.work_offset * ITEM_S - 100) < 1.0


def test_another_track_does_not_align(tracks: list[Path], tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(audio_excerpt(tracks[1], start_s=30, seconds=20))
    hit = best_alignment("t", _print(tracks[0]).items(), _print(clip).items(), 24)
    assert hit is not None and hit.ber > 0.35


def test_a_truncated_mp3_is_refused_as_truncated(tracks: list[Path], tmp_path: Path) -> None:
    data = audio_mp3(tracks[1], bitrate="96k")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(Unfingerprintable, match="truncated"):
        _print(cut)


@pytest.mark.parametrize("payload", [b"ID3" + b"\x00" * 500, b"OggS" + bytes(range(256)) * 4])
def test_garbage_with_an_audio_signature_is_refused(payload: bytes, tmp_path: Path) -> None:
    f = tmp_path / "x.mp3"
    f.write_bytes(payload)
    with pytest.raises(Unfingerprintable):
        _print(f)


def test_items_survive_the_event_encoding(tracks: list[Path]) -> None:
    from tanba.schemas.common import AudioPrint

    fp = _print(tracks[0])
    again = AudioPrint.model_validate_json(fp.model_dump_json())
    assert np.array_equal(again.items(), fp.items())
