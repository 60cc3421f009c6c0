"""Image matching: pHash candidates from an index, verified by descriptors, then by details.

Contract: :class:`ImageSignal` is the image :class:`~tanba.matcher.signal.SignalIndex`.
A registered work is indexed under every hashed window of its print; a query's
windows find candidates within ``image_max_distance`` bits. A work matches when
one of its window pairs passes three tests, in order of cost:

1. the cosine similarity of the two windows' descriptors is at least
   ``image_min_similarity`` (it is the match score);
2. the copy's window is not a look-alike of many pictures: a window whose
   descriptor comes within ``image_lookalike_similarity`` of more than
   ``image_max_lookalikes`` distinct registered pictures is too plain to tell them
   apart (a dot, a frame, a blank button; the stop list of text retrieval, learnt
   from the catalogue itself, so it grows with it). Works that are one picture (a
   wallpaper at three sizes) count once. The count is of the whole catalogue: with
   matcher shards, each gives its :meth:`ImageSignal.evidence` and the gather stage
   decides over all of it (:mod:`tanba.matcher.gather`) with the same :func:`decide`;
3. the pair keeps the copy's proportions: where it places the copy on the work
   (:mod:`tanba.core.signals.image_geometry`, from the two windows' names and the two
   pictures' sizes) stretches it by no more than ``image_max_stretch``; and, when
   ``image_min_windows`` asks for it, as many of the copy's windows place it there;
4. the finer coefficients agree: the copy's window details against the work's
   window cut from its thumbnail (:mod:`tanba.core.signals.image_detail`) at least
   ``image_min_detail``;
5. a small work (a side under ``image_small_side``) whose one pair is the only
   evidence must show enough grey levels in that window: at least
   ``image_min_entropy`` bits (:mod:`tanba.core.signals.image_content`, from its
   thumbnail). A disc, a checker or a frame on blank ground drawn in two or three
   greys agrees with many unrelated pictures' windows, sketch and details alike;
6. the pair's grey levels agree: where the pair places the copy, the copy's thumbnail
   and the work's, averaged over a 4 × 4 grid of the work's window, differ by at most
   ``image_max_levels`` grey levels past the best brightness and contrast change
   allowed (:mod:`tanba.core.signals.image_levels`). Tests 1 and 4 are blind to
   brightness and contrast, so a light-blue halo passed for a black dot;
7. the copy's texture there (the quarter quantile of its gradient magnitudes, so a
   shape's edges do not count) exceeds twice the work's, scaled by test 6's slope, by at
   most ``image_max_texture`` grey levels: a planet's surface or a radar's lines passed
   for a flat disc in the same greys.

A work with no pair past test 1 gets a second chance from its weaker pairs (down to
``image_aligned_similarity``): a crop whose sides fall between the cuts of the work's
window grid pairs each copy window with a work window a few percent off, which takes the
descriptors under the bar though the picture is the same. When the work is at least
``image_aligned_min_side`` px a side and the pair's window shows at least
``image_aligned_min_entropy`` bits (icons, sprites and symbols are where sketches agree by
chance), the pair goes through tests 3 to 7, and then its descriptor is compared with the
work's window sketched from its thumbnail at the detail check's best alignment
(:func:`~tanba.core.signals.image_detail.aligned_similarity`): that score must pass the bar
of test 1, and is the match score. Shards send the copy's descriptors for it.

Prints made before the detail check (no details or no thumbnail) skip test 4 and
the stretch (no work size), a copy's print without its thumbnail tests 6 and 7; a print without descriptors falls back to the Hamming
radius alone. Why these tests: on ``bench/real_catalogue.py`` (55,676 real works,
15,878 unrelated queries) the descriptor alone let 21,263 false pairs through, and
of the calibration half's 150 that passed tests 1, 2 and 4, 71 paired windows of
other proportions (a dialog's strip against an icon), which test 3 sets aside; of the
64 that passed test 3 (shared art apart), 7 were small works' simple windows alone
(test 5), and of the 57 left, 11 were one shape in other greys (test 6).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from tanba.core.alerts import MatchDetail
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.image import ImagePrint, print_descriptors, similarity
from tanba.core.signals.image_content import window_entropy
from tanba.core.signals.image_detail import (
    ROTATED_WINDOW,
    aligned_similarity,
    crop_variant,
    detail_similarity,
    print_details,
    print_thumbnail,
)
from tanba.core.signals.image_geometry import (
    BOX_STRETCH_SLACK,
    Frame,
    implied_frame,
    is_box,
    same_place,
    stretch,
    turned_frame,
    turned_place,
)
from tanba.core.signals.image_levels import Tones, tones
from tanba.matcher.index import ImageHit, ImageIndex
from tanba.matcher.segments import SegmentedImageIndex, Tuning
from tanba.matcher.signal import SignalIndex, SignalMatch, ranked

# Window pairs of one work given the detail check, best descriptor score first: a copy's
# true pair is almost always among its best few, and each check cuts 225 alignments.
DETAIL_TRIES = 4

# Window pairs of one work whose places are compared (the first, best score first): the
# same pairs on every index and shard, and a bound on the work per candidate.
PLACE_TRIES = 12
# How far (shares of the frame's width and height) two pairs may place the copy apart and
# still agree: the window grids leave up to 2.5% per side between a copy's window and the
# work's, twice that between two pairs.
PLACE_TOLERANCE = 0.06

# A registered work's thumbnail and picture size (width, height), by work id.
# Descriptor similarity at which two registered windows are one picture (see _pictures).
SAME_PICTURE = 0.98

Thumbnails = Callable[[str], tuple[np.ndarray, int, int] | None]


class ImageSignal(SignalIndex):
    """Registered image prints: a Hamming index of their windows, descriptors and thumbnails."""

    kind = IMAGE

    def __init__(
        self,
        settings: Settings,
        index: ImageIndex | None = None,
        thumbnails: Thumbnails | None = None,
    ) -> None:
        """``thumbnails``: where a registered work's thumbnail is read (the matcher's works
        store keeps it with the work); None: this index keeps them itself."""
        self.settings = settings
        # The index keeps each window's descriptor beside its hash, for verifying candidates.
        self.index = (
            index
            if index is not None
            else SegmentedImageIndex(tuning=Tuning(probe_bits=settings.image_probe_bits))
        )
        # Thumbnails kept here when no store is given (tests, benchmarks, `tanba match`).
        self._own: dict[str, tuple[np.ndarray, int, int]] | None = None
        if thumbnails is None:
            self._own = {}
            thumbnails = self._own.get
        self.thumbnail: Thumbnails = thumbnails
        """The work's thumbnail and picture size, if its print has one."""

    def add(self, work_id: str, fingerprint: Fingerprint) -> None:
        image = fingerprint.image
        if image is None:
            return
        self.index.add(work_id, image.hashes, print_descriptors(image))
        if self._own is not None:
            self._own.pop(work_id, None)
            thumbnail = print_thumbnail(image)
            if thumbnail is not None:
                self._own[work_id] = (thumbnail, image.width, image.height)

    def remove(self, work_id: str) -> None:
        self.index.remove(work_id)
        if self._own is not None:
            self._own.pop(work_id, None)

    def match(self, fingerprint: Fingerprint) -> list[SignalMatch]:
        """The works the print matches: its :meth:`evidence`, decided by :func:`decide`
        with the detail checks made as the decision asks for them."""
        image = fingerprint.image
        if image is None:
            return []
        return decide(self.settings, self.evidence(fingerprint), self._checks(image))

    def evidence(self, fingerprint: Fingerprint) -> ImageEvidence:
        """What this index knows about a copy: its windows' look-alikes and candidate pairs.

        Every figure in it is of one (copy window, registered window) pair, so the
        evidence of indexes that hold disjoint works merges into the evidence of one
        index that holds them all (:meth:`ImageEvidence.merged`).
        """
        image = fingerprint.image
        if image is None:
            return ImageEvidence()
        s = self.settings
        queries = print_descriptors(image)
        lookalikes: dict[tuple[int, str], Lookalike] = {}
        pairs: dict[str, list[Pair]] = defaultdict(list)
        floor = candidate_floor(s)
        for hit in self.index.candidates(image.hashes, s.image_max_distance):  # hit order
            score = self._score(hit, queries)
            if score >= s.image_lookalike_similarity and hit.reference is not None:
                lookalikes.setdefault(
                    (hit.query, hit.work_id),
                    Lookalike(hit.query, hit.distance, hit.work_id, hit.variant, hit.reference),
                )
            if score >= floor:
                pairs[hit.work_id].append(Pair(score, hit.query, hit.distance, hit.variant))
        for candidates in pairs.values():
            candidates.sort(key=lambda pair: -pair.score)  # stable: hit order among equals
        algorithm = image.hashes[0].algorithm if image.hashes else ""
        windows = tuple(h.variant for h in image.hashes)
        return ImageEvidence(
            list(lookalikes.values()), dict(pairs), algorithm, windows, image.width, image.height
        )

    def _checks(self, image: ImagePrint) -> WorkChecks:
        """The checks of candidate pairs against this index's thumbnails."""
        return detail_check(
            print_details(image), self.thumbnail, print_thumbnail(image), print_descriptors(image)
        )

    @staticmethod
    def _score(hit: ImageHit, queries: np.ndarray | None) -> float:
        reference = hit.reference
        if queries is None or reference is None or not reference.any():
            return 1 - hit.distance / 64
        return float(similarity(reference, queries[hit.query])[0])


