"""Audio fingerprints: Chromaprint's raw 32-bit items, computed through pyacoustid.

ffmpeg decodes any container to 16-bit mono PCM at 11025 Hz (Chromaprint's own
working rate, so it need not resample), in a subprocess with a time limit and a
duration cap: a hostile or endless file costs at most ``timeout_s``. The raw
items (one every ~0.124 s) are kept rather than the compressed string so the
matcher can align an excerpt against a whole track.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import chromaprint
import numpy as np

from fingerprint.exceptions import Unfingerprintable
from fingerprint.mp3 import is_truncated_mp3
from tanba.schemas.common import AudioPrint

ALGORITHM = "chromaprint2-raw"  # Chromaprint's default algorithm (TEST2), raw items
SAMPLE_RATE = 11025
# Chromaprint hops 4096/3 samples (integer division) between items at 11025 Hz.
ITEM_S = 1365 / SAMPLE_RATE
_MIN_SECONDS = 2.0
# A file shorter than this share of its declared duration is called truncated.
_TRUNCATED_SHARE = 0.9


def audio_print(path: Path, *, max_seconds: int, timeout_s: float) -> AudioPrint:
    """Fingerprint the audio in ``path`` (any container ffmpeg reads, video included)."""
    declared = _declared_duration(path, timeout_s)
    if _looks_like_mp3(path) and is_truncated_mp3(path.read_bytes()):
        raise Unfingerprintable("audio is truncated: the last MP3 frame is cut off")
    pcm = _decode_pcm(path, max_seconds, timeout_s)
    seconds = len(pcm) / 2 / SAMPLE_RATE
    if seconds < _MIN_SECONDS:
        raise Unfingerprintable(
            f"only {seconds:.1f} s of audio decoded; at least {_MIN_SECONDS:.0f} s are needed"
        )
    if declared and seconds < min(declared, max_seconds) * _TRUNCATED_SHARE:
        raise Unfingerprintable(
            f"audio is truncated: its header declares {declared:.1f} s "
            f"but only {seconds:.1f} s decode"
        )
    fingerprinter = chromaprint.Fingerprinter()
    fingerprinter.start(SAMPLE_RATE, 1)
    fingerprinter.feed(pcm)
    items, _algorithm = chromaprint.decode_fingerprint(fingerprinter.finish())
    if not items:
        raise Unfingerprintable("Chromaprint produced no fingerprint (silence?)")
    return AudioPrint.from_items(
        ALGORITHM, seconds, ITEM_S, np.array(items, dtype=np.int64) & 0xFFFFFFFF
    )


def _decode_pcm(path: Path, max_seconds: int, timeout_s: float) -> bytes:
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", str(max_seconds),
        "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise Unfingerprintable(
            f"decoding took longer than {timeout_s:.0f} s (TANBA_DECODE_TIMEOUT_S); stopped"
        ) from None
    except FileNotFoundError:
        raise RuntimeError(
            "ffmpeg is not installed: run scripts/setup (apt-get install ffmpeg)"
        ) from None
    if done.returncode != 0 or not done.stdout:
        detail = _last_line(done.stderr) or "no audio stream"
        raise Unfingerprintable(f"not decodable as audio: {detail}")
    return done.stdout


def _declared_duration(path: Path, timeout_s: float) -> float | None:
    """The duration the container claims (None when it claims none)."""
    command = [
        "ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
        "-of", "json", str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise Unfingerprintable("probing the file took too long; stopped") from None
    if done.returncode != 0:
        raise Unfingerprintable(
            f"not decodable as audio: {_last_line(done.stderr) or 'unknown format'}"
        )
    info = json.loads(done.stdout or b"{}")
    if not any(s.get("codec_type") == "audio" for s in info.get("streams", [])):
        raise Unfingerprintable("the file has no audio stream")
    try:
        return float(info["format"]["duration"])
    except (KeyError, ValueError):
        return None


def _looks_like_mp3(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(3)
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2)


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1][:300] if lines else ""
