"""Video matching: frame pairs voted onto one time offset, checked frame by frame; and the sound.

Contract: :class:`VideoSignal` is the video :class:`~tanba.matcher.signal.SignalIndex`.
It matches a copy's picture (its :class:`~tanba.core.signals.video.VideoPrint`) and
its soundtrack (the print's :class:`~tanba.core.signals.audio.AudioPrint`) against
the registered videos, and a match on either alone counts: a muted copy is found
by its picture, a copy with a new picture or a new soundtrack by what is left.
``MatchDetail.evidence`` says which agreed: ``picture``, ``sound`` or ``both``.

The picture, per registered work:

1. the :class:`~tanba.matcher.video_index.VideoIndex` proposes frame pairs within
   ``video_max_distance`` bits;
2. each pair votes for the offset ``t_work - scale * t_copy`` (1 s bins, a bin's
   neighbours counting with it), at the three speeds pirates use
   (:data:`SCALES`: as is, the PAL speed-up 25/24 and its inverse); two bins are
   candidates: the one with the most distinct copy frames, and the one whose copy frames
   come closest (each distinct frame weighing ``video_max_distance + 1 - d``, its
   closest pair in the bin);
3. offsets around each candidate (every 0.25 s within 1.5 s) are tried: every frame of
   the copy is compared with the work's frames near the time the offset puts it at
   (within :data:`TOLERANCE_S`), and the offset whose agreeing frames are closest in sum
   (:attr:`PictureMatch.closeness`, each agreeing frame weighing
   ``video_max_distance + 1 - d``: a soft count), then the one with the most agreeing
   frames, is kept. Why closeness and not the count: where every frame looks alike (a
   fixed camera, a held shot) every offset has all the copy's frames within
   ``video_max_distance`` and the count cannot choose; the copy's own instants are the
   ones closest to its frames (OpenCV's fixed-camera ``vtest``: 0-20 bits there, 20-50
   elsewhere), where a count placed it 22-34 s off. The copy matches when at least
   ``video_min_frames`` agree and they are at least ``video_min_share`` of the copy's
   frames between the first and the last that agree, counting only copy frames with a
   work frame within the tolerance (a film's print is sampled after its keyframes only,
   see :mod:`tanba.fingerprint.video`, and plain frames are dropped).

The mirrored hashes of a crawled copy, the hashes of the picture inside its
picture where it has one (picture-in-picture, at those frames' times), and those of its
frames with a static mark painted over where it has one (a logo), go through the same
steps; the best is kept (``variant: "mirrored"``, ``"inset"`` or ``"unmarked"``). When picture and
sound both agree, the position is the sound's (the audio print aligns to about a tenth of a
second; the picture's vote, on frames two a second, cannot tell offsets apart where frames
look alike for seconds or repeat: a held shot, a fixed camera, a looping cartoon). The score is that share of agreeing
frames (picture) or the audio score (sound), the higher when both agree.
``offset_s`` is where in the work the matched span starts, ``query_offset_s``
where in the copy, ``duration_s`` how long (in the copy's time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from tanba.core.alerts import MatchDetail
from tanba.core.schemas.common import AUDIO, VIDEO, Fingerprint
from tanba.core.schemas.matches import MatchPosition
from tanba.core.settings import Settings
from tanba.core.signals.video import (
    INSET,
    MIRRORED,
    OLDER_PDQ_FRAMES,
    PDQ_FRAMES,
    UNMARKED,
    VideoPrint,
    words,
)
from tanba.matcher.audio_signal import AudioSignal
from tanba.matcher.signal import SignalIndex, SignalMatch, ranked
from tanba.matcher.video_index import ChunkVideoIndex, FramePairs, VideoIndex, WorkFrames

log = logging.getLogger("tanba.matcher.video")

# Speeds of a copy against the work: as is, PAL's 25/24 speed-up of a 24 fps film, and the
# inverse (a PAL original slowed to 24 fps).
SCALES = (1.0, 25 / 24, 24 / 25)
BIN_S = 1.0  # offset vote bins
# A copy frame is compared with the work's frames this close to where the offset puts it.
TOLERANCE_S = 0.6
# Picture and sound placing a copy further apart than this agree on no span: the span's length
# is then the sound's alone (nearer, the longer of the two: each agrees over its own length).
AGREE_S = 2.0
# Works named in the line about works printed by an older or unknown algorithm (the rest
# counted): enough to find them, short enough for a catalogue of thousands.
NAMED_WORKS = 5
# Offsets tried around the voted bin (seconds).
_FINE_STEPS = np.arange(-1.5, 1.51, 0.25)
# Other positions of a repeated picture (a looping cartoon): an offset is listed beside the
# match's own when its agreeing frames are at least this close in sum (closeness) as the
# best's. Chosen on the calibration half of bench.video (--positions prints each match's
# other accepted offsets and their ratio): see the README, "### Video".
POSITION_CLOSENESS = 0.9
# Offset bins whose vote (by closeness) reaches this share of the top bin's are refined as
# other positions: a position as close as the best has about its vote; the chunk index may
# propose fewer of its pairs, hence the margin. Bins below it are not tried (cost).
PEAK_SHARE = 0.5
# Two positions nearer than this are one occurrence (the refinement reaches 1.5 s either side
# of a bin; as the audio's positions).
SAME_POSITION_S = 2.0
MAX_POSITIONS = 16  # positions listed at most per match (a loop repeated all film long)


@dataclass(frozen=True)
class PictureMatch:
    """The best alignment of a copy's picture with one work."""

    agree: int  # copy frames that agree with the work at the offset
    share: float  # of the copy's frames between the first and the last that agree
    scale: float
    offset_s: float  # work time where the span starts
    query_offset_s: float
    duration_s: float
    distance: int  # median distance of the agreeing frames
    variant: str  # "" or one of VARIANTS
    mean_distance: float  # of the agreeing frames
    closeness: int  # sum of max_distance + 1 - d over the agreeing frames
    gap_s: float  # mean time between where each agreeing frame was put and its work frame
    # Other accepted alignments at other offsets of the same work (a repeated picture), best
    # first, not yet filtered by :data:`POSITION_CLOSENESS`: :func:`other_positions`.
    others: tuple[PictureMatch, ...] = ()

    @property
    def start_s(self) -> float:
        """Where in the work the copy's own start falls."""
        return self.offset_s - self.scale * self.query_offset_s

    @property
    def key(self) -> tuple[int, int, bool, float]:
        """Better alignments sort higher: agreeing frames closer in sum, then more of them,
        then the copy's own speed (a picture that repeats, a looping cartoon, fits a few
        seconds at the PAL speed-up as closely as at its own, and most copies are not sped
        up: win005's mirrored excerpt was put at 25/24 by a 0.1 s smaller gap, its evidence
        frames then 0.1 s apart and unlike), then the work frames nearest in time to where
        the offset puts the copy's (a registered clip keeps every frame: offsets a frame or
        two apart meet the very same frames within the tolerance, and the earliest of them
        was kept, 0.4-0.5 s early)."""
        return self.closeness, self.agree, self.scale == 1.0, -self.gap_s


