"""Spectral-peak landmarks: the audio fingerprint that finds a 5 s excerpt under a voice.

Chromaprint summarises each 0.37 s frame by 12 chroma energies, so a voice at
the music's loudness changes every item and a 5 s excerpt (about 19 items)
cannot be told from chance by its bits alone. Landmarks (the constellation
method of Wang's Shazam paper) keep only the local maxima of the spectrogram
and hash pairs of nearby peaks as (frequency, frequency step, time step): a
voice adds peaks of its own and hides some, but the music's strongest peaks in
other bands and moments come through (the band reaches down to 46 Hz and up to
5.5 kHz, past most of a voice's energy), and a copy gathers dozens of equal
hashes on one time offset where unrelated music gathers a handful. The matcher
uses them to find candidates and has Chromaprint verify each
(:mod:`tanba.matcher.landmark_index`).

Contract: :func:`landmarks` of mono PCM at :data:`tanba.core.signals.audio.RATE` (the rate Chromaprint
works at, so one decode feeds both) returns each pair's 32-bit hash and the
frame (:data:`tanba.core.signals.audio.FRAME_S` s) of its first peak, in time order. The spectrogram is
taken in blocks, so a 15-minute track needs a few MB beyond its PCM, and the
peaks' loudness floor (the median) follows the music through the track.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from tanba.core.signals.audio import (
    HOP,
    LANDMARK_BINS,
    LANDMARK_FIRST_BIN,
    LANDMARK_MAX_DF,
    LANDMARK_MAX_DT,
    LANDMARKS,
    Landmarks,
)

# The algorithm id (tanba.core.signals.audio.LANDMARKS): a change of any constant below that
# changes the hashes is a new id there (and registered works are fingerprinted again).
ALGORITHM = LANDMARKS
# 65 ms windows, 15.3 Hz per bin (720 = 2^4·3^2·5: a third faster to transform than 704).
_FFT = 720
_BINS = (LANDMARK_FIRST_BIN, LANDMARK_FIRST_BIN + LANDMARK_BINS)  # about 46 Hz to 5.5 kHz
_NEIGHBOURHOOD = (21, 15)  # frames × bins a peak must dominate (0.34 s × 230 Hz)
_FAN_OUT = 6  # pairs per anchor peak
_MAX_DT = LANDMARK_MAX_DT  # frames (0.77 s) from an anchor to its targets
_MAX_DF = LANDMARK_MAX_DF  # bins either way
_LOOKAHEAD = 40  # later peaks examined per anchor (in time order) to find its targets
# Frames per spectrogram block (about 16 s): a block's arrays stay in the CPU's cache,
# which made the whole extraction a third faster than 65 s blocks (measured).
_BLOCK = 1024


def peaks(pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame, bin) of the spectrogram's local maxima above their block's median, in time order.

    Blocks overlap by half a neighbourhood so a peak at a block's edge is judged
    on all its neighbours. Magnitudes are compared as they are (a peak of the
    log spectrum is a peak of the spectrum).
    """
    count = (len(pcm) - _FFT) // HOP + 1
    if count < _NEIGHBOURHOOD[0]:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    window = np.hanning(_FFT).astype(np.float32)
    halo = _NEIGHBOURHOOD[0] // 2
    frames = np.lib.stride_tricks.sliding_window_view(pcm, _FFT)[::HOP][:count]
    windowed = np.empty((min(count, _BLOCK + 2 * halo), _FFT), np.float32)  # reused: no page faults
    found_t, found_f = [], []
    for start in range(0, count, _BLOCK):
        lo, hi = max(0, start - halo), min(count, start + _BLOCK + halo)
        block = np.multiply(frames[lo:hi], window, out=windowed[: hi - lo])
        spectrum = np.abs(scipy.fft.rfft(block, axis=1)[:, _BINS[0] : _BINS[1]])
        # The median of a sample of the block: as good a floor, at a fraction of the cost.
        floor = np.median(spectrum[::7, ::3])
        flat = np.flatnonzero(spectrum == _max_filter(spectrum))
        flat = flat[spectrum.ravel()[flat] > floor]
        t, f = np.divmod(flat, spectrum.shape[1])
        t += lo
        own = (t >= start) & (t < start + _BLOCK)  # the halo's peaks belong to the next block
        found_t.append(t[own])
        found_f.append(f[own])
    return np.concatenate(found_t).astype(np.int64), np.concatenate(found_f).astype(np.int64)


def _max_filter(values: np.ndarray) -> np.ndarray:
    """The maximum over each cell's neighbourhood (:data:`_NEIGHBOURHOOD`, centred; -inf outside).

    Window maxima by doubling (the max of 2 cells, of 4, of 8...) along each axis:
    a few whole-array operations instead of scipy's per-cell filter, about three
    times faster on a spectrogram.
    """
    out = values
    for axis, size in enumerate(_NEIGHBOURHOOD):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (size // 2, size - 1 - size // 2)
        out = _window_max(np.pad(out, pad, constant_values=-np.inf), size, axis)
    return out


def _window_max(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Maxima of ``size`` consecutive cells along ``axis`` (the output is ``size - 1`` shorter)."""
    moved = np.moveaxis(values, axis, 0)
    span = 1
    while 2 * span <= size:
        moved = np.maximum(moved[:-span], moved[span:])
        span *= 2
    if span < size:  # cover the rest with one more overlapping pair
        rest = size - span
        moved = np.maximum(moved[:-rest], moved[rest:])
    return np.moveaxis(moved, 0, axis)


def landmarks(pcm: np.ndarray) -> Landmarks:
    """Hashes of each peak paired with up to ``_FAN_OUT`` later peaks close in time and pitch."""
    t, f = peaks(np.asarray(pcm, dtype=np.float32))
    n = len(t)
    if n < 2:
        return Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.uint32))
    t, f = t.astype(np.int32), f.astype(np.int32)  # half the memory traffic of int64
    target = np.arange(n, dtype=np.int32)[:, None] + np.arange(1, _LOOKAHEAD + 1, dtype=np.int32)
    inside = target < n  # (anchor, k): the k-th later peak
    target = np.where(inside, target, 0)
    dt = t[target] - t[:, None]
    df = f[target] - f[:, None]
    valid = inside & (dt >= 1) & (dt <= _MAX_DT) & (np.abs(df) <= _MAX_DF)
    valid &= np.cumsum(valid, axis=1, dtype=np.int8) <= _FAN_OUT  # the nearest ones in time
    anchor, k = np.nonzero(valid)
    # 9 bits of frequency, 8 of frequency step, 8 of time step.
    hashes = (f[anchor] << 16) | ((df[anchor, k] + 128) << 8) | dt[anchor, k]
    return Landmarks(hashes.astype(np.uint32), t[anchor].astype(np.uint32))


def from_pcm16(chunks: list[bytes]) -> Landmarks:
    """Landmarks of 16-bit mono PCM at :data:`RATE` given in chunks (as the decoder yields it).

    The list is emptied as its chunks are converted: a two-hour soundtrack is 159 MB of
    16-bit PCM and 317 MB as floats, and holding the chunks, a joined copy and the floats
    at once would take 635 MB, past the sandbox's memory budget.
    """
    pcm = np.empty(sum(len(c) for c in chunks) // 2, np.float32)
    at = 0
    chunks.reverse()  # pop from the end, in time order
    while chunks:
        part = np.frombuffer(chunks.pop(), dtype=np.int16)
        np.divide(part, 32768, out=pcm[at : at + len(part)], casting="unsafe")
        at += len(part)
    return landmarks(pcm)
