"""A song that repeats a passage at known times, built from real music, and an excerpt of it.

The passage is one track's; the stretches around it are other tracks', so the only
repeat is the one made here (the Debian packages' tracks the tests use).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from bench.audio_alterations import RATE, decode, encode, speech

PASSAGE_S = 12.0
FIRST_S, SECOND_S = 20.0, 52.0  # where the repeated song holds the passage
ONCE_S = 20.0  # where the song without a repeat holds it
EXCERPT_START_S = 2.0  # where in the passage the excerpt starts


@cache
def songs(tracks: tuple[Path, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(passage, song with it at FIRST_S and SECOND_S, song with it once at ONCE_S) as PCM."""
    passage = decode(tracks[3], 60, PASSAGE_S)
    a = decode(tracks[4], 30, FIRST_S)
    b = decode(tracks[5], 30, SECOND_S - FIRST_S - PASSAGE_S)
    c = decode(tracks[1], 30, 16)
    repeated = np.concatenate([a, passage, b, passage, c])
    once = np.concatenate([a, passage, b, c])
    return passage, repeated, once


def excerpt(passage: np.ndarray, voice: bool) -> bytes:
    """Seconds 2 to 10 of the passage as a 64 kbit/s MP3, under a voice at its loudness if asked."""
    clip = passage[round(EXCERPT_START_S * RATE) : 10 * RATE]
    if voice:
        spoken = speech(len(clip))
        rms = float(np.sqrt(np.mean(np.square(clip, dtype=np.float64))))
        clip = clip + spoken * (rms / float(np.sqrt(np.mean(np.square(spoken, dtype=np.float64)))))
    return encode(clip, bitrate="64k")