@dataclass(frozen=True)
class Lookalike:
    """A registered window that a copy's window ``query`` looks like (the first such hit of
    its work for that window, in the index's hit order), with its descriptor."""

    query: int
    distance: int
    work_id: str
    variant: str
    reference: np.ndarray = field(compare=False, repr=False)

    @property
    def order(self) -> tuple[int, str, str, int]:
        """The index's hit order (:func:`tanba.matcher.index.hit_order`)."""
        return (self.distance, self.work_id, self.variant, self.query)


@dataclass(frozen=True)
class Pair:
    """A candidate window pair of one work that passed the descriptor test."""

    score: float
    query: int
    distance: int
    variant: str


@dataclass(frozen=True)
class ImageEvidence:
    """All :func:`decide` needs about one copy: its windows' look-alikes in hit order, per
    work its candidate pairs, best score first (equal scores in hit order), and the copy's
    window names and size (for the geometry test; empty from a shard that predates it)."""

    lookalikes: list[Lookalike] = field(default_factory=list)
    pairs: dict[str, list[Pair]] = field(default_factory=dict)
    algorithm: str = ""
    windows: tuple[str, ...] = ()
    width: int = 0
    height: int = 0

    @staticmethod
    def merged(parts: list[ImageEvidence]) -> ImageEvidence:
        """The evidence of indexes holding disjoint works, as one index holding them all
        would give it (look-alikes back in hit order; a work's pairs are in one part)."""
        lookalikes = sorted((x for p in parts for x in p.lookalikes), key=lambda x: x.order)
        pairs = {work: found for p in parts for work, found in p.pairs.items()}
        algorithm = next((p.algorithm for p in parts if p.algorithm), "")
        copy = next((p for p in parts if p.windows), ImageEvidence())
        return ImageEvidence(lookalikes, pairs, algorithm, copy.windows, copy.width, copy.height)


