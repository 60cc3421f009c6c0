"""Spectral-peak landmarks: a second audio fingerprint that survives a voice over the music.

Chromaprint summarises each 0.37 s frame by 12 chroma energies, so a voice at the
music's loudness changes every item (a third of the bits flip) and a 5 s excerpt
can no longer be told from chance. Landmarks (the constellation method of
Wang's Shazam paper) keep only local maxima of the spectrogram and hash pairs of
nearby peaks as (frequency, frequency step, time step): a voice adds peaks of its
own and hides some, but the music's strongest peaks in other bands and moments
come through, and a true copy collects dozens of hash hits on one time offset
where unrelated music collects a handful (measured: ``python -m bench.quality
--audio`` prints a "landmarks" column).

Status: a candidate, measured in the benchmark only (hence its place in
``bench/``). The pipeline does not fingerprint landmarks: ``AudioPrint`` has no
field for them, and at about 1 MB per 5-minute track they would need the blob
store rather than the works topic. The extraction decodes the file itself, at
8 kHz, with ffmpeg.

Contract: ``landmarks(pcm)`` of mono float PCM at :data:`RATE` returns parallel
arrays of 32-bit hashes and the frame (``HOP / RATE`` s) of each pair's first peak.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter

from fingerprint.exceptions import Unfingerprintable

RATE = 8000
_FFT = 512  # 64 ms windows
HOP = 128  # 16 ms between frames
FRAME_S = HOP / RATE
_BINS = (10, 250)  # about 150 Hz to 3.9 kHz
_NEIGHBOURHOOD = (21, 15)  # frames x bins a peak must dominate (0.34 s x 234 Hz)
_FAN_OUT = 6  # pairs per anchor peak
_MAX_DT = 48  # frames (0.77 s) from an anchor to its targets
_MAX_DF = 48  # bins either way
_LOOKAHEAD = 40  # later peaks examined per anchor (in time order) to find its targets


@dataclass(frozen=True)
class Landmarks:
    """Peak-pair hashes and the frame of each pair's anchor, in anchor-time order."""

    hashes: np.ndarray  # int64 (values fit in 22 bits)
    frames: np.ndarray  # int64


def peaks(pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame, bin) of the spectrogram's local maxima above its median, in time order."""
    count = (len(pcm) - _FFT) // HOP + 1
    if count < _NEIGHBOURHOOD[0]:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    frames = np.lib.stride_tricks.sliding_window_view(pcm, _FFT)[::HOP][:count]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_FFT), axis=1))[:, _BINS[0] : _BINS[1]]
    level = np.log(spectrum + 1e-6)
    top = maximum_filter(level, size=_NEIGHBOURHOOD, mode="constant", cval=-np.inf)
    t, f = np.nonzero((level == top) & (level > np.median(level)))
    return t.astype(np.int64), f.astype(np.int64)  # np.nonzero is row-major: time order


def landmarks(pcm: np.ndarray) -> Landmarks:
    """Hashes of each peak paired with up to ``_FAN_OUT`` later peaks close in time and pitch."""
    t, f = peaks(np.asarray(pcm, dtype=np.float32))
    n = len(t)
    if n < 2:
        return Landmarks(np.zeros(0, np.int64), np.zeros(0, np.int64))
    ahead = np.arange(1, _LOOKAHEAD + 1)
    target = np.arange(n)[:, None] + ahead  # (anchor, k): the k-th later peak
    inside = target < n
    target = np.where(inside, target, 0)
    dt = t[target] - t[:, None]
    df = f[target] - f[:, None]
    valid = inside & (dt >= 1) & (dt <= _MAX_DT) & (np.abs(df) <= _MAX_DF)
    valid &= np.cumsum(valid, axis=1) <= _FAN_OUT  # the nearest ones in time
    anchor, k = np.nonzero(valid)
    hashes = (f[anchor] << 14) | ((df[anchor, k] + 64) << 7) | dt[anchor, k]
    return Landmarks(hashes.astype(np.int64), t[anchor])


def at_speed(pcm: np.ndarray, factor: float) -> np.ndarray:
    """The PCM played ``factor`` times slower (linear interpolation): undoes a speed-up by it.

    A re-upload sped up by 2% moves every peak 2% up in pitch and closer in time, so
    its hashes change; querying the copy also at 1/0.98 and 1/1.02 of its speed
    restores them (measured on the benchmark: excerpts sped up by 1-3% either way
    then gather 16-88 votes in 10 s, against at most 15 for unrelated music).
    """
    if factor == 1.0:
        return pcm
    count = int(len(pcm) * factor)
    return np.interp(np.arange(count) / factor, np.arange(len(pcm)), pcm).astype(np.float32)


def decode(path: Path, *, max_seconds: int, timeout_s: float) -> np.ndarray:
    """Mono float PCM at :data:`RATE` of up to ``max_seconds`` of ``path`` (ffmpeg)."""
    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
        "-t", str(max_seconds), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise Unfingerprintable(
            f"decoding took longer than {timeout_s:.0f} s (TANBA_DECODE_TIMEOUT_S); stopped"
        ) from None
    if done.returncode != 0 or not done.stdout:
        raise Unfingerprintable(
            "not decodable as audio: " + done.stderr.decode(errors="replace")[-300:]
        )
    return np.frombuffer(done.stdout, dtype=np.float32)
