"""Video matching on real footage: recall per alteration, false matches, offsets, speed.

Real clips (``bench.media.video_clips``, installed by ``bench/fetch-media``):
Planet Blupi's 14 cartoon movies, Lebiniou's 12 visualiser recordings and six
single clips (OpenCV's pedestrians, tree and film trailer, Kivy's CC0 city, a
1906 newsreel, a phone clip). Sorted, every other clip of each package is
registered (16 works); the other 16 are never registered and are the unrelated
videos. From each registered clip an excerpt of up to 8 s from its middle is cut
and altered as pirates do (``ALTERATIONS``); every excerpt and every unrelated
clip (as is and re-encoded) is queried.

Thresholds: the defaults of ``TANBA_VIDEO_*`` were set on the synthetic test film
(tests/support/video.py) and a Planet Blupi composite while building; none was
tuned on this benchmark's figures; the picture-in-picture canvas constants
(``tanba/fingerprint/video.py``: ``_CANVAS_*``, ``_INSET_*``) were set on the test
film's picture-in-picture and synthetic frames, and checked on the calibration half
only before the held-out half was looked at.

Beside the fast index (``ChunkVideoIndex``) the same queries run on the linear
reference (``LinearVideoIndex``, every frame against every frame) in the same run.
A second part registers one film made of the registered clips end to end and
queries 10 s excerpts of it (re-encoded at 240p): the offset error. Speed: the
fingerprint's seconds per minute of video (picture and soundtrack, through the
decoder sandbox), on the clips and on a 720p H.264 encode of the film; query
milliseconds of each index.

    python -m bench.video [--cache DIR] [--no-film]

Splits: each registered clip (its queries) and each unrelated clip is in the calibration or
the held-out half by a hash of its file name (:func:`split_of`); every row prints its recall
over both halves and each half's, so thresholds are chosen on the calibration half and
reported on the held-out one from the same run.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import itertools
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.media import video_clips
from tanba.core.schemas.common import VIDEO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.video import VideoPrint, distances, words
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.video import video_print
from tanba.matcher.video_catalogue import MappedVideoIndex, VideoCatalogueWriter
from tanba.matcher.video_index import ChunkVideoIndex, LinearVideoIndex
from tanba.matcher.video_signal import POSITION_CLOSENESS, SAME_POSITION_S, VideoSignal

EXCERPT_S = 8.0
ALTERATIONS: dict[str, list[str]] = {
    "copy": [],
    "reencode-240p-150k": ["-vf", "scale=-2:240", "-b:v", "150k"],
    "letterbox": ["-vf", "scale=640:270,pad=640:480:0:105"],
    "pillarbox": ["-vf", "scale=360:480,pad=640:480:140:0"],
    "crop-10": ["-vf", "crop=iw*0.9:ih*0.9"],
    "logo": ["-vf", "drawbox=x=iw*0.72:y=ih*0.05:w=iw*0.22:h=ih*0.14:color=white@0.9:t=fill"],
    "subtitles": [
        "-vf",
        "drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf:"
        "text='Пиратская копия фильма':fontsize=h/12:fontcolor=white:borderw=2:"
        "x=(w-text_w)/2:y=h*0.85",
    ],
    "mirror": ["-vf", "hflip"],
    "pal-speedup": ["-vf", "setpts=PTS*24/25", "-af", "atempo=25/24"],
    "muted": ["-an"],
    "camcorder": [
        "-vf",
        "perspective=x0=W*0.04:y0=H*0.03:x1=W*0.97:y1=0:x2=0:y2=H:x3=W*0.95:y3=H*0.96,"
        "gblur=sigma=1.2,noise=alls=12:allf=t,eq=brightness=0.06:contrast=0.9",
    ],
    "pip": ["-vf", "scale=iw/2:ih/2,pad=iw*2:ih*2:iw/2:ih/4:color=gray"],
    # As streamed: no edit list (the picture's timestamps start at the decoder's delay).
    "fragmented": ["-movflags", "frag_keyframe+empty_moov"],
}
# Picture-in-picture and camcorder copies are the hard cases (floor 0.80, not 0.95).
HARD = ("camcorder", "pip")


SPLITS = ("calibration", "held-out")


def split_of(name: str) -> str:
    """The half a clip is in, by a hash of its file name (stable across runs and machines)."""
    return SPLITS[hashlib.sha256(name.encode()).digest()[0] % 2]


@dataclass
class Row:
    """One alteration's figures on one index."""

    total: int = 0
    found: int = 0
    by_split: dict[str, list[int]] = field(default_factory=dict)  # split: [found, total]
    false: int = 0
    max_error: float = 0.0
    ms: list[float] = field(default_factory=list)
    evidence: dict[str, int] = field(default_factory=dict)
    true_listed: int = 0  # found excerpts whose cut is among the positions listed
    several: list[str] = field(default_factory=list)  # works of the excerpts listing more
    listed: list[int] = field(default_factory=list)  # positions listed per found excerpt