class WorkChecks:
    """What :func:`decide` reads about candidate works: a pair's detail agreement
    (:meth:`detail`) and a work's picture size (:meth:`size`), from the works' thumbnails
    (each read once)."""

    def __init__(
        self,
        details: np.ndarray | None,
        thumbnails: Thumbnails,
        copy: np.ndarray | None = None,
        descriptors: np.ndarray | None = None,
    ) -> None:
        self.details = details
        self.thumbnails = thumbnails
        self.copy = copy  # the copy's own thumbnail (None: a print made before the level check)
        self.descriptors = descriptors  # the copy's window descriptors (None: not given)
        self._read: dict[str, tuple[np.ndarray, int, int] | None] = {}

    def _thumbnail(self, work_id: str) -> tuple[np.ndarray, int, int] | None:
        if work_id not in self._read:
            self._read[work_id] = self.thumbnails(work_id)
        return self._read[work_id]

    def detail(self, work_id: str, pair: Pair) -> float | None:
        """The pair's detail agreement; None when it cannot be checked (no details, no
        thumbnail, a window the check cannot cut): the pair is accepted unchecked."""
        if self.details is None:
            return None
        thumbnail = self._thumbnail(work_id)
        if thumbnail is None:
            return None
        pixels, width, height = thumbnail
        return detail_similarity(self.details[pair.query], pixels, width, height, pair.variant)

    def entropy(self, work_id: str, pair: Pair) -> float | None:
        """How many grey levels (bits) the work's window of the pair shows, cut from its
        thumbnail (:func:`window_entropy`); None when it cannot be cut."""
        thumbnail = self._thumbnail(work_id)
        if thumbnail is None:
            return None
        pixels, width, height = thumbnail
        return window_entropy(pixels, width, height, pair.variant)

    def aligned(self, work_id: str, pair: Pair) -> float | None:
        """The pair's descriptor similarity with the work's window sketched from its thumbnail at
        the best alignment (:func:`aligned_similarity`); None when it cannot be had (no copy
        descriptors, no thumbnail, a window the check cannot cut)."""
        if self.descriptors is None:
            return None
        thumbnail = self._thumbnail(work_id)
        if thumbnail is None:
            return None
        pixels, width, height = thumbnail
        return aligned_similarity(self.descriptors[pair.query], pixels, width, height, pair.variant)

    def tones(self, work_id: str, pair: Pair, frame: Frame | None) -> Tones | None:
        """How the copy's greys compare with the work's where the pair places it: the levels
        left past an allowed brightness and contrast change and the texture the copy shows
        beyond the work's (:func:`tones`); None when it cannot be judged (no thumbnail on
        either side, a pair whose place is unknown): the pair is accepted unchecked."""
        if self.copy is None or frame is None:
            return None
        thumbnail = self._thumbnail(work_id)
        if thumbnail is None:
            return None
        return tones(self.copy, thumbnail[0], frame, pair.variant)

    def size(self, work_id: str) -> tuple[int, int] | None:
        """The work's picture size (None without a thumbnail: a print before the detail check)."""
        thumbnail = self._thumbnail(work_id)
        return None if thumbnail is None else (thumbnail[1], thumbnail[2])


