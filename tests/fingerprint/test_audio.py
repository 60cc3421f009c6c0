"""Audio fingerprints: golden values on real music, fpcalc's items, bounds, refused files."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from tanba.app.demo.media import audio_excerpt
from tanba.core.signals.audio import AudioPrint
from tanba.fingerprint.audio import (
    ITEM_S,
    SAMPLE_RATE,
    FilterGraphSource,
    PacketLoopSource,
    audio_print,
)
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.mp3 import _frame_length, _skip_id3v2
from tanba.fingerprint.sandbox import Sandbox
from tanba.matcher.index import best_alignment
from tests.support.media import track_print


def _print(path: Path):
    return audio_print(path, max_seconds=900, timeout_s=60)


def test_golden_items_of_a_real_track(tracks: list[Path]) -> None:
    fp = track_print(tracks[0])  # frozen-bubble-data 2.212: frozen-mainzik-1p.ogg
    items = fp.items()
    assert (len(items), round(fp.duration_s, 2)) == (2577, 321.75)
    assert items[:4].tolist() == [2699493233, 2691100433, 2707746579, 2741304595]


def test_an_mp3_excerpt_aligns_at_its_offset_with_few_bit_errors(
    tracks: list[Path], tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(audio_excerpt(tracks[0], start_s=100, seconds=20, bitrate="64k"))
    hit = best_alignment("t", track_print(tracks[0]).items(), _print(clip).items(), 24)
    assert hit is not None
    assert hit.ber < 0.2
    assert abs(hit.work_offset * ITEM_S - 100) < 1.0


def test_another_track_does_not_align(tracks: list[Path], tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(audio_excerpt(tracks[1], start_s=30, seconds=20))
    hit = best_alignment("t", track_print(tracks[0]).items(), _print(clip).items(), 24)
    assert hit is not None and hit.ber > 0.35


def test_a_truncated_mp3_is_refused_as_truncated(tracks: list[Path], tmp_path: Path) -> None:
    data = audio_excerpt(tracks[1], start_s=0, seconds=30, bitrate="96k")
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
    from tanba.core.signals.audio import AudioPrint

    fp = track_print(tracks[0])
    again = AudioPrint.model_validate_json(fp.model_dump_json())
    assert np.array_equal(again.items(), fp.items())


# -- in-process decoding (PyAV) ----------------------------------------------------------------


def _fpcalc_items(path: Path) -> list[int]:
    done = subprocess.run(
        ["fpcalc", "-raw", "-length", "900", str(path)], capture_output=True, text=True, check=False
    )
    # Exit status 3: a damaged last frame (introzik.ogg has one); the fingerprint is printed.
    assert done.returncode in (0, 3), done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("FINGERPRINT="))
    return [int(v) & 0xFFFFFFFF for v in line[len("FINGERPRINT=") :].split(",")]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def test_items_equal_fpcalcs_on_ogg_and_mp3(tracks: list[Path], tmp_path: Path) -> None:
    # fpcalc resamples with swresample in Chromaprint's "compatible mode"; ffmpeg's default
    # resampler gave 99.4-99.8% equal items on these tracks, so equality shows the same mode.
    mp3 = tmp_path / "excerpt.mp3"  # a minute of the MP3's own frames, copied, not re-encoded
    _ffmpeg("-ss", "30", "-t", "60", "-i", str(tracks[3]), "-c:a", "copy", str(mp3))
    assert track_print(tracks[2]).items().tolist() == _fpcalc_items(tracks[2])
    assert _print(mp3).items().tolist() == _fpcalc_items(mp3)


def test_the_filter_graph_and_the_packet_loop_decode_the_same_pcm(
    tracks: list[Path], tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(audio_excerpt(tracks[1], start_s=20, seconds=20, bitrate="96k"))
    fast = b"".join(FilterGraphSource(clip).chunks())
    plain = b"".join(PacketLoopSource(clip, timeout_s=60).chunks())
    assert len(fast) > 2 * 19 * SAMPLE_RATE
    assert fast == plain


def test_a_damaged_mp3_is_decoded_past_the_packets_the_decoder_rejects(
    tracks: list[Path], tmp_path: Path
) -> None:
    clean = tmp_path / "clean.mp3"
    clean.write_bytes(audio_excerpt(tracks[2], start_s=0, seconds=60))
    data = bytearray(clean.read_bytes())
    rng = random.Random(0)
    for _ in range(20):  # bytes overwritten in the last three quarters, as a bad copy would have
        at = rng.randrange(len(data) // 4, len(data) - 8)
        data[at : at + 8] = rng.randbytes(8)
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(bytes(data))
    with pytest.raises(av.FFmpegError):  # the fast source gives up on it...
        b"".join(FilterGraphSource(damaged).chunks())
    got, want = _print(damaged), _print(clean)  # ...so audio_print decodes it packet by packet
    assert abs(got.duration_s - want.duration_s) < 0.2
    hit = best_alignment("t", want.items(), got.items(), 24)
    assert hit is not None and hit.work_offset == 0 and hit.ber < 0.05


@pytest.mark.parametrize(
    ("name", "text", "demuxer"),
    [
        ("list.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:20\n#EXTINF:20,\n{track}\n#EXT-X-ENDLIST\n", "hls"),
        ("list.ffconcat", "ffconcat version 1.0\nfile track.ogg\n", "concat"),
    ],
)  # fmt: skip
def test_a_playlist_is_not_followed_even_when_passed_straight_to_the_decoder(
    tracks: list[Path], tmp_path: Path, name: str, text: str, demuxer: str
) -> None:
    (tmp_path / "track.ogg").symlink_to(tracks[2])
    playlist = tmp_path / name
    playlist.write_text(text.format(track=tmp_path / "track.ogg"))
    with av.open(str(playlist)) as container:  # FFmpeg left to itself follows it
        assert demuxer in container.format.name and container.streams.audio
    with pytest.raises(Unfingerprintable, match="not a container format Tanba opens"):
        _print(playlist)


def test_the_audio_of_a_video_is_fingerprinted_and_a_silent_video_is_refused(
    tracks: list[Path], tmp_path: Path
) -> None:
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-c:v", "mpeg4"]
    with_audio, silent = tmp_path / "clip.mp4", tmp_path / "silent.mp4"
    _ffmpeg("-ss", "40", "-t", "20", "-i", str(tracks[0]), *video, "-t", "20", str(with_audio))
    _ffmpeg(*video, "-t", "5", str(silent))
    fp = _print(with_audio)
    assert abs(fp.duration_s - 20) < 0.1
    hit = best_alignment("t", track_print(tracks[0]).items(), fp.items(), 24)
    assert hit is not None and hit.ber < 0.1 and abs(hit.work_offset * ITEM_S - 40) < 1.0
    with pytest.raises(Unfingerprintable, match="the file has no audio stream"):
        _print(silent)


def test_only_max_seconds_are_decoded(tracks: list[Path]) -> None:
    whole, cut = track_print(tracks[1]), audio_print(tracks[1], max_seconds=30, timeout_s=60)
    assert cut.duration_s == 30.0
    # Chromaprint's last items see the end of the input; the rest must be the same.
    assert np.array_equal(cut.items()[:-20], whole.items()[: len(cut.items()) - 20])


def test_a_decode_past_its_time_limit_is_stopped(tracks: list[Path]) -> None:
    with pytest.raises(Unfingerprintable, match=r"took longer than .*TANBA_DECODE_TIMEOUT_S"):
        audio_print(tracks[3], max_seconds=900, timeout_s=1e-9)


def test_an_mp3_shorter_than_its_xing_header_declares_is_refused(
    tracks: list[Path], tmp_path: Path
) -> None:
    whole = tmp_path / "whole.mp3"
    _ffmpeg("-t", "30", "-i", str(tracks[2]), "-b:a", "128k", str(whole))  # a file: Xing counts
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: _frame_boundary_after(data, len(data) // 2)])
    with pytest.raises(Unfingerprintable, match=r"header declares 30\.\d s but only 1\d\.\d s"):
        _print(cut)


def _frame_boundary_after(data: bytes, at: int) -> int:
    """The end of the MP3 frame that spans byte ``at`` (so no frame is cut mid-way)."""
    pos = _skip_id3v2(data)
    while pos <= at:
        length = _frame_length(data[pos : pos + 4])
        assert length is not None, f"no MP3 frame at byte {pos}"
        pos += length
    return pos


def test_the_sandbox_child_decodes_audio_under_its_memory_limit(
    tracks: list[Path], tmp_path: Path
) -> None:
    video = tmp_path / "clip.mkv"
    _ffmpeg("-t", "20", "-i", str(tracks[3]), "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
            "-c:v", "mpeg4", "-c:a", "libvorbis", "-t", "20", str(video))  # fmt: skip
    sandbox = Sandbox(512 << 20)  # the smallest budget tanba.fingerprint.compute gives
    try:
        for path, in_process in ((tracks[3], track_print(tracks[3])), (video, _print(video))):
            got = sandbox.call(
                "tanba.fingerprint.sandbox_child:audio_print_file",
                str(path),
                900,
                60.0,
                timeout_s=150,
            )
            assert AudioPrint.model_validate(got) == in_process, path.name
        assert sandbox.outcomes == {"ok": 2} and sandbox.started == 1
    finally:
        sandbox.close()
