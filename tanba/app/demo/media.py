"""Real media for the demo, tests and benchmarks, and the altered copies an infringer would post.

The media come from Debian packages (photos of ``ukui-wallpapers``, music of
``frozen-bubble-data`` and ``asc-music``, the cartoon movies of ``planetblupi-common``):
real works that nobody here made. The alterations are the ones web copies go through:
resizing, recompression, cropping, excerpts re-encoded to MP3 or to a smaller MP4.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from tanba.core.exceptions import TanbaError

IMAGE_DIRS = (Path("/usr/share/backgrounds"),)
AUDIO_DIRS = (Path("/usr/share/games/frozen-bubble/snd"), Path("/usr/share/games/asc/music"))
# Planet Blupi's cartoon movies: 320x240 Matroska with sound, 5 to 18 s (GPL-3+).
FILM_DIR = Path("/usr/share/planetblupi/movie")
_INSTALL_HINT = (
    "run scripts/setup (it installs ukui-wallpapers, frozen-bubble-data, asc-music and "
    "planetblupi-common)"
)


def photos() -> list[Path]:
    """Photos installed by Debian packages, sorted for reproducibility."""
    found = sorted(
        p for d in IMAGE_DIRS if d.is_dir() for p in d.iterdir() if p.suffix in (".jpg", ".png")
    )
    if len(found) < 6:
        raise TanbaError(f"found {len(found)} photos in {IMAGE_DIRS[0]}, need 6: {_INSTALL_HINT}")
    return found


def music() -> list[Path]:
    """Music tracks (over a minute long) installed by Debian packages, sorted."""
    names = ("frozen-mainzik-1p.ogg", "frozen-mainzik-2p.ogg", "introzik.ogg")
    found = [d / n for d in AUDIO_DIRS[:1] for n in names if (d / n).is_file()]
    found += sorted(p for d in AUDIO_DIRS[1:] if d.is_dir() for p in d.glob("*.mp3"))
    if len(found) < 3:
        raise TanbaError(f"found {len(found)} music tracks, need 3: {_INSTALL_HINT}")
    return found


def films() -> list[Path]:
    """Short films installed by Debian packages (Planet Blupi's movies), sorted."""
    found = sorted(FILM_DIR.glob("*.mkv")) if FILM_DIR.is_dir() else []
    if not found:
        raise TanbaError(f"found no films in {FILM_DIR}: {_INSTALL_HINT}")
    return found


def web_jpeg(source: Path, *, width: int = 1280, quality: int = 85, crop: float = 0.0) -> bytes:
    """The photo as a website would serve it: cropped by ``crop`` per side, resized, JPEG."""
    with Image.open(source) as im:
        image = im.convert("RGB")
    if crop:
        w, h = image.size
        image = image.crop((int(w * crop), int(h * crop), int(w * (1 - crop)), int(h * (1 - crop))))
    image = image.resize(
        (width, round(width * image.height / image.width)), Image.Resampling.LANCZOS
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def audio_excerpt(source: Path, *, start_s: float, seconds: float, bitrate: str = "128k") -> bytes:
    """``seconds`` of ``source`` from ``start_s``, re-encoded to MP3 (ffmpeg)."""
    return _ffmpeg(["-ss", str(start_s), "-t", str(seconds), "-i", str(source)], bitrate)


def audio_mp3(source: Path, *, bitrate: str = "128k") -> bytes:
    """The whole track re-encoded to MP3."""
    return _ffmpeg(["-i", str(source)], bitrate)


def video_excerpt(source: Path, *, start_s: float, seconds: float, width: int = 240) -> bytes:
    """``seconds`` of the film from ``start_s``, smaller and re-encoded at a low bitrate, as
    MP4 (H.264 and AAC): a pirate's web copy. Written to a file first: an MP4 piped out is
    fragmented, without the index a player (and the fingerprint's sampling) reads."""
    with tempfile.TemporaryDirectory(prefix="tanba-demo-") as tmp:
        out = Path(tmp) / "excerpt.mp4"
        command = [
            "ffmpeg", "-nostdin", "-v", "error", "-ss", str(start_s), "-t", str(seconds),
            "-i", str(source), "-vf", f"scale={width}:-2", "-c:v", "libx264",
            "-preset", "veryfast", "-b:v", "250k", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-b:a", "64k", "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, check=False, timeout=120)
        if done.returncode != 0:
            raise TanbaError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-300:]}")
        return out.read_bytes()


def _ffmpeg(inputs: list[str], bitrate: str) -> bytes:
    command = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        *inputs,
        "-vn",
        "-b:a",
        bitrate,
        "-f",
        "mp3",
        "-",
    ]
    done = subprocess.run(command, capture_output=True, check=False, timeout=120)
    if done.returncode != 0:
        raise TanbaError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-300:]}")
    return done.stdout
