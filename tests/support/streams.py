"""Streams made with ffmpeg for the crawler's video tests: HLS (TS and fMP4) and DASH of one film.

:func:`make_streams` writes, under a directory, a 60-second film (a moving test
pattern with a clock, and a tone that rises over time) as:

- ``hls/master.m3u8``: a multivariant playlist naming an audio-only variant
  (the cheapest, which must not be chosen: it has no video), a 160x120 TS
  variant ``hls/low/`` and a 320x240 TS variant ``hls/high/``;
- ``fmp4/index.m3u8``: a media playlist of fragmented MP4 segments with an
  ``EXT-X-MAP`` init segment;
- ``aes/index.m3u8``: TS segments encrypted with AES-128 (key ``aes/film.key``,
  bytes 0..15, no IV in the playlist: the media sequence number is the IV);
- ``dash/film.mpd``: DASH with a SegmentTimeline, video and audio in separate
  adaptation sets;
- ``film.mp4``: the film as one file, its index (``moov``) at the end, and
  ``film-fast.mp4``, the same with the index first ("fast start").

Every segment is 4 s (a keyframe every second), so the film has 15 per track.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SECONDS = 60
SEGMENT_S = 4
SEGMENTS = SECONDS // SEGMENT_S

_VIDEO = ["-f", "lavfi", "-i", f"testsrc2=size={{size}}:rate=10:duration={SECONDS}"]
# A tone rising from 300 Hz to 1500 Hz over the film, so every stretch sounds different.
_AUDIO = [
    "-f", "lavfi", "-i",
    f"aevalsrc=0.5*sin(2*PI*(300+10*t)*t):s=22050:d={SECONDS}",
]  # fmt: skip
_CODECS = [
    "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-keyint_min", "10",
    "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
]  # fmt: skip


def _ffmpeg(*args: str, cwd: Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], cwd=cwd, check=True, timeout=300)


def _inputs(size: str) -> list[str]:
    return [a.replace("{size}", size) for a in _VIDEO] + _AUDIO


def make_streams(root: Path) -> Path:
    """Write the film's streams under ``root`` (see the module doc); returns ``root``."""
    hls = root / "hls"
    for name, size in (("low", "160x120"), ("high", "320x240")):
        out = hls / name
        out.mkdir(parents=True)
        _ffmpeg(
            *_inputs(size), *_CODECS, "-f", "hls", "-hls_time", str(SEGMENT_S),
            "-hls_playlist_type", "vod", "-hls_segment_filename", "seg%02d.ts", "index.m3u8",
            cwd=out,
        )  # fmt: skip
    (hls / "master.m3u8").write_text(
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=40000,CODECS="mp4a.40.2"\n'
        "audio-only/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x240,CODECS="avc1.42c00d,mp4a.40.2"\n'
        "high/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x120,CODECS="avc1.42c00a,mp4a.40.2"\n'
        "low/index.m3u8\n"
    )
    fmp4 = root / "fmp4"
    fmp4.mkdir()
    _ffmpeg(
        *_inputs("160x120"), *_CODECS, "-f", "hls", "-hls_time", str(SEGMENT_S),
        "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
        "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "seg%02d.m4s",
        "index.m3u8",
        cwd=fmp4,
    )  # fmt: skip
    aes = root / "aes"
    aes.mkdir()
    (aes / "film.key").write_bytes(bytes(range(16)))
    (aes / "keyinfo").write_text(f"film.key\n{aes / 'film.key'}\n")
    _ffmpeg(
        *_inputs("160x120"), *_CODECS, "-f", "hls", "-hls_time", str(SEGMENT_S),
        "-hls_playlist_type", "vod", "-hls_key_info_file", "keyinfo",
        "-hls_segment_filename", "seg%02d.ts", "index.m3u8",
        cwd=aes,
    )  # fmt: skip
    dash = root / "dash"
    dash.mkdir()
    _ffmpeg(
        *_inputs("160x120"), *_CODECS, "-f", "dash", "-seg_duration", str(SEGMENT_S),
        "-use_timeline", "1", "-use_template", "1", "film.mpd",
        cwd=dash,
    )  # fmt: skip
    _ffmpeg(*_inputs("160x120"), *_CODECS, "film.mp4", cwd=root)  # its index at the end
    _ffmpeg("-i", "film.mp4", "-c", "copy", "-movflags", "+faststart", "film-fast.mp4", cwd=root)
    return root
