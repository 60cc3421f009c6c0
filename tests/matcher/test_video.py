"""Video matching: the same cases on the linear and the chunk index, and the picture/sound rule.

The film is synthetic (tests/support/video.py: FFmpeg's Mandelbrot zoom with a
real track as soundtrack), so these run wherever the tests run; bench/video.py
measures the same alterations on real footage.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tanba.core.schemas.common import VIDEO, Fingerprint
from tanba.core.schemas.matches import MatchDetail
from tanba.core.settings import Settings
from tanba.core.signals import video as signals
from tanba.core.signals.video import PDQ_FRAMES, VideoPrint
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.video import video_print
from tanba.matcher.signal import SignalMatch
from tanba.matcher.video_catalogue import MappedVideoIndex
from tanba.matcher.video_index import ChunkVideoIndex, LinearVideoIndex, VideoIndex
from tanba.matcher.video_signal import PictureMatch, VideoSignal
from tests.support.video import (
    ALTERATIONS,
    FIXED_CAMERA_SECONDS,
    LOOP_S,
    START,
    excerpt,
    ffmpeg,
    film,
    fixed_camera,
    looping,
    unrelated,
)

# The mapped indexes' files, removed when the test process ends.
_MAPPED = tempfile.TemporaryDirectory(prefix="tanba-test-video-")
INDEXES: dict[str, Callable[[], VideoIndex]] = {
    "linear": LinearVideoIndex,
    "chunks": ChunkVideoIndex,
    # Frozen to its files at the first query: the mapped path answers, not the delta.
    "mapped": lambda: MappedVideoIndex(Path(tempfile.mkdtemp(dir=_MAPPED.name)), freeze_frames=1),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, tracks: list[Path]) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("video")
    made = {"film": film(directory, tracks[0])}
    made["other-film"] = film(directory, tracks[1], "other.mp4")  # same picture, other sound
    for name, args in ALTERATIONS.items():
        made[name] = excerpt(directory, made["film"], name, args)
    made["muted"] = excerpt(directory, made["film"], "muted", ["-an"])
    made["mandelbrot"] = unrelated(directory, "mandelbrot")
    made["cellauto"] = unrelated(directory, "cellauto")
    # The film's sound under an unrelated picture: a copy with its picture replaced.
    new_picture = directory / "new-picture.mp4"
    ffmpeg("-i", str(made["mandelbrot"]), "-ss", str(START), "-t", "10", "-i", str(made["film"]),
           "-map", "0:v", "-map", "1:a", "-t", "10", "-c:v", "copy", "-c:a", "aac",
           str(new_picture))  # fmt: skip
    made["new-picture"] = new_picture
    return made


@pytest.fixture(scope="module")
def prints(clips: dict[str, Path]) -> dict[str, Fingerprint]:
    settings = Settings.from_env({})
    return {
        name: fingerprint_file(path, f"{i:064x}", settings, reference=name == "film")
        for i, (name, path) in enumerate(clips.items())
    }


def _signal(kind: str, prints: dict[str, Fingerprint]) -> VideoSignal:
    signal = VideoSignal(Settings.from_env({}), INDEXES[kind]())
    signal.add("film", prints["film"])
    return signal


def _only(matches: list[SignalMatch], work_id: str = "film") -> SignalMatch:
    assert [m.work_id for m in matches] == [work_id], matches
    return matches[0]


@pytest.mark.parametrize("kind", INDEXES)
@pytest.mark.parametrize("alteration", [*ALTERATIONS, "muted"])
def test_an_altered_excerpt_is_found_where_it_was_cut(
    prints: dict[str, Fingerprint], kind: str, alteration: str
) -> None:
    match = _only(_signal(kind, prints).match(prints[alteration]))
    detail = match.detail
    assert detail.evidence in ("picture", "both")
    assert detail.offset_s is not None and detail.query_offset_s is not None
    # Where in the film the matched span starts: START plus where it starts in the copy.
    scale = detail.scale or 1.0
    assert abs(detail.offset_s - (START + scale * detail.query_offset_s)) <= 1.0
    assert detail.query_offset_s <= 2.0 and detail.duration_s is not None
    assert detail.duration_s >= 7.0
    assert detail.variant == {"mirror": "mirrored", "pip": "inset"}.get(alteration, "")


@pytest.mark.parametrize("kind", INDEXES)
def test_unrelated_videos_stay_apart(prints: dict[str, Fingerprint], kind: str) -> None:
    signal = _signal(kind, prints)
    for name in ("mandelbrot", "cellauto"):
        assert signal.match(prints[name]) == [], name


@pytest.mark.parametrize("kind", INDEXES)
def test_picture_sound_or_both_say_what_agreed(prints: dict[str, Fingerprint], kind: str) -> None:
    signal = _signal(kind, prints)
    assert _only(signal.match(prints["reencode-low"])).detail.evidence == "both"
    assert _only(signal.match(prints["muted"])).detail.evidence == "picture"
    sound = _only(signal.match(prints["new-picture"]))
    assert sound.detail.evidence == "sound"
    assert sound.detail.offset_s is not None and abs(sound.detail.offset_s - START) <= 1.0
    # The same picture with another soundtrack: found by its picture alone.
    assert _only(signal.match(prints["other-film"])).detail.evidence == "picture"


@pytest.mark.parametrize("kind", ["chunks", "mapped"])
def test_the_fast_indexes_find_what_the_linear_one_finds(
    prints: dict[str, Fingerprint], kind: str
) -> None:
    linear, fast = _signal("linear", prints), _signal(kind, prints)
    for name in [*ALTERATIONS, "muted", "mandelbrot", "cellauto"]:
        a, b = linear.match(prints[name]), fast.match(prints[name])
        assert [(m.work_id, m.detail.offset_s) for m in a] == [
            (m.work_id, m.detail.offset_s) for m in b
        ], name


def test_near_pairs_within_15_bits_are_always_found_by_the_chunk_index() -> None:
    rng = np.random.default_rng(7)
    registered = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    query = registered[::10].copy()
    for row in query:  # 15 random bits flipped: some 16-bit chunk is untouched
        bits = np.unpackbits(row)
        bits[rng.choice(256, 15, replace=False)] ^= 1
        row[:] = np.packbits(bits)
    words = registered.view("<u8").reshape(-1, 4)
    times = np.arange(300) * 0.5
    linear = LinearVideoIndex()
    linear.add("w", times, words)
    q = query.view("<u8").reshape(-1, 4)
    a = linear.pairs(q, 15)["w"]
    assert len(a.query) == 30
    for kind in ("chunks", "mapped"):
        fast = INDEXES[kind]()
        fast.add("w", times, words)
        b = fast.pairs(q, 15)["w"]
        assert sorted(zip(a.query, a.frame, strict=True)) == sorted(
            zip(b.query, b.frame, strict=True)
        ), kind


def test_a_removed_work_is_no_longer_matched(prints: dict[str, Fingerprint]) -> None:
    for kind in INDEXES:
        signal = _signal(kind, prints)
        signal.remove("film")
        assert signal.match(prints["muted"]) == []


@pytest.mark.parametrize("kind", INDEXES)
def test_a_copy_frame_with_no_work_frame_near_does_not_count_against_the_share(
    prints: dict[str, Fingerprint], kind: str
) -> None:
    # A film sampled in windows after its keyframes (tanba.fingerprint.video._KeyWindows): here
    # its first 1.5 s of every 5 s; the copy is sampled throughout.
    whole = prints["film"].video
    assert whole is not None and whole.zoomed() is not None
    times = whole.times()
    kept = times % 5.0 < 1.5
    windowed = VideoPrint.from_frames(
        whole.algorithm, duration_s=whole.duration_s, width=whole.width, height=whole.height,
        frame_s=whole.frame_s, times=times[kept], hashes=whole.hashes()[kept],
        zoomed=whole.zoomed()[kept],  # type: ignore[index]
    )  # fmt: skip
    # A share the copy's frames meet only when those without a work frame near are left out.
    strict = Settings.from_env({"TANBA_VIDEO_MIN_SHARE": "0.8", "TANBA_VIDEO_MIN_FRAMES": "4"})
    signal = VideoSignal(strict, INDEXES[kind]())
    signal.add("film", prints["film"].model_copy(update={"video": windowed}))
    detail = _only(signal.match(prints["reencode-low"])).detail
    assert detail.offset_s is not None and detail.query_offset_s is not None
    assert abs(detail.offset_s - (START + detail.query_offset_s)) <= 1.0
    assert detail.frames is not None and detail.frames < 15  # of the copy's 20


def test_a_mapped_catalogue_reopens_and_forgets_removed_works(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    films = {f"film-{i}": rng.integers(0, 2**63, (200, 4), dtype=np.int64).view(np.uint64)
             for i in range(3)}  # fmt: skip
    times = np.arange(200) * 0.5
    index = MappedVideoIndex(tmp_path, freeze_frames=10**9)  # kept in the delta
    for work_id, words in films.items():
        index.add(work_id, times, words)
    query = films["film-1"][50:70]
    assert set(index.pairs(query, 0)) == {"film-1"}  # from the delta
    index.freeze()
    reopened = MappedVideoIndex(tmp_path)
    pairs = reopened.pairs(query, 0)["film-1"]
    assert sorted(pairs.frame.tolist()) == list(range(50, 70))
    work = reopened.frames("film-1")
    assert work is not None and np.array_equal(work.words, films["film-1"])
    assert np.allclose(work.times, times)
    reopened.remove("film-1")  # mapped: hidden at once, dropped at the next freeze
    assert reopened.pairs(query, 0) == {} and reopened.frames("film-1") is None
    reopened.add("film-2", times[:20], query)  # replaced: only its new frames answer
    assert reopened.pairs(query, 0)["film-2"].frame.tolist() == list(range(20))
    reopened.freeze()
    assert [g.name for g in tmp_path.iterdir()] == ["gen-1"]  # the old generation is gone
    again = MappedVideoIndex(tmp_path)
    assert again.frames("film-1") is None and set(again.pairs(query, 0)) == {"film-2"}
    assert again.frames("film-0") is not None


def test_a_chunk_value_shared_by_too_many_mapped_frames_proposes_nothing(tmp_path: Path) -> None:
    words = np.zeros((50, 4), np.uint64)  # fifty identical (black) frames
    index = MappedVideoIndex(tmp_path, max_postings=49, freeze_frames=1)
    index.add("w", np.arange(50) * 0.5, words)
    assert index.pairs(words[:1], 0) == {}
    roomy = MappedVideoIndex(tmp_path / "roomy", max_postings=50, freeze_frames=1)
    roomy.add("w", np.arange(50) * 0.5, words)
    assert len(roomy.pairs(words[:1], 0)["w"].frame) == 50


@pytest.mark.parametrize("kind", INDEXES)
def test_where_picture_and_sound_disagree_on_the_position_the_sound_places_the_copy(
    prints: dict[str, Fingerprint], kind: str
) -> None:
    # The work's picture put 5 s later than its sound: the copy's picture then aligns 5 s
    # later, its sound where it was cut (the audio print aligns to a fraction of a second).
    whole = prints["film"].video
    assert whole is not None
    later = whole.model_copy(update={"times_b64": VideoPrint.from_frames(
        whole.algorithm, duration_s=whole.duration_s + 5, width=whole.width,
        height=whole.height, frame_s=whole.frame_s, times=whole.times() + 5,
        hashes=whole.hashes()).times_b64})  # fmt: skip
    signal = VideoSignal(Settings.from_env({}), INDEXES[kind]())
    signal.add("film", prints["film"].model_copy(update={"video": later}))
    detail = _only(signal.match(prints["reencode-low"])).detail
    assert detail.evidence == "both" and detail.offset_s is not None
    assert detail.query_offset_s is not None
    assert abs(detail.offset_s - (START + detail.query_offset_s)) <= 1.0
    muted = _only(signal.match(prints["muted"])).detail  # the picture alone: its position
    assert muted.offset_s is not None and muted.query_offset_s is not None
    assert abs(muted.offset_s - (START + 5 + muted.query_offset_s)) <= 1.0


def _reprinted(print_: Fingerprint, algorithm: str, shift_s: float) -> Fingerprint:
    """``print_`` as another algorithm id would have written it, its frame times ``shift_s``
    later (a pdqf-2fps-1 print of an MPEG-TS counted from its timestamps, which start at 1.4 s)."""
    video = print_.video
    assert video is not None
    moved = VideoPrint.from_frames(
        algorithm, duration_s=video.duration_s + shift_s, width=video.width,
        height=video.height, frame_s=video.frame_s, times=video.times() + shift_s,
        hashes=video.hashes(), zoomed=video.zoomed(),
    )  # fmt: skip
    return print_.model_copy(update={"video": moved})


def test_a_work_printed_by_the_older_algorithm_is_matched_as_before_and_says_so(
    prints: dict[str, Fingerprint], caplog: pytest.LogCaptureFixture
) -> None:
    signal = VideoSignal(Settings.from_env({}), ChunkVideoIndex())
    with caplog.at_level("WARNING", "tanba.matcher.video"):
        signal.add("film", _reprinted(prints["film"], "pdqf-2fps-1", 1.4))
        assert caplog.text == ""  # said at the first match, once for all such works
        detail = _only(signal.match(prints["muted"])).detail
    said = caplog.text
    assert ": 1 (film)" in said and "pdqf-2fps-1" in said and PDQ_FRAMES in said
    assert "tanba works reprint" in said
    assert detail.evidence == "picture" and detail.offset_s is not None
    assert detail.query_offset_s is not None
    # Found by its picture as before; the copy's start lies the work's shift later.
    assert abs(detail.offset_s - detail.query_offset_s - (START + 1.4)) <= 1.0


def test_works_printed_by_an_older_algorithm_are_said_in_one_line_per_start(
    prints: dict[str, Fingerprint], caplog: pytest.LogCaptureFixture
) -> None:
    older = _reprinted(prints["film"], "pdqf-2fps-1", 0.0)
    signal = VideoSignal(Settings.from_env({}), ChunkVideoIndex())
    with caplog.at_level("WARNING", "tanba.matcher.video"):
        for i in range(8):  # a matcher starting: every work added, then the first match
            signal.add(f"w{i}", older)
        signal.add("current", prints["film"])
        signal.add("w7", prints["film"])  # registered again since: printed anew
        signal.remove("w6")
        signal.match(prints["muted"])
        signal.match(prints["muted"])  # said once
        first = [r.getMessage() for r in caplog.records]
        signal.add("late", older)  # registered later by an older fingerprint worker
        signal.match(prints["muted"])
        later = [r.getMessage() for r in caplog.records][len(first) :]
    assert len(first) == 1, first
    assert ": 6 (w0, w1, w2, w3, w4 and 1 more)" in first[0]
    assert "pdqf-2fps-1" in first[0] and "tanba works reprint" in first[0]
    assert "w5" not in first[0] and "current" not in first[0]
    assert len(later) == 1 and ": 1 (late)" in later[0]


def test_a_picture_printed_by_an_unknown_algorithm_is_not_compared_its_sound_is(
    prints: dict[str, Fingerprint], caplog: pytest.LogCaptureFixture
) -> None:
    signal = VideoSignal(Settings.from_env({}), ChunkVideoIndex())
    with caplog.at_level("WARNING", "tanba.matcher.video"):
        signal.add("film", _reprinted(prints["film"], "pdqf-9fps-9", 0.0))
        assert signal.match(prints["muted"]) == []  # the picture alone: not indexed
    assert "unknown algorithm 'pdqf-9fps-9'" in caplog.text and ": 1 (film)" in caplog.text
    assert _only(signal.match(prints["reencode-low"])).detail.evidence == "sound"
    # A copy's picture of an unknown id is not compared with the registered pictures either.
    known = _signal("chunks", prints)
    assert known.match(_reprinted(prints["muted"], "pdqf-9fps-9", 0.0)) == []
    assert _only(known.match(prints["muted"])).detail.evidence == "picture"


CARTOON = Path("/usr/share/planetblupi/movie/history2.mkv")  # 12.3 s, 320x240, Planet Blupi


def test_a_logo_over_a_cartoon_is_painted_over_and_the_muted_copy_found_by_its_picture(
    tmp_path: Path,
) -> None:
    # Real footage (Debian's planetblupi-common): a logo box over 3% of a cartoon frame moves
    # its PDQ by 48-112 bits, past the 64 a frame may differ (bench/video.py: 4 of 16 frames).
    if not CARTOON.is_file():
        pytest.fail(f"{CARTOON} is missing: run bench/fetch-media (planetblupi-common)")
    settings = Settings.from_env({})
    copy = excerpt(tmp_path, CARTOON, "logo", [*ALTERATIONS["logo"], "-an"], start=2.0, seconds=8)
    # The work sampled twice a second, as a film is (a registered clip keeps every frame,
    # and more of them then come near the copy's: the logo is then no longer what decides).
    sampled = video_print(CARTOON, max_seconds=60, timeout_s=60, reference=True,
                          every_frame_under_s=0)  # fmt: skip
    work = Fingerprint(media=VIDEO, sha256="a" * 64, video=sampled)
    found = fingerprint_file(copy, "b" * 64, settings)
    assert work.video is not None and found.video is not None and found.audio is None
    assert work.video.unmarked() is None  # a registered work is hashed as it is
    unmarked = found.video.unmarked()
    assert unmarked is not None and len(unmarked) == found.video.frames
    near = np.abs(work.video.times()[None, :] - (2.0 + found.video.times())[:, None]) <= 0.6
    theirs = signals.words(work.video.hashes())

    def nearest(hashes: np.ndarray) -> np.ndarray:
        return np.where(near, signals.distances(signals.words(hashes), theirs), 256).min(axis=1)

    # Plain, 80 bits at the median (5 of 16 frames within 64); painted over, 60 (10 of 16).
    plain, painted = nearest(found.video.hashes()), nearest(unmarked)
    assert np.median(plain) > 64 >= np.median(painted), (plain, painted)
    assert np.median(painted) <= np.median(plain) - 16, (plain, painted)
    signal = VideoSignal(settings, ChunkVideoIndex())
    signal.add("cartoon", work)
    match = _only(signal.match(found), "cartoon")
    assert match.detail.evidence == "picture" and match.detail.variant == "unmarked"
    # Without its painted frames the copy's picture is not found (the test's reason to be).
    bare = found.video.model_copy(update={"unmarked_b64": ""})
    assert signal.match(found.model_copy(update={"video": bare})) == []


def test_a_copy_cut_between_the_works_samples_is_found_in_a_registered_clip_by_its_picture(
    clips: dict[str, Path], prints: dict[str, Fingerprint], tmp_path: Path
) -> None:
    # The Game of Life changes with every frame (10 fps); a copy cut 0.25 s off the half-second
    # grid samples frames between those a work sampled twice a second would keep.
    copy = excerpt(tmp_path, clips["film"], "between", ["-an"], start=START + 0.25)
    found = fingerprint_file(copy, "b" * 64, Settings.from_env({}))
    registered = prints["film"]  # a clip of 60 s keeps every frame
    assert registered.video is not None and registered.video.frames >= 590
    signal = VideoSignal(Settings.from_env({}), ChunkVideoIndex())
    signal.add("film", registered)
    detail = _only(signal.match(found)).detail
    assert detail.evidence == "picture" and detail.offset_s is not None
    assert detail.query_offset_s is not None
    assert abs(detail.offset_s - detail.query_offset_s - (START + 0.25)) <= 0.5
    # Sampled twice a second, as a film is, the same work meets the copy's frames only at
    # frames 0.25 s apart: far further than the very frames (the board moves slowly enough
    # here to be found still; a cartoon loop or a visualiser is not, bench/video.py).
    sampled = video_print(clips["film"], max_seconds=600, timeout_s=60, reference=True,
                          every_frame_under_s=0)  # fmt: skip
    signal.add("film", Fingerprint(media=VIDEO, sha256="a" * 64, video=sampled))
    apart = signal.match(found)
    assert detail.distance is not None and detail.distance <= 16
    assert all(m.detail.distance is not None and m.detail.distance > 40 for m in apart)


@pytest.fixture(scope="module")
def fixed_camera_prints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fingerprint]:
    directory = tmp_path_factory.mktemp("fixed-camera")
    clip = fixed_camera(directory)
    copy = excerpt(directory, clip, "fixed-pillarbox", ALTERATIONS["pillarbox"], start=30.0)
    settings = Settings.from_env({})
    return {
        "work": fingerprint_file(clip, "c" * 64, settings, reference=True),
        "copy": fingerprint_file(copy, "d" * 64, settings),
    }


@pytest.mark.parametrize("kind", INDEXES)
def test_a_fixed_camera_copy_is_placed_where_its_frames_come_closest(
    fixed_camera_prints: dict[str, Fingerprint], kind: str
) -> None:
    work, copy = fixed_camera_prints["work"].video, fixed_camera_prints["copy"].video
    assert work is not None and copy is not None and fixed_camera_prints["copy"].audio is None
    assert work.frames == FIXED_CAMERA_SECONDS * 10  # a registered clip keeps every frame
    theirs, ours = signals.words(work.hashes()), signals.words(copy.hashes())
    d = signals.distances(ours, theirs)

    def nearest(start: float) -> np.ndarray:
        near = np.abs(work.times()[None, :] - (start + copy.times())[:, None]) <= 0.05
        return np.where(near, d, 256).min(axis=1)

    # Why the count of agreeing frames cannot place it: 10 and 20 s away every frame of the
    # copy is within the 64 bits too, only further than at the instants it was cut.
    limit = Settings.from_env({}).video_max_distance
    for wrong in (10.0, 20.0, 50.0):
        assert (nearest(wrong) <= limit).all()
        assert nearest(wrong).mean() > nearest(30.0).mean() + 8
    signal = VideoSignal(Settings.from_env({}), INDEXES[kind]())
    signal.add("street", fixed_camera_prints["work"])
    detail = _only(signal.match(fixed_camera_prints["copy"]), "street").detail
    assert detail.evidence == "picture" and detail.offset_s is not None
    assert detail.query_offset_s is not None
    assert abs(detail.offset_s - detail.query_offset_s - 30.0) <= 1.0
    # Every other instant agrees too, only less closely: none of them is listed as another
    # position of the copy (a listing of every offset would say nothing).
    assert detail.positions == []


@pytest.fixture(scope="module")
def looping_prints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fingerprint]:
    directory = tmp_path_factory.mktemp("looping")
    clip = looping(directory)
    settings = Settings.from_env({})
    made = {"work": fingerprint_file(clip, "e" * 64, settings, reference=True)}
    # 6 s of the repeated board from 1 s (again at 9 s), and of the other board from 20 s.
    for name, start in (("repeated", 1.0), ("once", 20.0)):
        copy = excerpt(directory, clip, name, ["-an"], start=start, seconds=6.0)
        made[name] = fingerprint_file(copy, f"{len(made):064x}", settings)
    return made


def _starts(detail: MatchDetail) -> list[float]:
    """Where in the work each listed position puts the copy's start, as listed."""
    return [p.offset_s - (detail.scale or 1.0) * p.query_offset_s for p in detail.positions]