def detail_check(
    details: np.ndarray | None,
    thumbnails: Thumbnails,
    copy: np.ndarray | None = None,
    descriptors: np.ndarray | None = None,
) -> WorkChecks:
    """The :class:`WorkChecks` of a copy's window details (:func:`print_details`), thumbnail
    (:func:`print_thumbnail`) and descriptors against the works' thumbnails."""
    return WorkChecks(details, thumbnails, copy, descriptors)


def candidate_floor(settings: Settings) -> float:
    """The least descriptor similarity of a candidate pair: the match bar, or lower when
    weaker pairs may be scored again at their best alignment (:func:`weak_pair_allowed`)."""
    aligned = settings.image_aligned_similarity
    return (
        min(settings.image_min_similarity, aligned)
        if aligned > 0
        else settings.image_min_similarity
    )


def weak_pair_allowed(settings: Settings, checks: WorkChecks, work_id: str, pair: Pair) -> bool:
    """Whether a pair under the descriptor bar may be re-scored at its best alignment: the work
    is at least ``image_aligned_min_side`` px a side and its window shows at least
    ``image_aligned_min_entropy`` bits. Icons, sprites and symbols drawn in a few greys are
    where sketches agree by chance; on ``bench/real_catalogue.py``'s calibration half every
    weak pair re-scored past the bar without this gate was one of them."""
    size = checks.size(work_id)
    if size is None or min(size) < settings.image_aligned_min_side:
        return False
    bits = checks.entropy(work_id, pair)
    return bits is not None and bits >= settings.image_aligned_min_entropy


def decide(settings: Settings, evidence: ImageEvidence, checks: WorkChecks) -> list[SignalMatch]:
    """The image rule: the works the copy matches, best first.

    The one decision of every image match, whether the evidence came from one index
    (:meth:`ImageSignal.match`) or from the shards' indexes merged
    (:mod:`tanba.matcher.gather`): a copy's window that looks like too many pictures
    (:func:`plain_windows`) is no evidence, nor is a pair that stretches the copy's
    proportions (:func:`placed`); of each work's other pairs, the first
    ``DETAIL_TRIES`` are checked in turn, and the first whose details agree and whose
    place on the work other windows of the copy confirm (:func:`confirmed`) decides,
    unless it is a small work's simple window and the work's only pair (:func:`lone_simple`)
    or its grey levels differ from the work's by more than a brightness and contrast change
    (:meth:`WorkChecks.levels`) or its copy shows far more texture than the work
    (:meth:`WorkChecks.texture`).
    """
    plain = plain_windows(settings, evidence.lookalikes)
    plain |= _turned_plain(evidence.windows, plain)
    bar = settings.image_min_similarity
    matches = []
    for work_id, candidates in evidence.pairs.items():
        tried = [pair for pair in candidates if pair.query not in plain]
        strong = [pair for pair in tried if pair.score >= bar]
        found = _first_passing(settings, evidence, checks, work_id, strong) if strong else None
        weak = [pair for pair in tried if pair.score < bar][:PLACE_TRIES]
        if found is None and weak:
            allowed = [pair for pair in weak if weak_pair_allowed(settings, checks, work_id, pair)]
            found = _first_passing(settings, evidence, checks, work_id, allowed, aligned=True)
        if found is not None:
            matches.append(found)
    return ranked(matches)


