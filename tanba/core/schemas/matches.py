"""How a copy matched a work: the figures an alert, ``tanba match`` and evidence carry.

:class:`MatchDetail` rides on every alert (the alert stores, SQLite or
Elasticsearch, keep it as JSON) and in every evidence package's match report.

Versions (``MatchDetail.version``; a stored detail without one is version 1):

1. One position per match (``offset_s`` and its span); since the repeated-passage
   change of 2026-12-06 also ``spans``, every position of a passage the work
   repeats, each with its BER but no score.
2. ``positions``: every position of the work where the copy's passage occurs, best
   first, each with its score on the match score's scale; ``offset_s`` (and its
   span) is the first. Version 1 details read as version 2: their ``spans``
   become ``positions``, or an audio detail without them gets its one position,
   with no score (None: it was not recorded). Since 2026-12-07 a video's picture lists
   its positions too (a looping picture): such a position has ``evidence: "picture"``,
   the agreeing ``frames`` and their median ``distance``, and no BER (None); the fields
   are optional, so details stored before read unchanged.

Why its own module: the alert is not an event on a topic, but it is stored and
read back by every later version of Tanba, so its changes follow the same rules
(:mod:`tanba.core.schemas.base`: add optional fields freely, bump the version and
read the old form when a field changes meaning).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from tanba.core.schemas.base import Model

MATCH_DETAIL_VERSION = 2


class MatchPosition(Model):
    """One position of the work where the copy's passage occurs, and how well it agrees there.

    A sound's position has its BER; a picture's (``evidence: "picture"``) its agreeing
    frames and their median distance, and no BER."""

    offset_s: float  # where in the work the passage starts
    query_offset_s: float  # where in the copy it starts
    duration_s: float
    ber: float | None = None  # sound: bit error rate over the aligned span
    # 0..1 on the match score's scale (sound: 1 - 2 x the effective BER; picture: the share
    # of agreeing frames); None when not recorded (a version 1 detail).
    score: float | None = None
    evidence: str = ""  # "picture" for a picture's position; "" for a sound's
    frames: int | None = None  # picture: copy frames that agree there
    distance: int | None = None  # picture: median distance of those frames (of 256 bits)


class MatchDetail(Model):
    """How the copy matched: the algorithm and its raw figures, for the evidence report."""

    VERSION: ClassVar[int] = MATCH_DETAIL_VERSION

    version: int = MATCH_DETAIL_VERSION
    algorithm: str
    # image: Hamming distance of the best hash pair; video: median distance of agreeing frames
    distance: int | None = None
    # image: which variant of the reference matched; video: "mirrored" for a flipped copy
    variant: str = ""
    detail: float | None = None  # image: finer-coefficient similarity of that window pair
    # image: a pair under the descriptor bar re-scored with the work's window at its best
    # alignment (shifted up to 3%, scaled up to 4%): its descriptors' similarity before; the
    # match's score is the aligned one. None for a pair that passed the bar as it was.
    unaligned: float | None = None
    ber: float | None = None  # audio (and a video's sound): bit error rate over the aligned span
    offset_s: float | None = None  # audio, video: where in the work the copy starts
    duration_s: float | None = None  # audio, video: length of the aligned span
    query_offset_s: float | None = None  # audio, video: where in the copy the span starts
    votes: int | None = None  # audio: landmark hash hits on the offset (landmark matches)
    # video: what agreed ("picture", "sound" or "both"; a match on either alone counts)
    evidence: str = ""
    frames: int | None = None  # video: copy frames (two a second) that agreed with the work
    scale: float | None = None  # video: the copy's speed against the work (25/24: PAL speed-up)
    # audio (and a video's sound), a video's picture when the sound gives none: every
    # position of the work where the copy's passage occurs, best first; more than one where
    # the work repeats the passage.
    positions: list[MatchPosition] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Read a version 1 detail as version 2 (see the module doc)."""
        if not isinstance(data, dict) or "positions" in data:
            return data
        data = dict(data)
        spans = data.pop("spans", None)
        if spans:
            data["positions"] = spans
        elif data.get("ber") is not None and data.get("offset_s") is not None:
            data["positions"] = [
                {
                    "offset_s": data["offset_s"],
                    "query_offset_s": data.get("query_offset_s") or 0.0,
                    "duration_s": data.get("duration_s") or 0.0,
                    "ber": data["ber"],
                }
            ]
        data["version"] = MATCH_DETAIL_VERSION
        return data