@pytest.mark.parametrize("kind", INDEXES)
def test_a_repeated_picture_lists_every_position_a_picture_seen_once_one(
    looping_prints: dict[str, Fingerprint], kind: str
) -> None:
    signal = VideoSignal(Settings.from_env({}), INDEXES[kind]())
    signal.add("loop", looping_prints["work"])
    repeated = _only(signal.match(looping_prints["repeated"]), "loop").detail
    assert repeated.evidence == "picture" and repeated.offset_s is not None
    assert repeated.query_offset_s is not None
    starts = _starts(repeated)
    assert sorted(round(s) for s in starts) == [1, 1 + LOOP_S]
    # The match's own position is the first, and each says what made it.
    first = repeated.positions[0]
    assert (first.offset_s, first.query_offset_s) == (repeated.offset_s, repeated.query_offset_s)
    for p in repeated.positions:
        assert p.evidence == "picture" and p.ber is None
        assert p.frames is not None and p.frames >= 6
        assert p.distance is not None and p.distance <= 16
        assert p.score is not None and p.score > 0.9
    once = _only(signal.match(looping_prints["once"]), "loop").detail
    assert once.positions == []  # one position: the match's own figures
    assert once.offset_s is not None and once.query_offset_s is not None
    assert abs(once.offset_s - once.query_offset_s - 20.0) <= 1.0


def test_an_alignment_as_close_at_the_copys_own_speed_wins_over_the_pal_speed_up() -> None:
    """A picture that repeats fits a few seconds at 25/24 as closely as at its own speed;
    a copy is then taken at its own speed, even where the sped-up fit's frames are a little
    nearer in time (win005's mirrored excerpt was put at 25/24, its evidence frames unlike)."""
    own = PictureMatch(
        agree=16, share=1.0, scale=1.0, offset_s=4.0, query_offset_s=0.0, duration_s=8.0,
        distance=4, variant="", mean_distance=5.0, closeness=942, gap_s=0.5,
    )  # fmt: skip
    sped = dataclasses.replace(own, scale=25 / 24, gap_s=0.4)
    assert own.key > sped.key
    # Closer frames still win at any speed: a PAL copy is put at 25/24.
    assert dataclasses.replace(sped, closeness=943).key > own.key
