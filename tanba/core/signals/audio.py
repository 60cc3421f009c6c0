"""The audio print: Chromaprint's raw items and spectral-peak landmarks of the same PCM.

Contract: an :class:`AudioPrint` holds one 32-bit Chromaprint item every
``item_s`` seconds (:meth:`AudioPrint.items`) and, optionally, the landmarks
(:class:`Landmarks`: peak-pair hashes with the frame of each pair's anchor,
:data:`FRAME_S` seconds a frame), packed as base64. ``tanba.fingerprint.audio`` and
``tanba.fingerprint.landmarks`` compute them; the matcher indexes and compares them.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

import numpy as np

from tanba.core.schemas.base import Model

# Algorithm ids: prints of one id only are compared; a change of anything that changes
# the items or the hashes is a new id (and registered works are fingerprinted again).
CHROMAPRINT = "chromaprint2-raw"  # Chromaprint's default algorithm (TEST2), raw items
LANDMARKS = "peakpairs1"
# A peakpairs1 hash packs a peak's frequency bin (9 bits), the step to its pair's
# (frequency step + 128: 80 to 176) and the time step (1 to 48 frames); its key keeps
# what varies, 22 bits, one key per hash (tanba.matcher.landmark_index files hashes by key).
LANDMARK_KEY_BITS = 22
# The layout's ranges: the first spectrogram bin a hash's frequency counts from (bin 3,
# 46 Hz, is frequency 0), the largest frequency step either way and time step of a pair.
LANDMARK_FIRST_BIN = 3
LANDMARK_BINS = 357  # frequencies 0..356 (bins 3 to 359, up to 5.5 kHz)
LANDMARK_MAX_DF = 48
LANDMARK_MAX_DT = 48
# Both are computed from mono PCM at this rate (one decode feeds both).
RATE = 11025
# Chromaprint hops 4096/3 samples (integer division) between items.
ITEM_S = 1365 / RATE
# Landmark frames: 176 samples (16 ms) apart.
HOP = 176
FRAME_S = HOP / RATE


@dataclass(frozen=True)
class Landmarks:
    """Peak-pair hashes (uint32) and the frame of each pair's anchor (uint32), in time order."""

    hashes: np.ndarray
    frames: np.ndarray

    def pack(self) -> str:
        """Base64 of the zlib-compressed hashes then frames (little-endian uint32)."""
        raw = self.hashes.astype("<u4").tobytes() + self.frames.astype("<u4").tobytes()
        # Level 1: 2.5 times smaller than raw, at less than half level 6's time (measured).
        return base64.b64encode(zlib.compress(raw, 1)).decode()

    @classmethod
    def unpack(cls, packed: str) -> Landmarks:
        """The inverse of :meth:`pack`; an empty string gives no landmarks."""
        if not packed:
            return cls(np.zeros(0, np.uint32), np.zeros(0, np.uint32))
        raw = np.frombuffer(zlib.decompress(base64.b64decode(packed)), dtype="<u4")
        half = len(raw) // 2
        return cls(raw[:half].astype(np.uint32), raw[half:].astype(np.uint32))


def landmark_key(hashes: np.ndarray) -> np.ndarray:
    """The dense key (< 2 ** LANDMARK_KEY_BITS) of each :data:`LANDMARKS` hash; one key per hash."""
    h = np.asarray(hashes, dtype=np.int64)
    return ((h >> 16) << 13) | (((h >> 8) & 0x7F) << 6) | (h & 0x3F)


def at_speed(marks: Landmarks, speed: float) -> Landmarks:
    """The landmarks ``marks`` would have had if the audio were played ``1/speed`` as fast.

    A copy played ``speed`` times faster (a PAL speed-up is 25/24, a sped-up re-upload
    1.02) has every frequency times ``speed`` and every time divided by it, which moves
    each hash to another key. Each pair's two peaks are put back where the original's
    were (bin ``b / speed``, frame ``t * speed``, rounded as the spectrogram rounded
    the original's) and hashed again, so a copy's landmarks meet the work's at the
    right speed; frames are then the work's time (copy frame ``t`` becomes
    ``round(t * speed)``). Pairs that leave the layout's ranges are dropped. The
    result is in time order, as prints are.
    """
    h = marks.hashes.astype(np.int64)
    t = marks.frames.astype(np.int64)
    bin1 = (h >> 16) + LANDMARK_FIRST_BIN
    bin2 = bin1 + ((h >> 8) & 0xFF) - 128
    dt = h & 0xFF
    f1 = np.rint(bin1 / speed).astype(np.int64) - LANDMARK_FIRST_BIN
    f2 = np.rint(bin2 / speed).astype(np.int64) - LANDMARK_FIRST_BIN
    t1 = np.rint(t * speed).astype(np.int64)
    step = np.rint((t + dt) * speed).astype(np.int64) - t1
    df = f2 - f1
    keep = (f1 >= 0) & (f1 < LANDMARK_BINS) & (f2 >= 0) & (f2 < LANDMARK_BINS)
    keep &= (np.abs(df) <= LANDMARK_MAX_DF) & (step >= 1) & (step <= LANDMARK_MAX_DT)
    hashes = (f1 << 16) | ((df + 128) << 8) | step
    order = np.argsort(t1[keep], kind="stable")
    return Landmarks(hashes[keep][order].astype(np.uint32), t1[keep][order].astype(np.uint32))


class AudioPrint(Model):
    """A Chromaprint raw fingerprint (one 32-bit item every ``item_s`` seconds) and landmarks."""

    algorithm: str  # CHROMAPRINT
    duration_s: float
    item_s: float
    items_b64: str  # little-endian uint32 array, base64
    # Optional (added with the landmarks): spectral-peak pair hashes and their frames,
    # packed by Landmarks.pack; ``landmarks`` names the algorithm (LANDMARKS).
    # Empty in older prints, which are then matched by their items alone.
    landmarks: str = ""
    landmarks_b64: str = ""
    # Set on a print that travels apart (tanba.core.print_blobs): the SHA-256 of the blob
    # holding the whole print; the items and landmarks here are then empty.
    blob: str = ""

    @classmethod
    def from_items(
        cls, algorithm: str, duration_s: float, item_s: float, items: np.ndarray
    ) -> AudioPrint:
        raw = np.asarray(items, dtype="<u4").tobytes()
        return cls(
            algorithm=algorithm,
            duration_s=round(duration_s, 3),
            item_s=item_s,
            items_b64=base64.b64encode(raw).decode(),
        )

    def items(self) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.items_b64), dtype="<u4").astype(np.uint32)

    def landmark_table(self) -> Landmarks | None:
        """The landmarks, or None when the print has none of :data:`LANDMARKS`."""
        if self.landmarks != LANDMARKS:
            return None
        return Landmarks.unpack(self.landmarks_b64)
