"""Audio fingerprints: Chromaprint's raw 32-bit items, computed through pyacoustid.

ffmpeg decodes any container to 16-bit mono PCM at 11025 Hz (Chromaprint's own
working rate, so it need not resample), in a subprocess with a time limit and a
duration cap: a hostile or endless file costs at most ``timeout_s``. The same
run reports the container's declared duration and its streams on stderr, so
one process does what a probe and a decode would do in two (process start-up
is most of the cost of a short clip). The raw items (one every ~0.124 s) are
kept rather than the compressed string so the matcher can align an excerpt
against a whole track.
"""

from __future__ import annotations

import re
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


_DURATION = re.compile(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def audio_print(path: Path, *, max_seconds: int, timeout_s: float) -> AudioPrint:
    """Fingerprint the audio in ``path`` (any container ffmpeg reads, video included)."""
    if _looks_like_mp3(path) and is_truncated_mp3(path.read_bytes()):
        raise Unfingerprintable("audio is truncated: the last MP3 frame is cut off")
    pcm, declared = _decode_pcm(path, max_seconds, timeout_s)
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


def _decode_pcm(path: Path, max_seconds: int, timeout_s: float) -> tuple[bytes, float | None]:
    """The PCM, and the duration the container declares (None when it declares none)."""
    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "info", "-i", str(path),
        "-t", str(max_seconds), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-",
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
    # The input's description ends where ffmpeg starts describing its output.
    described = done.stderr.split(b"Stream mapping:")[0].split(b"Output #0")[0]
    if done.returncode != 0 or not done.stdout:
        if b"Input #0" in described and b": Audio:" not in described:
            raise Unfingerprintable("the file has no audio stream")
        detail = _last_line(done.stderr) or "no audio stream"
        raise Unfingerprintable(f"not decodable as audio: {detail}")
    found = _DURATION.search(described)
    declared = int(found[1]) * 3600 + int(found[2]) * 60 + float(found[3]) if found else None
    return done.stdout, declared


def _looks_like_mp3(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(3)
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2)


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1][:300] if lines else ""
