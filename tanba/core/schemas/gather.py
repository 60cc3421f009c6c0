"""Topics ``tanba.match-answers`` and ``tanba.match-pending``: matcher shards' answers, gathered.

With ``N`` matcher shards, each shard judges every crawled print against the works it
holds but decides nothing: it publishes a :class:`ShardAnswered` per fingerprint event,
keyed by that event's position (:func:`answer_key`), and the gather stage
(:mod:`tanba.matcher.gather`) decides once it has all ``N`` answers of a key, with
the same decision one matcher makes. Why: the image rule sets aside a copy's window
that looks like many registered pictures, and only the whole catalogue can count them.

Compact on purpose: an answer carries only the copy's windows that look like a
registered window (each with the registered window's 63-byte descriptor), the candidate
window pairs that passed the descriptor test with what their detail checks read (the
copy's window details and 4 KiB thumbnail, each candidate work's 4 KiB thumbnail), the audio and video matches (their rules are per work), and for each work that
may match the alert or suppression it would raise, without its score.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tanba.core.alerts import Alert, MatchDetail
from tanba.core.schemas.base import Event, Model
from tanba.core.schemas.suppressions import MatchSuppressed


def answer_key(topic: str, partition: int, offset: int) -> str:
    """The key of the answers about one fingerprint event: every shard reads the same
    event at the same position, and no other event has it."""
    return f"{topic}/{partition}/{offset}"


class LookalikeWindow(Model):
    """A registered window (of ``work_id``, ``variant``) that the copy's window ``query``
    looks like; ``reference_b64`` its int8 descriptor."""

    query: int
    distance: int
    work_id: str
    variant: str
    reference_b64: str


class CandidatePair(Model):
    """A window pair that passed the descriptor test."""

    score: float
    query: int
    distance: int
    variant: str


class WorkPairs(Model):
    """A work's candidate pairs, best score first, and what its detail checks read: its
    64 × 64 grey thumbnail (uint8, base64; empty when it has none) and picture size."""

    work_id: str
    pairs: list[CandidatePair]
    thumbnail_b64: str = ""
    width: int = 0
    height: int = 0


class ShardMatch(Model):
    """A match decided in the shard (a signal whose rule is per work: audio, video)."""

    work_id: str
    score: float
    detail: MatchDetail


class Verdict(Model):
    """What a match of ``work_id`` raises, without the match's score and figures: an alert
    or, when the rights say so, a suppression."""

    work_id: str
    alert: Alert | None = None
    suppressed: MatchSuppressed | None = None


class ShardAnswered(Event):
    """One shard's answer about one fingerprint event (``key``: :func:`answer_key`)."""

    SCHEMA: ClassVar[str] = "tanba.ShardAnswered"
    VERSION: ClassVar[int] = 1

    key: str
    shard: int
    shards: int
    # Set on a stub: the whole answer (this event, encoded) is this blob in the blob store
    # (an answer naming thousands of candidate works would not fit a Kafka message).
    blob: str = ""
    algorithm: str = ""
    # The copy's window details (int8 rows, base64) when a work of this shard is a candidate.
    details_b64: str = ""
    # The copy's own 64 x 64 grey thumbnail (uint8, base64) for the grey-level check: empty
    # when the copy's print has none or in an answer from a shard that predates the check,
    # which is then skipped.
    thumbnail_b64: str = ""
    # The copy's window descriptors (int8 rows, base64) for a pair under the descriptor bar
    # scored at its best alignment: empty from a shard that predates it (no such pair matches).
    descriptors_b64: str = ""
    # The copy's window names and picture size (the geometry test of the image rule): empty
    # in an answer from a shard that predates the test, which is then skipped.
    windows: list[str] = Field(default_factory=list)
    width: int = 0
    height: int = 0
    lookalikes: list[LookalikeWindow] = Field(default_factory=list)
    works: list[WorkPairs] = Field(default_factory=list)
    matches: list[ShardMatch] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)


class GatherPending(Event):
    """The gather stage's record of a key (log-compacted): the answers it has so far, or
    ``decided`` once it raised the key's alerts (later copies of an answer are ignored)."""

    SCHEMA: ClassVar[str] = "tanba.GatherPending"
    VERSION: ClassVar[int] = 1

    key: str
    answers: list[ShardAnswered] = Field(default_factory=list)
    decided: bool = False
    decided_at: str = ""  # ISO 8601, UTC: when (a gather forgets decided keys after a while)
