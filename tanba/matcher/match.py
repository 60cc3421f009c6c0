"""Match fingerprints against the registered works, whatever signal indexes sit behind.

Shared by the matcher stage and ``tanba match``, so a file checked by hand is
judged exactly as a crawled one. The :class:`Matcher` keeps the registered works
and hands each print to the :class:`~tanba.matcher.signal.SignalIndex` of its medium;
how a medium is indexed and what makes a match is that index's business.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import numpy as np

from tanba.core.alerts import MatchDetail
from tanba.core.schemas.common import Fingerprint, MediaKind
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import AudioPrint
from tanba.core.signals.image import ImagePrint, print_descriptors
from tanba.core.signals.image_detail import print_details, print_thumbnail
from tanba.matcher.audio_signal import AudioSignal
from tanba.matcher.image_signal import (
    ImageEvidence,
    ImageSignal,
    Thumbnails,
    decide,
    detail_check,
)
from tanba.matcher.index import AudioIndex, ImageIndex
from tanba.matcher.landmark_index import LandmarkIndex
from tanba.matcher.signal import SignalIndex, SignalMatch, ranked
from tanba.matcher.video_index import VideoIndex
from tanba.matcher.video_signal import VideoSignal


def default_signals(
    settings: Settings,
    images: ImageIndex | None = None,
    works: Mapping[str, Work] | None = None,
    audio: tuple[AudioIndex, LandmarkIndex] | None = None,
    video: tuple[VideoIndex, AudioIndex, LandmarkIndex] | None = None,
) -> dict[MediaKind, SignalIndex]:
    """One signal index per medium, with the fast indexes behind them (``images``, ``audio``,
    ``video``: saved ones, a film's frames and its soundtrack's two; ``works``: the store
    whose works keep their thumbnails, see :func:`without_print`)."""
    frames, sound, landmarks = video or (None, None, None)
    thumbnails = None if works is None else thumbnails_in(works)
    signals: list[SignalIndex] = [
        ImageSignal(settings, images, thumbnails),
        AudioSignal(settings, *(audio or (None, None))),
        VideoSignal(settings, frames, AudioSignal(settings, sound, landmarks)),
    ]
    return {s.kind: s for s in signals}


def without_print(work: Work) -> Work:
    """The work as the matcher keeps it: a print lives in its signal index (in the index's
    compact form; a decoded print is most of a work's memory), but for an image's size and
    thumbnail (4 KiB, read when a candidate's details are checked) and a track's or a film's
    duration and size."""
    fingerprint = work.fingerprint
    audio = fingerprint.audio
    kept_audio = None
    if audio is not None:
        kept_audio = AudioPrint(
            algorithm=audio.algorithm,
            duration_s=audio.duration_s,
            item_s=audio.item_s,
            items_b64="",
        )
    video = fingerprint.video
    if video is not None:
        # A film's frames (about 0.6 MB for two hours) and soundtrack live in the video
        # signal's indexes (saved with a matcher's state: tanba.matcher.video_state).
        kept_video = video.model_copy(
            update={"frames": 0, "times_b64": "", "hashes_b64": "", "mirrored_b64": "",
                    "zoomed_b64": "", "inset_frames_b64": "", "inset_b64": "",
                    "unmarked_b64": "", "blob": ""}
        )  # fmt: skip
        return work.model_copy(
            update={
                "fingerprint": fingerprint.model_copy(
                    update={"video": kept_video, "audio": kept_audio}
                )
            }
        )
    if kept_audio is not None:
        return work.model_copy(
            update={"fingerprint": fingerprint.model_copy(update={"audio": kept_audio})}
        )
    image = fingerprint.image
    if image is None:
        return work
    kept = None
    if image.thumbnail_b64:
        kept = ImagePrint(
            width=image.width,
            height=image.height,
            hashes=[],
            thumbnail=image.thumbnail,
            thumbnail_b64=image.thumbnail_b64,
        )
    return work.model_copy(
        update={
            "fingerprint": Fingerprint(
                media=fingerprint.media, sha256=fingerprint.sha256, image=kept
            )
        }
    )


def thumbnails_in(works: Mapping[str, Work]) -> Thumbnails:
    """The thumbnail lookup of an :class:`ImageSignal` whose works live in ``works``."""

    def thumbnail(work_id: str) -> tuple[np.ndarray, int, int] | None:
        work = works.get(work_id)
        image = None if work is None else work.fingerprint.image
        pixels = None if image is None else print_thumbnail(image)
        return None if pixels is None or image is None else (pixels, image.width, image.height)

    return thumbnail


@dataclass(frozen=True)
class Answer:
    """What one catalogue says about a print, for a decision over several (matcher shards).

    ``image``: the image signal's evidence (its rule counts look-alikes over the whole
    catalogue, so it is decided over every shard's evidence), with what the decision's
    detail checks read: the copy's window ``details`` and the candidate works'
    ``thumbnails`` (checked where the decision is made, so no more checks than one
    matcher makes); ``matches``: the other signals' matches, whose rules judge each
    work alone (audio: an alignment of the copy with one track; video: frames voted onto
    one offset of one film; but see the README on their candidates). ``copy``: the copy's
    own thumbnail, for the grey-level check (None in a print made before it).
    """

    image: ImageEvidence
    details: np.ndarray | None
    thumbnails: dict[str, tuple[np.ndarray, int, int]]
    matches: list[SignalMatch]
    copy: np.ndarray | None = None
    descriptors: np.ndarray | None = None


def decided(settings: Settings, answers: Sequence[Answer]) -> list[SignalMatch]:
    """The matches of a print given every shard's answer, best first: exactly what one
    matcher holding all their works finds (the image rule is the same :func:`decide`)."""
    image = ImageEvidence.merged([a.image for a in answers])
    details = next((a.details for a in answers if a.details is not None), None)
    thumbnails = {w: t for a in answers for w, t in a.thumbnails.items()}
    copy = next((a.copy for a in answers if a.copy is not None), None)
    descriptors = next((a.descriptors for a in answers if a.descriptors is not None), None)
    found = decide(settings, image, detail_check(details, thumbnails.get, copy, descriptors))
    return ranked(found + [m for a in answers for m in a.matches])


@dataclass(frozen=True)
class Match:
    """A registered work that a fingerprint matches, with a 0..1 score and the raw figures."""

    work: Work
    score: float
    detail: MatchDetail


class Matcher:
    """The registered works and, per medium, the signal index that matches their prints."""

    def __init__(
        self,
        settings: Settings,
        signals: Mapping[MediaKind, SignalIndex] | None = None,
        works: MutableMapping[str, Work] | None = None,
    ) -> None:
        self.settings = settings
        # A dict, or a shelf on disk (tanba.matcher.state) for a catalogue of millions.
        self.works: MutableMapping[str, Work] = works if works is not None else {}
        self.signals = (
            dict(signals) if signals is not None else default_signals(settings, works=self.works)
        )

    def add(self, work: Work) -> None:
        """Index a work (again, if it changed); it is kept :func:`without_print`."""
        self.remove(work.work_id)
        self.works[work.work_id] = without_print(work)
        signal = self.signals.get(work.fingerprint.media)
        if signal is not None:
            signal.add(work.work_id, work.fingerprint)

    def remove(self, work_id: str) -> None:
        if work_id in self.works:
            del self.works[work_id]
            for signal in self.signals.values():
                signal.remove(work_id)

    def match(self, fingerprint: Fingerprint) -> list[Match]:
        """Every work the fingerprint matches, best first.

        Every signal index is asked, and each matches the prints of its medium that the
        fingerprint carries: a video's soundtrack is matched against registered music by
        the audio signal, and an audio file against registered films' soundtracks by the
        video signal (a film's soundtrack ripped to MP3).
        """
        found = [m for signal in self.signals.values() for m in signal.match(fingerprint)]
        found.sort(key=lambda m: (-m.score, m.work_id))
        return [Match(self.works[m.work_id], m.score, m.detail) for m in found]

    def answer(self, fingerprint: Fingerprint) -> Answer:
        """This matcher's :class:`Answer` about a print, for :func:`decided` over shards:
        ``decided(settings, [matcher.answer(fp)])`` is ``matcher.match(fp)``'s matches."""
        image = ImageEvidence()
        details = copy = descriptors = None
        thumbnails: dict[str, tuple[np.ndarray, int, int]] = {}
        matches: list[SignalMatch] = []
        for signal in self.signals.values():
            if isinstance(signal, ImageSignal):
                image = signal.evidence(fingerprint)
                if image.pairs and fingerprint.image is not None:
                    details = print_details(fingerprint.image)
                    copy = print_thumbnail(fingerprint.image)
                    descriptors = print_descriptors(fingerprint.image)
                    # Read by the detail check and, for the work's size, the geometry test.
                    for work_id in image.pairs:
                        thumbnail = signal.thumbnail(work_id)
                        if thumbnail is not None:
                            thumbnails[work_id] = thumbnail
            else:
                matches += signal.match(fingerprint)
        return Answer(image, details, thumbnails, matches, copy, descriptors)