class VideoSignal(SignalIndex):
    """Registered videos: their frames in a :class:`VideoIndex`, their soundtracks in an
    :class:`AudioSignal` of their own."""

    kind = VIDEO

    def __init__(
        self,
        settings: Settings,
        index: VideoIndex | None = None,
        soundtracks: AudioSignal | None = None,
    ) -> None:
        self.settings = settings
        self.index = index if index is not None else ChunkVideoIndex()
        self.soundtracks = soundtracks if soundtracks is not None else AudioSignal(settings)
        # Works added since the last line about them whose picture is of an older or unknown
        # algorithm, by algorithm (dicts as ordered sets): said once, at the next match.
        self._unlike: dict[str, dict[str, None]] = {}

    def add(self, work_id: str, fingerprint: Fingerprint) -> None:
        """Index the work's picture and soundtrack. A picture printed by an older algorithm
        (:data:`~tanba.core.signals.video.OLDER_PDQ_FRAMES`) is indexed as it is, one of an
        unknown algorithm is not (its sound is); either is said in one line for all such works
        at the next :meth:`match` (a matcher starting adds every work first: one line per
        start, not one per work)."""
        video = _whole(fingerprint)
        if video is None:
            return
        self.remove(work_id)
        if video.algorithm != PDQ_FRAMES:
            self._unlike.setdefault(video.algorithm, {})[work_id] = None
            if video.algorithm not in OLDER_PDQ_FRAMES:
                video = None
        if video is not None:
            self._add_picture(work_id, video)
        if fingerprint.audio is not None:
            self.soundtracks.add(work_id, _sound(fingerprint))

    def _add_picture(self, work_id: str, video: VideoPrint) -> None:
        times, hashes = video.times(), video.hashes()
        zoomed = video.zoomed()
        if zoomed is not None:  # the central part of each frame, at the same times
            times, hashes = np.concatenate([times, times]), np.concatenate([hashes, zoomed])
        order = np.argsort(times, kind="stable")
        self.index.add(work_id, times[order], words(hashes[order]))

    def remove(self, work_id: str) -> None:
        self.index.remove(work_id)
        self.soundtracks.remove(work_id)
        for works in self._unlike.values():
            works.pop(work_id, None)

    def _say_unlike(self) -> None:
        """One warning per algorithm for the works added with a picture of an older or an
        unknown algorithm since the last (their count, the first :data:`NAMED_WORKS` ids, and
        what to do), then none until more are added."""
        for algorithm, works in sorted(self._unlike.items()):
            if not works:
                continue
            ids = list(works)
            named = ", ".join(ids[:NAMED_WORKS])
            if len(ids) > NAMED_WORKS:
                named += f" and {len(ids) - NAMED_WORKS} more"
            if algorithm in OLDER_PDQ_FRAMES:
                log.warning(
                    "works whose picture's print is %s, older than %s: %d (%s). In such a "
                    "print %s; they are matched as before. 'tanba works reprint' prints them again "
                    "from their stored files as %s",
                    algorithm, PDQ_FRAMES, len(ids), named, OLDER_PDQ_FRAMES[algorithm],
                    PDQ_FRAMES,
                )  # fmt: skip
            else:
                log.warning(
                    "works whose picture's print is of an unknown algorithm %r (this matcher "
                    "knows %s): %d (%s). Their pictures are not indexed, their sound is; run a "
                    "matcher as new as the fingerprint worker that printed them, or print them "
                    "again with 'tanba works reprint'",
                    algorithm, ", ".join([PDQ_FRAMES, *OLDER_PDQ_FRAMES]), len(ids), named,
                )  # fmt: skip
        self._unlike.clear()

    def match(self, fingerprint: Fingerprint) -> list[SignalMatch]:
        """Works whose picture or soundtrack the copy matches (a crawled audio file's sound
        is matched against the registered soundtracks too)."""
        if self._unlike:
            self._say_unlike()
        video = _whole(fingerprint)
        known = video is not None and (
            video.algorithm == PDQ_FRAMES or video.algorithm in OLDER_PDQ_FRAMES
        )
        # A copy's picture printed by an unknown algorithm is not compared (its sound is).
        pictures = self.pictures(video) if video is not None and known else {}
        sounds = {}
        if fingerprint.audio is not None:
            sounds = {m.work_id: m for m in self.soundtracks.match(_sound(fingerprint))}
        found = []
        for work_id in sorted(set(pictures) | set(sounds)):
            picture, sound = pictures.get(work_id), sounds.get(work_id)
            found.append(_scored(work_id, picture, sound, video))
        return ranked(found)

    def pictures(self, video: VideoPrint) -> dict[str, PictureMatch]:
        """The works the copy's picture matches, with the best alignment of each."""
        s = self.settings
        times = video.times()
        variants = [("", times, words(video.hashes()))]
        mirrored = video.mirrored()
        if mirrored is not None:
            variants.append((MIRRORED, times, words(mirrored)))
        inset_times, insets = video.insets()
        if len(insets):
            variants.append((INSET, inset_times, words(insets)))
        unmarked = video.unmarked()
        if unmarked is not None:
            variants.append((UNMARKED, times, words(unmarked)))
        best: dict[str, PictureMatch] = {}
        inputs: dict[str, tuple[np.ndarray, np.ndarray, WorkFrames, FramePairs]] = {}
        for variant, times, query in variants:
            for work_id, pairs in self.index.pairs(query, s.video_max_distance).items():
                work = self.index.frames(work_id)
                if work is None:
                    continue
                found = align(times, query, work, pairs, s, video.frame_s, variant)
                if found is not None and (work_id not in best or found.key > best[work_id].key):
                    best[work_id] = found
                    inputs[work_id] = (times, query, work, pairs)
        # Other positions only for the variant that won, and only for matched works.
        return {
            work_id: replace(
                found,
                others=tuple(other_positions(*inputs[work_id], s, video.frame_s, found)),
            )
            for work_id, found in best.items()
        }