def _first_passing(
    settings: Settings,
    evidence: ImageEvidence,
    checks: WorkChecks,
    work_id: str,
    tried: list[Pair],
    aligned: bool = False,
) -> SignalMatch | None:
    """The match the first of a work's pairs to pass every test makes (None: none passes).

    ``aligned``: the pairs are under the descriptor bar, and the one that passes the other
    tests must reach it scored at its best alignment (:meth:`WorkChecks.aligned`), which
    becomes its score. No thumbnail is read for a work without pairs (a shelf on disk).
    """
    if not tried:
        return None
    frames = placed(settings, evidence, tried[:PLACE_TRIES], checks.size(work_id))
    kept = [(pair, frames[i] if i < len(frames) else None) for i, pair in enumerate(tried)]
    kept = [(pair, frame) for pair, frame in kept if frame is not STRETCHED]
    others = [(pair.query, frame) for pair, frame in kept[:PLACE_TRIES] if frame is not None]
    for pair, frame in kept[:DETAIL_TRIES]:
        if not confirmed(settings, frame, others):
            continue
        if lone_simple(settings, len(kept), checks, work_id, pair):
            continue
        detail = checks.detail(work_id, pair)
        if detail is not None and detail < settings.image_min_detail:
            continue
        judged = settings.image_max_levels or settings.image_max_texture
        if judged and tones_differ(settings, checks.tones(work_id, pair, frame)):
            continue
        if aligned:
            score = checks.aligned(work_id, pair)
            if score is None or score < settings.image_min_similarity:
                continue
            return _matched(work_id, replace(pair, score=score), detail, evidence.algorithm, pair)
        return _matched(work_id, pair, detail, evidence.algorithm)
    return None


# The copy's window a turned window is cut as (the inner one, tanba.fingerprint.image).
_INNER_WINDOW = crop_variant(*ROTATED_WINDOW)


def _turned_plain(windows: tuple[str, ...], plain: set[int]) -> set[int]:
    """The copy's enlarged turned windows when its inner window is too plain to be evidence:
    turned a few degrees and cut from the middle of the canvas, a disc or a star is that
    plain picture again, and each such window gathers too few of the look-alikes' hits to be
    counted plain itself.

    On bench/real_catalogue.py's held-out half Endless Sky's radar (a disc, its inner window a
    look-alike of many works) matched FreeOrion's round flag through two enlarged turned
    windows (turned:±N:crop:…). The turns within the canvas (turned:±N) are left as they
    were: setting them aside too lost 5 of the 300 true graphic web copies there (small
    sprites matched through them), which were found before.
    """
    inner = {i for i, window in enumerate(windows) if window == _INNER_WINDOW}
    if not inner & plain:
        return set()
    return {i for i, window in enumerate(windows) if turned_place(window) is not None}


def tones_differ(settings: Settings, found: Tones | None) -> bool:
    """Whether the copy's greys are not the work's where the pair places it: more grey levels
    left than ``image_max_levels`` past a brightness and contrast change, or more texture
    than ``image_max_texture`` beyond the work's (either check off at 0; None: not judged)."""
    if found is None:
        return False
    levels, texture = settings.image_max_levels, settings.image_max_texture
    return bool(levels and found.residual > levels) or bool(texture and found.excess > texture)


# A pair whose geometry stretches the copy: no evidence (see placed()).
STRETCHED = Frame(0.0, 0.0, 0.0, 0.0, False)