# A listed position is where the excerpt was cut when within the offsets' floor (2 s).
RIGHT_S = 2.0


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=600)


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(out.strip())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.video")
    parser.add_argument("--cache", type=Path, default=None, help="keep the altered clips here")
    parser.add_argument(
        "--catalogue",
        type=int,
        default=0,
        metavar="FILMS",
        help="only time 10 s queries against FILMS films of 2 hours (real frames, perturbed, "
        "2 a second) memory-mapped, beside the linear index",
    )
    parser.add_argument(
        "--linear-queries",
        type=int,
        default=LINEAR_QUERIES,
        metavar="N",
        help="with --catalogue: queries the linear baseline answers (minutes each at 1,000 "
        f"films; default {LINEAR_QUERIES})",
    )
    parser.add_argument(
        "--film",
        action="store_true",
        help="only the film part: fingerprint speed (before/after, and vpdq's) and 10 s excerpts",
    )
    parser.add_argument(
        "--two-hours",
        action="store_true",
        help="with --film: also fingerprint the film repeated to 2 hours (a 2.7 GB file in --cache)",
    )
    parser.add_argument(
        "--no-film", action="store_true", help="only the clips' table, not the film part"
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="ALTERATIONS",
        help="comma-separated alterations to run (default: all); the unrelated clips always",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        metavar="N",
        help="only the first N registered clips' excerpts (a quick run; the unrelated clips all)",
    )
    parser.add_argument(
        "--why",
        default="",
        metavar="ALTERATIONS",
        help="comma-separated alterations whose missed pictures are explained: per excerpt, the "
        "histogram of each copy frame's distance to the work's frames where it was cut",
    )
    parser.add_argument(
        "--positions",
        default="",
        metavar="ALTERATIONS",
        help="comma-separated alterations whose found pictures' other accepted offsets are "
        "printed with their closeness against the best's (what POSITION_CLOSENESS is chosen "
        "from, on the calibration half) and how far the work's own frames there are from "
        "those where the excerpt was cut (a repeat: near 0)",
    )
    args = parser.parse_args()
    if args.film:
        cache = args.cache or Path(tempfile.mkdtemp(prefix="tanba-bench-video-"))
        cache.mkdir(parents=True, exist_ok=True)
        film_part(cache, video_clips()[::2], Settings.from_env({}), long=args.two_hours)
        return
    if args.catalogue:
        cache = args.cache or Path(tempfile.mkdtemp(prefix="tanba-bench-video-"))
        cache.mkdir(parents=True, exist_ok=True)
        catalogue(args.catalogue, Settings.from_env({}), cache, args.linear_queries)
        return
    cache = args.cache or Path(tempfile.mkdtemp(prefix="tanba-bench-video-"))
    cache.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env({})
    clips = video_clips()
    registered, unrelated = clips[::2], clips[1::2]
    print(f"clips: {len(registered)} registered, {len(unrelated)} unrelated (bench.media)")

    def fp(path: Path, reference: bool = False) -> tuple[Fingerprint | None, float]:
        started = time.perf_counter()
        try:
            result = fingerprint_file(path, path.name.ljust(64, "0")[:64], settings,
                                      reference=reference)  # fmt: skip
        except Unfingerprintable as exc:
            print(f"  not fingerprinted: {path.name}: {exc}")
            return None, time.perf_counter() - started
        return result, time.perf_counter() - started

    # -- register -------------------------------------------------------------------------
    signals = {"chunks": VideoSignal(settings, ChunkVideoIndex()),
               "linear": VideoSignal(settings, LinearVideoIndex())}  # fmt: skip
    spent, minutes = 0.0, 0.0
    for clip in registered:
        print_, seconds = fp(clip, reference=True)
        spent += seconds
        minutes += duration(clip) / 60
        if print_ is not None:
            for signal in signals.values():
                signal.add(clip.name, print_)
    print(f"fingerprint (works, clips): {spent / minutes:.2f} s per video-minute "
          f"({minutes:.1f} min of 240-720p clips in {spent:.1f} s)")  # fmt: skip

    # -- queries ---------------------------------------------------------------------------
    queries: list[tuple[str, str, Path, float]] = []  # alteration, expected work, file, start
    for clip in registered[: args.limit or None]:
        length = duration(clip)
        seconds = min(EXCERPT_S, length - 0.5)
        start = max(0.0, (length - seconds) / 2)
        base = cache / f"{clip.stem}.base.mp4"
        if not base.exists():  # every excerpt from one plain decode at 640x480
            ffmpeg("-i", str(clip), "-vf", "scale=640:480,setsar=1", "-r", "25",
                   "-c:v", "libx264", "-crf", "18", "-c:a", "aac", str(base))  # fmt: skip
        for name, extra in ALTERATIONS.items():
            if args.only and name not in args.only.split(","):
                continue
            out = cache / f"{clip.stem}.{name}.mp4"
            speed = 25 / 24 if name == "pal-speedup" else 1.0
            if not out.exists():
                ffmpeg("-ss", f"{start:.2f}", "-t", f"{seconds * speed:.2f}", "-i", str(base),
                       *extra, str(out))  # fmt: skip
            queries.append((name, clip.name, out, start))
    for clip in unrelated:
        out = cache / f"{clip.stem}.unrelated-reencoded.mp4"
        if not out.exists():
            ffmpeg("-i", str(clip), "-vf", "scale=-2:240", "-b:v", "150k", str(out))
        queries.append(("unrelated", "", clip, 0.0))
        queries.append(("unrelated-reencoded", "", out, 0.0))

    printed = [(q, fp(q[2])[0]) for q in queries]
    rows: dict[str, dict[str, Row]] = {k: {} for k in signals}
    for kind, signal in signals.items():
        for (name, expected, _path, start), print_ in printed:
            row = rows[kind].setdefault(name, Row())
            row.total += 1
            half = row.by_split.setdefault(split_of(expected or _path.name), [0, 0])
            half[1] += 1
            if print_ is None:
                continue
            started = time.perf_counter()
            matches = signal.match(print_)
            row.ms.append((time.perf_counter() - started) * 1000)
            row.false += sum(m.work_id != expected for m in matches)
            right = [m for m in matches if m.work_id == expected]
            if right:
                d = right[0].detail
                row.found += 1
                half[0] += 1
                if d.offset_s is not None and d.query_offset_s is not None:
                    # Where the copy's first second is in the work, against where it was cut.
                    copy_start = d.offset_s - (d.scale or 1.0) * d.query_offset_s
                    row.max_error = max(row.max_error, abs(copy_start - start))
                    # Every position listed (one when none are: the match's own).
                    starts = [p.offset_s - (d.scale or 1.0) * p.query_offset_s
                              for p in d.positions] or [copy_start]  # fmt: skip
                    row.listed.append(len(starts))
                    if len(starts) > 1:
                        row.several.append(f"{expected} ({d.evidence})")
                    row.true_listed += any(abs(s - start) <= RIGHT_S for s in starts)
                row.evidence[d.evidence] = row.evidence.get(d.evidence, 0) + 1
    for (name, expected, _path, start), print_ in printed:
        if name in args.why.split(",") and print_ is not None and print_.video is not None:
            why(name, expected, start, print_.video, signals["chunks"], settings)
    ratios: dict[str, list[float]] = {}  # split: every other accepted offset's closeness ratio
    for (name, expected, _path, start), print_ in printed:
        if name in args.positions.split(",") and print_ is not None and print_.video is not None:
            for part, ratio in positions(name, expected, start, print_.video, signals["chunks"]):
                ratios.setdefault(part, []).append(ratio)
    for part, others in sorted(ratios.items()):
        print(f"positions [{part}]: {len(others)} other accepted offsets, closeness / best's: "
              f"{' '.join(f'{r:.2f}' for r in sorted(others, reverse=True))}")  # fmt: skip
    for kind in signals:
        print(f"\nindex: {kind}")
        print(f"  {'alteration':<22} {'recall':>7} {'cal':>5} {'held':>5} {'false':>6} "
              f"{'max offset err s':>17} {'cut listed':>10} {'positions':>9} "
              f"{'query ms p50/max':>17}  evidence")  # fmt: skip
        for name, row in rows[kind].items():
            is_unrelated = name.startswith("unrelated")
            recall = "-" if is_unrelated else f"{row.found}/{row.total}"
            cal, held = (
                "-" if is_unrelated else "{}/{}".format(*row.by_split.get(half, [0, 0]))
                for half in SPLITS
            )
            times = f"{statistics.median(row.ms):.1f}/{max(row.ms):.1f}" if row.ms else "-"
            hard = " (hard)" if name in HARD else ""
            evidence = " ".join(f"{k}:{v}" for k, v in sorted(row.evidence.items()))
            listed = "-" if is_unrelated else f"{row.true_listed}/{row.found}"
            # Positions per found excerpt: how many had 1, 2, ... (a listing of every offset
            # would show as many).
            counts = (
                "-"
                if not row.listed
                else " ".join(
                    f"{n}x{c}" for n, c in sorted(collections.Counter(row.listed).items())
                )
            )
            print(f"  {name + hard:<22} {recall:>7} {cal:>5} {held:>5} {row.false:>6} "
                  f"{row.max_error:>17.2f} {listed:>10} {counts:>9} {times:>17}  "
                  f"{evidence}")  # fmt: skip
        several = {n: r.several for n, r in rows[kind].items() if r.several}
        print("  more than one position listed: " + "; ".join(
            f"{n}: {', '.join(w)}" for n, w in several.items()) if several else "")  # fmt: skip
    if not args.no_film:
        film_part(cache, registered, settings)