def align(
    times: np.ndarray,
    query: np.ndarray,
    work: WorkFrames,
    pairs: FramePairs,
    settings: Settings,
    frame_s: float,
    variant: str = "",
) -> PictureMatch | None:
    """The best accepted alignment of the copy's frames with the work's, or None."""
    best: PictureMatch | None = None
    tq, tw = times[pairs.query], work.times[pairs.frame]
    for scale in SCALES:
        offsets = tw - scale * tq
        bins = np.round(offsets / BIN_S).astype(np.int64)
        for voted in _voted_bins(bins, pairs.query, pairs.distance, settings.video_max_distance):
            found = _refined(times, query, work, scale, voted, settings, frame_s, variant)
            if found is not None and (best is None or found.key > best.key):
                best = found
    return best


def _refined(
    times: np.ndarray,
    query: np.ndarray,
    work: WorkFrames,
    scale: float,
    voted: int,
    settings: Settings,
    frame_s: float,
    variant: str,
) -> PictureMatch | None:
    """The best accepted alignment at the offsets around the bin ``voted`` (every 0.25 s
    within 1.5 s), or None.

    The vote is coarse (a slow pan keeps frames alike for a second or more): the offset is
    the one near it where the copy's frames come closest to the work's. The work's frames
    within reach of every offset tried are compared with the copy's once."""
    best: PictureMatch | None = None
    near_times, near_d = _near(times, query, work, scale, voted * BIN_S)
    for offset in voted * BIN_S + _FINE_STEPS:
        expected = scale * times + offset
        close = np.abs(near_times - expected[:, None]) <= TOLERANCE_S
        masked = np.where(close, near_d, 256)
        at = masked.argmin(axis=1)[:, None]
        nearest = np.take_along_axis(masked, at, axis=1)[:, 0]
        gap = np.abs(np.take_along_axis(near_times, at, axis=1)[:, 0] - expected)
        found = _checked(
            times, expected, nearest, gap, close.any(axis=1), scale, settings, frame_s, variant
        )
        if found is not None and (best is None or found.key > best.key):
            best = found
    return best


