"""Synthetic films for the video tests, made with the ffmpeg command, and the alterations pirates make.

The film is FFmpeg's seeded Game of Life on an 80x60 board scaled up (a picture
that changes all the time, so every second of it is told from the others; not a
zoom, where a crop would be a later frame) with a real track as its soundtrack; unrelated videos are
FFmpeg's Mandelbrot zoom and a cellular automaton. Every source is seeded or
deterministic, so two runs make the same files.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

FILM_SECONDS = 60
SIZE = "320x240"
RATE = 10


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=300)


def film(directory: Path, track: Path, name: str = "film.mp4") -> Path:
    """The registered film: 60 s of Mandelbrot zoom with 60 s of ``track`` from its 30th s."""
    out = directory / name
    if not out.exists():
        ffmpeg(
            "-f", "lavfi", "-i", f"life=s=80x60:r={RATE}:seed=7:ratio=0.3:mold=8:"
            "life_color=white:death_color=black:mold_color=0x2080c0,"
            f"scale={SIZE}:flags=bicubic",
            "-ss", "30", "-i", str(track),
            "-t", str(FILM_SECONDS), "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", str(out),
        )  # fmt: skip
    return out


def unrelated(directory: Path, kind: str) -> Path:
    """A video unrelated to the film: ``mandelbrot`` (a zoom) or ``cellauto`` (20 s, silent)."""
    source = {
        "mandelbrot": f"mandelbrot=s={SIZE}:r={RATE}",
        "cellauto": f"cellauto=s={SIZE}:r={RATE}:seed=5:rule=30",
    }[kind]
    out = directory / f"{kind}.mp4"
    if not out.exists():
        ffmpeg("-f", "lavfi", "-i", source, "-t", "20", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               str(out))  # fmt: skip
    return out


# What pirates do to a 10 s excerpt, as ffmpeg arguments after the input (video filters and
# codecs); each excerpt starts START s into the film.
START = 20.0
ALTERATIONS: dict[str, list[str]] = {
    "reencode-low": ["-vf", "scale=160:120", "-c:v", "libx264", "-b:v", "60k"],
    "letterbox": ["-vf", "scale=320:180,pad=320:240:0:30"],
    "pillarbox": ["-vf", "scale=240:240,pad=320:240:40:0"],
    "crop-10": ["-vf", "crop=iw*0.9:ih*0.9,scale=320:240"],
    "logo": ["-vf", "drawbox=x=iw*0.72:y=ih*0.05:w=iw*0.22:h=ih*0.14:color=white@0.9:t=fill"],
    "mirror": ["-vf", "hflip"],
    "pal-speedup": ["-vf", "setpts=PTS*24/25", "-af", "atempo=25/24"],
    # Picture-in-picture: the film at half size on a grey canvas, off centre.
    "pip": ["-vf", "scale=iw/2:ih/2,pad=iw*2:ih*2:iw/2:ih/4:color=gray"],
}


def excerpt(
    directory: Path,
    source: Path,
    name: str,
    args: list[str],
    *,
    start: float = START,
    seconds: float = 10.0,
) -> Path:
    """``seconds`` of ``source`` from ``start``, altered by ``args`` (input seeking: the
    excerpt's first frame is the film's at ``start``)."""
    out = directory / f"{name}.mp4"
    if not out.exists():
        speed = 25 / 24 if "setpts=PTS*24/25" in " ".join(args) else 1.0
        ffmpeg("-ss", str(start), "-t", str(seconds * speed), "-i", str(source), *args,
               "-c:a", "aac", str(out))  # fmt: skip
    return out


# A fixed camera: one still picture (a frame of FFmpeg's Mandelbrot) and a small square moving
# slowly across it, never back over its own path, so each instant's frame differs from every
# other only by where the square is (tens of bits of PDQ, under the 64 a frame may differ:
# every offset of a copy has all its frames "agreeing", as OpenCV's pedestrians do).
FIXED_CAMERA_SECONDS = 60


def fixed_camera(directory: Path) -> Path:
    """60 s at 10 fps of a still picture with a 12 px square moving over it, silent."""
    out = directory / "fixed-camera.mp4"
    if not out.exists():
        ffmpeg(
            "-f", "lavfi", "-i", f"mandelbrot=s={SIZE}:r={RATE},trim=end_frame=1,"
            f"loop=loop=-1:size=1,setpts=N/{RATE}/TB",
            "-f", "lavfi", "-i", f"color=c=white:s=12x12:r={RATE}",
            "-filter_complex", "[0:v][1:v]overlay=x='20+t*4.5':y='100+60*sin(t/5)',"
            "format=yuv420p",
            "-t", str(FIXED_CAMERA_SECONDS), "-r", str(RATE), "-c:v", "libx264",
            "-preset", "veryfast", str(out),
        )  # fmt: skip
    return out


# A picture that repeats: 8 s of one Game of Life board played twice, then 14 s of another
# board (silent). An excerpt of the first 8 s occurs at two places, equally right; one of the
# other board at one.
LOOP_S = 8.0
LOOPING_SECONDS = 30


def looping(directory: Path) -> Path:
    """30 s at 10 fps: a Game of Life's first 8 s twice (0-8 and 8-16 s), then another's 14 s."""
    out = directory / "looping.mp4"
    if not out.exists():
        board = (
            f"life=s=80x60:r={RATE}:ratio=0.3:mold=8:life_color=white:death_color=black:"
            "mold_color=0x2080c0"
        )
        ffmpeg(
            "-f", "lavfi", "-i", f"{board}:seed=11",
            "-f", "lavfi", "-i", f"{board}:seed=23",
            "-filter_complex",
            f"[0:v]trim=duration={LOOP_S},setpts=PTS-STARTPTS,split[a][b];"
            f"[1:v]trim=duration={LOOPING_SECONDS - 2 * LOOP_S},setpts=PTS-STARTPTS[c];"
            f"[a][b][c]concat=n=3:v=1,scale={SIZE}:flags=bicubic,format=yuv420p",
            "-r", str(RATE), "-c:v", "libx264", "-preset", "veryfast", str(out),
        )  # fmt: skip
    return out


def lying(directory: Path, seconds: float, claimed_s: float) -> tuple[Path, Path]:
    """A Matroska clip of ``seconds`` (a Mandelbrot zoom, one keyframe) and the same file
    whose header claims ``claimed_s``: its Segment Info Duration (EBML id 0x4489, an 8-byte
    float in milliseconds) rewritten, every other byte kept."""
    honest, liar = directory / "honest.mkv", directory / "lying.mkv"
    ffmpeg("-f", "lavfi", "-i", f"mandelbrot=s=160x120:r={RATE}", "-t", str(seconds),
           "-c:v", "libx264", "-g", "250", str(honest))  # fmt: skip
    data = bytearray(honest.read_bytes())
    at = data.find(b"\x44\x89\x88")
    assert at > 0, "no 8-byte Duration element in the Matroska header"
    data[at + 3 : at + 11] = struct.pack(">d", claimed_s * 1000)
    liar.write_bytes(bytes(data))
    return honest, liar