def positions(
    name: str, expected: str, start: float, copy: VideoPrint, signal: VideoSignal
) -> list[tuple[str, float]]:
    """Print the found picture's other accepted offsets (before the closeness tolerance):
    each with its closeness against the best's, and the median distance between the work's
    own frames there and where the excerpt was cut (a repeat of the picture: near 0, another
    scene: tens of bits), whether it is listed; return (split, ratio) of each."""
    found = signal.pictures(copy).get(expected)
    work = signal.index.frames(expected)
    if found is None or work is None:
        return []
    speed = 25 / 24 if name == "pal-speedup" else 1.0
    times = speed * copy.times()

    def frame_at(at: np.ndarray) -> np.ndarray:
        return np.abs(work.times[None, :] - at[:, None]).argmin(axis=1)

    cut = work.words[frame_at(start + times)]
    out = []
    said = []
    for other in found.others:
        ratio = other.closeness / max(found.closeness, 1)
        # The work against itself there, at the nearest quarter-second (a repeat placed 0.25 s
        # off would look like another scene).
        self_d = min(
            int(
                np.median(
                    np.bitwise_count(cut ^ work.words[frame_at(other.start_s + shift + times)]).sum(
                        axis=1
                    )
                )
            )
            for shift in (-0.5, -0.25, 0.0, 0.25, 0.5)
        )
        listed = "listed" if ratio >= POSITION_CLOSENESS else "not listed"
        right = "cut" if abs(other.start_s - start) <= SAME_POSITION_S else f"work self {self_d}"
        said.append(f"{other.start_s:.2f} s ({ratio:.2f}, {right}, {listed})")
        out.append((split_of(expected), ratio))
    print(f"positions {name} {expected} [{split_of(expected)}]: cut {start:.2f}, best "
          f"{found.start_s:.2f} s ({found.agree} agree); others: {'; '.join(said) or 'none'}")  # fmt: skip
    return out


