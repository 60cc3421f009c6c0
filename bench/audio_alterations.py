"""The altered excerpts of a track that the quality benchmark queries with.

Each query is an excerpt of 5, 10 or 20 s from a random offset, passed through
one alteration: none (MP3 at 128 kbps), MP3 at 64 kbps, resampled to 22.05 kHz
mono, gain of ±6 dB, white noise at 15 dB SNR, a voice (espeak-ng) talking over
the music at the music's loudness, or a speed change of ±2% (pitch and tempo,
as a sped-up re-upload). The work is decoded by ffmpeg, altered in numpy and
encoded by ffmpeg again, so every query is a real MP3 file.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 44100
LENGTHS = (5, 10, 20)
_SPEECH = (
    "Добрый вечер, вы слушаете радио. Сегодня в эфире новая музыка и интервью с автором. "
    "Оставайтесь с нами, после короткой паузы мы расскажем о погоде и о новостях города."
)


@dataclass(frozen=True)
class Clip:
    """Where the excerpt starts in the work and how long it is; ``rate_factor`` of its speed."""

    start_s: float
    seconds: float
    rate_factor: float = 1.0


@dataclass(frozen=True)
class AudioAlteration:
    """A named excerpt alteration: ``apply(path, clip, rng)`` returns MP3 bytes."""

    name: str
    seconds: float
    apply: Callable[[Path, Clip, np.random.Generator], bytes]


def choose_clip(alteration: AudioAlteration, duration_s: float, rng: np.random.Generator) -> Clip:
    """A random start that leaves room for the excerpt (and half a second of tail)."""
    room = max(0.0, duration_s - alteration.seconds - 0.5)
    return Clip(round(float(rng.uniform(0, room)), 3), alteration.seconds)


def decode(path: Path, start_s: float, seconds: float) -> np.ndarray:
    """Mono float32 PCM at 44.1 kHz of ``seconds`` from ``start_s``."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", str(start_s), "-t", str(seconds),
         "-i", str(path), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return np.frombuffer(done.stdout, dtype=np.float32).copy()


def encode(
    pcm: np.ndarray, *, bitrate: str = "128k", rate: int = RATE, speed: float = 1.0
) -> bytes:
    """MP3 of the PCM, optionally resampled to ``rate`` or played ``speed`` times faster."""
    filters = []
    if speed != 1.0:
        filters.append(f"asetrate={RATE * speed:.0f},aresample={RATE}")
    command = ["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1",
               "-i", "-"]  # fmt: skip
    if filters:
        command += ["-af", ",".join(filters)]
    command += ["-ar", str(rate), "-b:a", bitrate, "-f", "mp3", "-"]
    done = subprocess.run(
        command, input=np.clip(pcm, -1, 1).astype(np.float32).tobytes(),
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return done.stdout


def _rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) or 1e-9


_voice_cache: dict[int, np.ndarray] = {}


def speech(samples: int) -> np.ndarray:
    """A Russian voice (espeak-ng) at 44.1 kHz, repeated to ``samples`` long."""
    if 0 not in _voice_cache:
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            subprocess.run(
                ["espeak-ng", "-v", "ru", "-s", "150", "-w", f.name, _SPEECH],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            with wave.open(f.name) as w:
                rate = w.getframerate()
                raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        voice = raw.astype(np.float32) / 32768
        t = np.arange(0, len(voice) / rate, 1 / RATE)
        _voice_cache[0] = np.interp(t, np.arange(len(voice)) / rate, voice).astype(np.float32)
    voice = _voice_cache[0]
    return np.tile(voice, samples // len(voice) + 1)[:samples]


def _plain(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    return encode(decode(path, clip.start_s, clip.seconds))


def _mp3_64k(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    return encode(decode(path, clip.start_s, clip.seconds), bitrate="64k")


def _resample(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    return encode(decode(path, clip.start_s, clip.seconds), rate=22050, bitrate="64k")


def _gain(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    db = 6.0 * float(rng.choice([-1, 1]))
    return encode(decode(path, clip.start_s, clip.seconds) * 10 ** (db / 20))


def _noise(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    pcm = decode(path, clip.start_s, clip.seconds)
    noise = rng.standard_normal(len(pcm)).astype(np.float32)
    noise *= _rms(pcm) / _rms(noise) / 10 ** (15 / 20)
    return encode(pcm + noise)


def _voice(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    pcm = decode(path, clip.start_s, clip.seconds)
    voice = speech(len(pcm))
    voice = np.roll(voice, int(rng.integers(len(voice))))
    return encode(pcm + voice * (_rms(pcm) / _rms(voice)))


def _speed(path: Path, clip: Clip, rng: np.random.Generator) -> bytes:
    factor = 1 + 0.02 * float(rng.choice([-1, 1]))
    # Decode enough of the work that the sped-up excerpt lasts ``clip.seconds``.
    pcm = decode(path, clip.start_s, clip.seconds * factor)
    return encode(pcm, speed=factor)


_KINDS: tuple[tuple[str, Callable[[Path, Clip, np.random.Generator], bytes]], ...] = (
    ("plain", _plain),
    ("mp3_64k", _mp3_64k),
    ("resample_22k", _resample),
    ("gain_6db", _gain),
    ("noise_15db", _noise),
    ("voice", _voice),
    ("speed_2pc", _speed),
)

ALTERATIONS: tuple[AudioAlteration, ...] = tuple(
    AudioAlteration(f"{seconds}s {kind}", seconds, apply)
    for seconds in LENGTHS
    for kind, apply in _KINDS
)
# Distractor tracks are queried with plain excerpts of every length and two hard alterations.
DISTRACTOR_ALTERATIONS: tuple[AudioAlteration, ...] = tuple(
    a for a in ALTERATIONS if a.name.endswith(("plain", "voice")) or a.name == "10s noise_15db"
)