def other_positions(
    times: np.ndarray,
    query: np.ndarray,
    work: WorkFrames,
    pairs: FramePairs,
    settings: Settings,
    frame_s: float,
    best: PictureMatch,
) -> list[PictureMatch]:
    """Every other offset of the work where the copy's frames agree as the match rule asks
    (:func:`_checked`), one per occurrence, best first, at most :data:`MAX_POSITIONS` - 1.

    Contract: the candidates are the peaks of the closeness vote at the match's speed whose
    vote reaches :data:`PEAK_SHARE` of the top one's, each refined as :func:`align` refines
    (so a position is the offset a copy cut there would have been given); one within
    :data:`SAME_POSITION_S` of the match's or of a better one is the same occurrence. Not
    filtered by closeness (the caller keeps those within :data:`POSITION_CLOSENESS`): the
    bench reads the ratios to choose it. Why: a picture that repeats (a looping cartoon) has
    two or more equally right positions, and the best of them is chance."""
    if not len(pairs.query):
        return []
    tq, tw = times[pairs.query], work.times[pairs.frame]
    bins = np.round((tw - best.scale * tq) / BIN_S).astype(np.int64)
    lo, _count, weight = _votes(bins, pairs.query, pairs.distance, settings.video_max_distance)
    padded = np.concatenate([[-1.0], weight, [-1.0]])
    peak = (weight >= padded[:-2]) & (weight >= padded[2:]) & (weight > 0)
    peak &= weight >= PEAK_SHARE * float(weight.max())
    order = np.flatnonzero(peak)
    order = order[np.argsort(-weight[order], kind="stable")]
    found = [best]
    for i in order:
        if len(found) >= MAX_POSITIONS:
            break
        if any(abs((lo + int(i)) * BIN_S - f.start_s) < SAME_POSITION_S for f in found):
            continue
        at = _refined(times, query, work, best.scale, lo + int(i), settings, frame_s, best.variant)
        if at is not None and all(abs(at.start_s - f.start_s) >= SAME_POSITION_S for f in found):
            found.append(at)
    return sorted(found[1:], key=lambda f: f.key, reverse=True)