def why(
    name: str,
    expected: str,
    start: float,
    copy: VideoPrint,
    signal: VideoSignal,
    settings: Settings,
) -> None:
    """Why an excerpt's picture was missed or found: for each copy frame (and each variant),
    its distance to the nearest work frame within 0.6 s of where it was cut, as a histogram
    of 16-bit bins, and what the matcher's picture alignment said."""
    work = signal.index.frames(expected)
    if work is None:
        print(f"why {name} {expected}: the work has no frames")
        return
    speed = 25 / 24 if name == "pal-speedup" else 1.0
    found = signal.pictures(copy).get(expected)
    said = "missed"
    if found:
        placed = found.offset_s - found.scale * found.query_offset_s
        said = (f"found ({found.variant or 'plain'}, {found.agree} agree, placed at {placed:.2f} "
                f"s, cut at {start:.2f} s)")  # fmt: skip
    print(f"why {name} {expected} [{split_of(expected)}]: picture {said}; copy frames "
          f"{copy.frames}, work frames {len(work.times)}")  # fmt: skip
    variants = [("plain", copy.times(), copy.hashes()), ("mirrored", copy.times(), copy.mirrored())]
    variants.append(("inset", *copy.insets()))
    variants.append(("unmarked", copy.times(), copy.unmarked()))
    for variant, times, hashes in variants:
        if hashes is None or not len(hashes):
            continue
        d = distances(words(hashes), work.words)
        near = np.abs(work.times[None, :] - (start + speed * times)[:, None]) <= 0.6
        best = np.where(near, d, 256).min(axis=1)
        hist = np.bincount(np.minimum(best // 16, 16), minlength=17)
        print(f"  {variant:<8} nearest-in-time bits, 16-bit bins from 0 (last: no work frame "
              f"near): {' '.join(map(str, hist))}; within {settings.video_max_distance}: "
              f"{int((best <= settings.video_max_distance).sum())}")  # fmt: skip


# How the film is fingerprinted, each way timed in the same run: dense (clips, and every video
# before keyframe windows), and the keyframe windows a video declaring TANBA_VIDEO_SPARSE_AFTER_S
# or more gets (forced here on a 4-minute film), with and without H.264's reference B-frames.
FILM_WAYS: dict[str, dict[str, Any]] = {
    "before: dense, 2 a second": {"sparse_after_s": float("inf")},
    "keyframe windows, B-refs": {"sparse_after_s": 0.0, "skip_b_frames": False},
    "keyframe windows (films)": {"sparse_after_s": 0.0},
}


def film_part(cache: Path, registered: list[Path], settings: Settings, long: bool = False) -> None:
    """One film of the registered clips end to end; 10 s excerpts of it; offsets; 720p speed.

    Speed is the process's CPU time (one decoding thread, so one core's work, whatever else
    the shared machine runs) beside the wall time, in this process (not the sandbox), for each
    of :data:`FILM_WAYS` and for vpdq at one hash a second (its CPU time over all its threads).
    """
    film = cache / "film720.mp4"
    if not film.exists():
        inputs, chains, joined = [], [], ""
        for i, clip in enumerate(registered):
            inputs += ["-i", str(clip)]
            chains.append(f"[{i}:v]scale=1280:720,setsar=1,fps=25[v{i}]")
            joined += f"[v{i}]"
        graph = ";".join(chains) + f";{joined}concat=n={len(registered)}:v=1:a=0[v]"
        ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
               "-preset", "veryfast", "-g", "250", str(film))  # fmt: skip
    length = duration(film)
    excerpts: dict[int, VideoPrint] = {}
    # Every 5 s: those at 5 s past a multiple of 20 are the ones the keyframe windows were
    # chosen on (KEY_SHARE, KEY_WINDOW_S), the others held out.
    for start in range(5, int(length) - 12, 5):
        out = cache / f"film.at{start}.mp4"
        if not out.exists():
            ffmpeg("-ss", str(start), "-t", "10", "-i", str(film), "-vf", "scale=-2:240",
                   "-b:v", "150k", str(out))  # fmt: skip
        excerpts[start] = video_print(out, max_seconds=3600, timeout_s=600, reference=False)
    print(f"\nfilm: {length:.0f} s of 720p H.264 at 25 fps (the registered clips end to end, "
          f"silent); {len(excerpts)} excerpts of 10 s at 240p/150k queried, one every 5 s")  # fmt: skip
    print(f"  {'picture fingerprint':<32} {'cpu s':>6} {'wall s':>7} {'x realtime':>10} "
          f"{'frames':>6}  excerpts found (max offset error): tuning; held-out")  # fmt: skip
    cpu_s: dict[str, float] = {}
    for name, options in FILM_WAYS.items():
        cpu, wall = time.process_time(), time.perf_counter()
        work = video_print(film, max_seconds=14_400, timeout_s=3600, reference=True, **options)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu_s[name] = cpu
        signal = VideoSignal(settings, ChunkVideoIndex())
        signal.add("film", Fingerprint(media=VIDEO, sha256="f" * 64, video=work))
        # Each found excerpt's offset error at the match's best position, and at the nearest
        # of the positions it lists (a looping picture, planetblupi's win005 in 55-72 s,
        # repeats every 4 s: its excerpts are as close at 4 s either side).
        errors: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for start, excerpt in excerpts.items():
            matches = signal.match(Fingerprint(media=VIDEO, sha256="e" * 64, video=excerpt))
            if matches and matches[0].work_id == "film":
                d = matches[0].detail
                top = abs((d.offset_s or 0) - (d.query_offset_s or 0) - start)
                listed = [abs(p.offset_s - p.query_offset_s - start) for p in d.positions]
                errors[start % 20 == 5].append((top, min([top, *listed])))
        said = []
        for tuning in (True, False):
            of = sum(1 for start in excerpts if (start % 20 == 5) == tuning)
            worst = "-"
            if errors[tuning]:
                tops, nearest = zip(*errors[tuning], strict=True)
                worst = f"{max(tops):.2f} s, listed {max(nearest):.2f} s"
            said.append(f"{len(errors[tuning])}/{of} ({worst})")
        print(f"  {name:<32} {cpu:>6.2f} {wall:>7.2f} {length / cpu:>9.0f}x {work.frames:>6}  "
              f"{'; '.join(said)}")  # fmt: skip
    # A whole-film copy is sampled in keyframe windows too, at its own keyframes (re-encoded:
    # not the work's): the windows must still meet.
    copy = cache / "film360.mp4"
    if not copy.exists():
        ffmpeg("-i", str(film), "-vf", "scale=-2:360", "-c:v", "libx264", "-b:v", "400k", str(copy))
    whole = video_print(copy, max_seconds=14_400, timeout_s=3600, reference=False,
                        sparse_after_s=0.0)  # fmt: skip
    matches = signal.match(Fingerprint(media=VIDEO, sha256="c" * 64, video=whole))
    said = "not found"
    if matches and matches[0].work_id == "film":
        d = matches[0].detail
        said = (f"found, {d.frames} frames agree over {d.duration_s:.0f} s, offset error "
                f"{abs((d.offset_s or 0) - (d.query_offset_s or 0)):.2f} s")  # fmt: skip
    print(f"  the whole film at 360p/400k, both sampled in keyframe windows: {said}")
    vpdq_part(film, length, cpu_s)
    if long:
        two_hours(cache, film, length)


def two_hours(cache: Path, film: Path, length: float) -> None:
    """The film repeated (stream copy) to two hours and more, fingerprinted as any film is
    (declared over TANBA_VIDEO_SPARSE_AFTER_S: keyframe windows): the floor's 2-hour film."""
    repeats = int(np.ceil(7200 / length))
    long_film = cache / f"film720x{repeats}.mp4"
    if not long_film.exists():
        listing = cache / "film720-concat.txt"
        listing.write_text(f"file '{film.resolve()}'\n" * repeats, encoding="utf-8")
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(long_film))
    cpu, wall = time.process_time(), time.perf_counter()
    work = video_print(long_film, max_seconds=14_400, timeout_s=3600, reference=True)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"  {work.duration_s:.0f} s (the film {repeats} times, {long_film.stat().st_size / 2**30:.1f} "
          f"GB), default settings: CPU {cpu:.1f} s ({work.duration_s / cpu:.0f}x realtime), wall "
          f"{wall:.1f} s, {work.frames} frames")  # fmt: skip