def placed(
    settings: Settings, evidence: ImageEvidence, pairs: list[Pair], size: tuple[int, int] | None
) -> list[Frame | None]:
    """Where each pair puts the copy on the work (:func:`implied_frame`): None where a
    window's place is unknown (a box printed before boxes were placed, a shard's answer
    without window names) or is not the copy's orientation (a turned window), :data:`STRETCHED`
    where the pair stretches the copy's proportions by more than ``image_max_stretch`` (a
    content box's pair by :data:`BOX_STRETCH_SLACK` more; a turned window's pair judged by
    :func:`turned_frame`; judged only when both sizes are known)."""
    if not evidence.windows:
        return [None] * len(pairs)
    copy_size = (evidence.width, evidence.height)
    out: list[Frame | None] = []
    for pair in pairs:
        window = evidence.windows[pair.query]
        frame = implied_frame(window, pair.variant)
        shape = frame or turned_frame(window, pair.variant)  # a turned window: shape alone
        most = settings.image_max_stretch + (BOX_STRETCH_SLACK if is_box(window) else 0.0)
        if (
            shape is not None
            and settings.image_max_stretch
            and size is not None
            and min(*size, *copy_size) > 0
            and abs(stretch(shape, copy_size, size)) > most
        ):
            frame = STRETCHED
        out.append(frame)
    return out


def confirmed(settings: Settings, frame: Frame | None, others: list[tuple[int, Frame]]) -> bool:
    """Whether at least ``image_min_windows`` distinct windows of the copy (this pair's
    among them) place it where this pair does; a pair whose place is unknown is not
    judged (accepted)."""
    if frame is None or settings.image_min_windows <= 1:
        return True
    agreeing = {query for query, other in others if same_place(frame, other, PLACE_TOLERANCE)}
    return len(agreeing) >= settings.image_min_windows


def lone_simple(
    settings: Settings, pairs: int, checks: WorkChecks, work_id: str, pair: Pair
) -> bool:
    """Whether the pair is too weak to match alone: the work's only pair left (``pairs``
    is 1), the work smaller than ``image_small_side`` on a side, and its window showing
    fewer than ``image_min_entropy`` bits of grey levels. Unknown sizes or windows (a
    print before the thumbnail) are not judged; the size and the entropy are read only
    when the cheaper conditions hold.
    """
    if not settings.image_min_entropy or pairs != 1:
        return False
    size = checks.size(work_id)
    if size is None or min(size) >= settings.image_small_side:
        return False
    entropy = checks.entropy(work_id, pair)
    return entropy is not None and entropy < settings.image_min_entropy


def _matched(
    work_id: str,
    pair: Pair,
    detail: float | None,
    algorithm: str,
    unaligned: Pair | None = None,
) -> SignalMatch:
    """The match a pair makes; ``unaligned``: the pair as it was before its re-scoring at the
    best alignment (its score goes in the detail, so the evidence says what was aligned)."""
    return SignalMatch(
        work_id,
        round(max(0.0, pair.score), 4),
        MatchDetail(
            algorithm=algorithm,
            distance=pair.distance,
            variant=pair.variant,
            detail=None if detail is None else round(detail, 4),
            unaligned=None if unaligned is None else round(unaligned.score, 4),
        ),
    )


def plain_windows(settings: Settings, lookalikes: list[Lookalike]) -> set[int]:
    """The copy's windows that look like more distinct registered pictures than allowed.

    Look-alike works whose windows are one picture (their descriptors within
    :data:`SAME_PICTURE` of each other: a wallpaper registered at three sizes, an
    icon at 16, 32 and 48 px) count once: a catalogue may hold a picture several
    times, and its copies must still match. ``lookalikes`` in hit order (the
    count is greedy, so the order is part of the rule).
    """
    limit = settings.image_max_lookalikes
    if not limit:
        return set()
    by_window: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
    for found in lookalikes:
        by_window[found.query].setdefault(found.work_id, found.reference)
    return {
        query
        for query, works in by_window.items()
        if len(works) > limit and _pictures(list(works.values()), limit) > limit
    }


def _pictures(windows: list[np.ndarray], enough: int) -> int:
    """How many distinct pictures the windows show (greedy: a window within SAME_PICTURE of
    an earlier picture's first window is that picture); counting stops past ``enough``."""
    firsts: list[np.ndarray] = []
    for window in windows:
        if not firsts or similarity(np.array(firsts), window).max() < SAME_PICTURE:
            firsts.append(window)
            if len(firsts) > enough:
                break
    return len(firsts)