def _votes(
    bins: np.ndarray, query: np.ndarray, distance: np.ndarray, max_distance: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """The offset votes from bin ``lo`` on, each bin with its two neighbours: by distinct copy
    frames, and by closeness (each distinct frame weighing ``max_distance + 1 - d`` of its
    closest pair in the bin)."""
    # One vote per (bin, copy frame), by its closest pair: sorted by bin, frame, distance.
    order = np.lexsort((distance, query, bins))
    b, q, d = bins[order], query[order], distance[order]
    first = np.ones(len(b), bool)
    first[1:] = (b[1:] != b[:-1]) | (q[1:] != q[:-1])
    b, d = b[first], d[first]
    lo = int(b.min())
    size = int(b.max()) - lo + 1
    weight = np.clip(max_distance + 1 - d, 0, None).astype(np.float64)
    smoothed = []
    for dense in (np.bincount(b - lo, minlength=size), np.bincount(b - lo, weight, size)):
        dense = dense.astype(np.float64)
        smoothed.append(
            dense + np.concatenate([[0], dense[:-1]]) + np.concatenate([dense[1:], [0]])
        )
    return lo, smoothed[0], smoothed[1]


def _voted_bins(
    bins: np.ndarray, query: np.ndarray, distance: np.ndarray, max_distance: int
) -> list[int]:
    """The candidate offset bins (each with its two neighbours): the one the most distinct
    copy frames vote for, and the one they vote for closest (each distinct frame weighing
    ``max_distance + 1 - d`` of its closest pair in the bin); one bin when they are the same.

    Why both: the count alone ties wherever every frame looks alike (a fixed camera), and its
    first bin wins; the closeness alone could follow a few frames very close (a title card)
    past many a little further. The refinement (:func:`align`) decides between them."""
    if not len(bins):
        return []
    lo, count, weight = _votes(bins, query, distance, max_distance)
    voted = [lo + int(np.argmax(count)), lo + int(np.argmax(weight))]
    return sorted(set(voted))


def _near(
    times: np.ndarray, query: np.ndarray, work: WorkFrames, scale: float, centre: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each copy frame, the times of the work's frames near ``scale * t + centre`` (within
    the fine steps and the tolerance; +inf where there are fewer) and their distances to it."""
    reach = float(np.abs(_FINE_STEPS).max()) + TOLERANCE_S
    expected = scale * times + centre
    lo = np.searchsorted(work.times, expected - reach)
    hi = np.searchsorted(work.times, expected + reach, "right")
    width = max(int((hi - lo).max()), 1)
    j = lo[:, None] + np.arange(width)
    inside = j < hi[:, None]
    j = np.minimum(j, len(work.times) - 1)
    d = np.bitwise_count(query[:, None, :] ^ work.words[j]).sum(axis=2, dtype=np.int32)
    return np.where(inside, work.times[j], np.inf), d


def _checked(
    times: np.ndarray,
    expected: np.ndarray,
    nearest: np.ndarray,
    gap: np.ndarray,
    comparable: np.ndarray,
    scale: float,
    settings: Settings,
    frame_s: float,
    variant: str,
) -> PictureMatch | None:
    """The alignment that puts each copy frame at ``expected`` in the work, where ``nearest``
    is its distance to the closest work frame there, ``gap`` how far in time that frame is
    (``comparable``: there is one); None when
    the agreeing frames are too few or too sparse among the comparable ones."""
    agree = np.flatnonzero(nearest <= settings.video_max_distance)
    if len(agree) < settings.video_min_frames:
        return None
    first, last = int(agree[0]), int(agree[-1])
    # Copy frames with no work frame near (a long work is sampled after its keyframes only, a
    # plain frame is dropped) neither agree nor disagree.
    covered = int(comparable[first : last + 1].sum())
    share = len(agree) / covered
    if share < settings.video_min_share:
        return None
    close = nearest[agree]
    return PictureMatch(
        agree=len(agree),
        share=share,
        scale=scale,
        offset_s=float(expected[first]),
        query_offset_s=float(times[first]),
        duration_s=float(times[last] - times[first] + frame_s),
        distance=int(np.median(close)),
        variant=variant,
        mean_distance=float(close.mean()),
        closeness=int((settings.video_max_distance + 1 - close).sum()),
        gap_s=float(gap[agree].mean()),
    )


def _scored(
    work_id: str,
    picture: PictureMatch | None,
    sound: SignalMatch | None,
    video: VideoPrint | None,
) -> SignalMatch:
    """One match from the picture's and the sound's: the sound's position when it agreed (and
    gives one), else the picture's; the span's length the longer of the two where they lie
    within :data:`AGREE_S` of each other, else the sound's.

    Why not the picture's when both agree: on Planet Blupi's looping ``win005`` (the demo's
    film) 20 of 20 frames agree, 8 bits apart on average, at offsets 1.5 s and 5.5 s alike
    where the copy was cut at 5.0 s; its sound places it at 4.95 s."""
    evidence = "both" if picture and sound else "picture" if picture else "sound"
    sound_detail = sound.detail if sound is not None else None
    if picture is not None:
        offset_s, query_offset_s = picture.offset_s, picture.query_offset_s
        duration_s = picture.duration_s
        if (
            sound_detail is not None
            and sound_detail.offset_s is not None
            and sound_detail.query_offset_s is not None
        ):
            if _apart(picture, sound_detail):
                duration_s = sound_detail.duration_s or duration_s
            else:
                duration_s = max(duration_s, sound_detail.duration_s or 0.0)
            offset_s, query_offset_s = sound_detail.offset_s, sound_detail.query_offset_s
        detail = MatchDetail(
            algorithm=video.algorithm if video is not None else "",
            evidence=evidence,
            distance=picture.distance,
            variant=picture.variant,
            frames=picture.agree,
            scale=round(picture.scale, 4),
            offset_s=round(offset_s, 2),
            query_offset_s=round(query_offset_s, 2),
            duration_s=round(duration_s, 2),
            ber=None if sound_detail is None else sound_detail.ber,
            positions=_positions(picture, sound_detail),
        )
        score = max(picture.share, sound.score if sound is not None else 0.0)
        return SignalMatch(work_id, round(score, 4), detail)
    assert sound is not None
    detail = sound.detail.model_copy(update={"evidence": evidence})
    return SignalMatch(work_id, sound.score, detail)


def _positions(picture: PictureMatch, sound: MatchDetail | None) -> list[MatchPosition]:
    """The match's positions: the sound's where it gives them (it tells a looping picture's
    occurrences apart), else the picture's own and each other offset whose agreeing frames
    are within :data:`POSITION_CLOSENESS` of its closeness, best first; [] for one position
    of a picture alone, as before (the match's own figures say it)."""
    if sound is not None and sound.positions:
        return sound.positions
    floor = POSITION_CLOSENESS * picture.closeness
    others = [o for o in picture.others if o.closeness >= floor]
    if not others:
        return []
    return [
        MatchPosition(
            offset_s=round(p.offset_s, 2),
            query_offset_s=round(p.query_offset_s, 2),
            duration_s=round(p.duration_s, 2),
            score=round(p.share, 4),
            evidence="picture",
            frames=p.agree,
            distance=p.distance,
        )
        for p in [picture, *others][:MAX_POSITIONS]
    ]


def _apart(picture: PictureMatch, sound: MatchDetail) -> bool:
    """Whether the picture and the sound place the copy's start in the work more than
    :data:`AGREE_S` apart (the sound gives a position)."""
    assert sound.offset_s is not None and sound.query_offset_s is not None
    picture_start = picture.offset_s - picture.scale * picture.query_offset_s
    sound_start = sound.offset_s - picture.scale * sound.query_offset_s
    return abs(picture_start - sound_start) > AGREE_S


def _sound(fingerprint: Fingerprint) -> Fingerprint:
    """The soundtrack as an audio file's fingerprint, for the soundtracks' audio signal."""
    return Fingerprint(media=AUDIO, sha256=fingerprint.sha256, audio=fingerprint.audio)


def _whole(fingerprint: Fingerprint) -> VideoPrint | None:
    """The video print, which must be whole: a stub's frames are in the blob store."""
    video = fingerprint.video
    if video is not None and video.blob:
        raise ValueError(
            f"the print of {fingerprint.sha256} is a stub for blob {video.blob}: resolve it "
            "with tanba.core.print_blobs.resolved before indexing or matching it"
        )
    return video