def vpdq_part(film: Path, length: float, cpu_s: dict[str, float]) -> None:
    """vpdq (ThreatExchange's, from PyPI) on the same film at one hash a second, if installed."""
    try:
        import vpdq  # type: ignore[import-not-found]
    except ImportError:
        print("  vpdq: not installed (bench/fetch-media installs it with FFmpeg's dev libraries)")
        return
    cpu, wall = time.process_time(), time.perf_counter()
    hashes = vpdq.computeHash(str(film), seconds_per_hash=1.0, thread_count=1)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"  {'vpdq 0.2.5, 1 hash a second':<32} {cpu:>6.2f} {wall:>7.2f} {length / cpu:>9.0f}x "
          f"{len(hashes):>6}  (baseline)")  # fmt: skip
    print("  CPU time against vpdq's: " + ", ".join(
        f"{name} {cpu / spent:.1f}x faster" for name, spent in cpu_s.items()))  # fmt: skip


FILM_FRAMES = 2 * 7200  # a two-hour film, two frames a second
LINEAR_QUERIES = 3  # the linear index compares every frame: a few queries only


def catalogue(
    films: int, settings: Settings, cache: Path, linear_queries: int = LINEAR_QUERIES
) -> None:
    """10 s queries against ``films`` two-hour films made of real frames, memory-mapped.

    The films: shots of 2-10 s cut from the frame sequences of the 16 unrelated clips (their
    hashes and their mirrored hashes, in order), each frame's hash with about 10% of its bits
    flipped at random (a re-encode's noise), shots drawn at random: the hash statistics of real
    footage (frames alike within a shot, crowded chunk values), never a copy of a registered
    clip. The 16 registered clips are filed among them (the 500th film onwards). The catalogue
    is written by :class:`VideoCatalogueWriter` to ``cache`` and opened by
    :class:`MappedVideoIndex`; a 10 s excerpt (at 240p) of each registered clip is queried,
    three rounds, through :class:`VideoSignal` (lookup and alignment): p50/p95, and whether
    each found its clip and nothing else; then the same excerpts at half size on a grey
    canvas (picture-in-picture: a third query variant, the inner picture). The linear index (every frame, over the same mapped
    arrays) answers the first :data:`LINEAR_QUERIES` queries beside it.
    """
    rng = np.random.default_rng(17)
    clips = video_clips()
    registered, unrelated = clips[::2], clips[1::2]
    sources: list[np.ndarray] = []
    for clip in unrelated:
        try:
            v = video_print(clip, max_seconds=3600, timeout_s=600, reference=False)
        except Unfingerprintable:
            continue
        sources += [words(v.hashes()), words(v.mirrored())]  # type: ignore[arg-type]
    directory = cache / f"catalogue-{films}"
    queries: list[tuple[str, VideoPrint]] = []
    pips: list[tuple[str, VideoPrint]] = []  # the same excerpts as picture-in-picture
    works: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for clip in registered:
        try:
            work = video_print(clip, max_seconds=3600, timeout_s=600, reference=True)
        except Unfingerprintable:
            continue
        times = np.concatenate([work.times(), work.times()])
        hashes = np.concatenate([work.hashes(), work.zoomed()])  # type: ignore[list-item]
        order = np.argsort(times, kind="stable")
        works[clip.name] = (times[order], words(hashes[order]))
        excerpt = cache / f"{clip.stem}.catalogue-query.mp4"
        if not excerpt.exists():
            start = max(0.0, (duration(clip) - 10) / 2)
            ffmpeg("-ss", f"{start:.2f}", "-t", "10", "-i", str(clip), "-vf", "scale=-2:240",
                   "-b:v", "150k", str(excerpt))  # fmt: skip
        pip = cache / f"{clip.stem}.catalogue-pip.mp4"
        if not pip.exists():
            ffmpeg("-i", str(excerpt), "-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2,"
                   "pad=iw*2:ih*2:iw/2:ih/4:color=gray", "-b:v", "150k", str(pip))  # fmt: skip
        for path, into in ((excerpt, queries), (pip, pips)):
            try:
                into.append((clip.name, video_print(path, max_seconds=60, timeout_s=60,
                                                    reference=False)))  # fmt: skip
            except Unfingerprintable:
                continue
    started = time.perf_counter()
    if not (directory / "gen-0" / "works.json").exists():
        writer = VideoCatalogueWriter(directory / "gen-0")
        real = iter(works.items())
        for i in range(films):
            writer.add(f"film-{i}", np.arange(FILM_FRAMES) * 0.5, _film(rng, sources))
            if i >= films // 2:
                for work_id, (times, hashes) in itertools.islice(real, 1):
                    writer.add(work_id, times, hashes)
        for work_id, (times, hashes) in real:
            writer.add(work_id, times, hashes)
        writer.close()
        built = f"written in {time.perf_counter() - started:.0f} s"
    else:
        built = "written by an earlier run"
    size = sum(f.stat().st_size for f in (directory / "gen-0").iterdir())
    started = time.perf_counter()
    index = MappedVideoIndex(directory)
    opened = (time.perf_counter() - started) * 1000
    print(f"catalogue: {films:,} films of 2 h ({films * FILM_FRAMES:,} frames) and "
          f"{len(works)} real clips, {built}, {size / 2**30:.2f} GB of files, "
          f"opened (mapped) in {opened:.0f} ms")  # fmt: skip
    signal = VideoSignal(settings, index)
    for label, asked in (("", queries), ("picture-in-picture ", pips)):
        ms: list[float] = []
        cpu_ms: list[float] = []  # this thread's CPU: what the shared machine's load leaves out
        found = wrong = 0
        for round_ in range(3):
            for expected, query in asked:
                began, cpu = time.perf_counter(), time.thread_time()
                matches = signal.match(Fingerprint(media=VIDEO, sha256="e" * 64, video=query))
                ms.append((time.perf_counter() - began) * 1000)
                cpu_ms.append((time.thread_time() - cpu) * 1000)
                if round_ == 0:
                    found += any(m.work_id == expected for m in matches)
                    wrong += sum(m.work_id != expected for m in matches)
        first = ms[0]
        p50, p95 = np.percentile(ms, 50), np.percentile(ms, 95)
        print(f"  mapped: {len(ms)} {label}queries of 10 s: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
              f"max {max(ms):.1f} ms (the first: {first:.1f} ms); CPU p50 "
              f"{np.percentile(cpu_ms, 50):.1f} ms, p95 {np.percentile(cpu_ms, 95):.1f} ms; "
              f"{found}/{len(asked)} found their clip, {wrong} other matches")  # fmt: skip
    if linear_queries:
        linear = LinearVideoIndex()
        for work_id in index.work_ids():
            frames = index.frames(work_id)
            assert frames is not None
            linear.add(work_id, frames.times, frames.words)
        signal = VideoSignal(settings, linear)
        ms = []
        for _expected, query in queries[:linear_queries]:
            began = time.perf_counter()
            signal.match(Fingerprint(media=VIDEO, sha256="e" * 64, video=query))
            ms.append((time.perf_counter() - began) * 1000)
        print(f"  linear: {len(ms)} queries: p50 {np.percentile(ms, 50):.0f} ms, max "
              f"{max(ms):.0f} ms")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak resident memory of this process: {peak:.2f} GB")


def _film(rng: np.random.Generator, sources: list[np.ndarray]) -> np.ndarray:
    """A film's frame hashes: shots of real frame sequences, each frame ~10% of bits flipped."""
    shots = []
    total = 0
    while total < FILM_FRAMES:
        source = sources[rng.integers(len(sources))]
        length = int(rng.integers(4, 21))
        at = int(rng.integers(max(len(source) - length, 1)))
        shot = source[at : at + length]
        shots.append(shot)
        total += len(shot)
    frames = np.concatenate(shots)[:FILM_FRAMES]
    noise = np.packbits(rng.random((FILM_FRAMES, 256)) < 0.1, axis=1)
    return frames ^ noise.view("<u8").reshape(-1, 4)


if __name__ == "__main__":
    main()
