"""The gather stage: N matcher shards' answers about a print, decided as one matcher decides.

Contract: each matcher shard ``I/N`` publishes one :class:`ShardAnswered` per fingerprint
event to ``tanba.match-answers``, keyed by the event's position (every shard reads the
same event at the same position). :class:`GatherStage` (one consumer group; the key
puts every answer about a print on one partition, so gather processes scale by
partitions) waits until it holds the answers of shards ``0..N-1`` of a key, then
decides with :func:`tanba.matcher.match.decided`, the decision one matcher makes
(its image rule is :func:`tanba.matcher.image_signal.decide` in both), and raises
the alerts and suppressions the shards' verdicts say.

An answer too large for a Kafka message (a print near thousands of registered works)
travels as a blob in the blob store every stage shares, its event a stub naming it
(:func:`travelling`, :func:`resolved`), as large prints do.

Durability, after the worker contract: the answers of undecided keys, and the keys
decided, are written to the compacted ``tanba.match-pending`` before the offsets are
committed; a gather process (re)starting, or taking over a partition, reads them back
first. So a gather process killed at any point loses no answer, and raises an alert
twice at most as the store's upsert by deterministic id makes once; an answer read
again after its key was decided (a shard killed before its commit publishes its batch
again) is ignored; a gather remembers a decided key for :data:`DECIDED_KEEP_S` (a day),
so its memory holds a day of prints, not every print ever judged.

Why: the image rule sets aside a copy's window that looks like many registered
pictures, and only the whole catalogue can count them; per shard, N shards raised
alerts one matcher sets aside (``tests/matcher/test_gather.py``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tanba.core import topics
from tanba.core.alerts import Alert, MatchDetail, in_stream_time
from tanba.core.blobs import BlobStore
from tanba.core.bus import Bus, Message, Record
from tanba.core.clock import Clock, SystemClock, iso, parse_iso
from tanba.core.exceptions import NotFound
from tanba.core.print_blobs import PrintMissing
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.gather import (
    CandidatePair,
    GatherPending,
    LookalikeWindow,
    ShardAnswered,
    ShardMatch,
    Verdict,
    WorkPairs,
)
from tanba.core.schemas.suppressions import MatchSuppressed
from tanba.core.settings import Settings
from tanba.core.signals.image import DESCRIPTOR_LENGTH
from tanba.core.signals.image_detail import DETAIL_LENGTH, THUMBNAIL_SIDE
from tanba.core.store import AlertStore
from tanba.core.worker import Stage
from tanba.matcher.image_signal import ImageEvidence, Lookalike, Pair
from tanba.matcher.match import Answer, decided
from tanba.matcher.signal import SignalMatch

log = logging.getLogger("tanba.matcher.gather")

# How long a gather process remembers that it decided a print: longer than a shard takes to
# come back and send its unfinished batch again (a restart, a rebalance), after which no
# answer about that print comes any more. An answer later still would only wait, undecided.
DECIDED_KEEP_S = 24 * 3600.0

# An answer larger than this (encoded) travels as a blob, its event a stub naming it; small
# enough that a pending record holding the answers of dozens of shards fits a Kafka message.
INLINE_BYTES = 256 * 1024

Effect = Alert | MatchSuppressed


def scored(verdict: Effect, score: float, detail: MatchDetail) -> Effect:
    """The alert of a match (its score and figures, copy-side times in the stream's) from
    the alert its work raises anywhere there; a suppression as it is."""
    if isinstance(verdict, Alert):
        return verdict.model_copy(
            update={"score": score, "match": in_stream_time(detail, verdict.stream)}
        )
    return verdict


def answered(
    key: str, shard: int, shards: int, answer: Answer, verdicts: dict[str, Effect]
) -> ShardAnswered:
    """A shard's answer as the event it publishes; ``verdicts``: what a match of each
    candidate work would raise."""
    image = answer.image
    return ShardAnswered(
        key=key,
        shard=shard,
        shards=shards,
        algorithm=image.algorithm,
        lookalikes=[
            LookalikeWindow(
                query=x.query,
                distance=x.distance,
                work_id=x.work_id,
                variant=x.variant,
                reference_b64=_b64(x.reference, np.int8),
            )
            for x in image.lookalikes
        ],
        details_b64=_b64(answer.details, np.int8),
        thumbnail_b64=_b64(answer.copy, np.uint8),
        descriptors_b64=_b64(answer.descriptors, np.int8),
        windows=list(image.windows),
        width=image.width,
        height=image.height,
        works=[
            WorkPairs(
                work_id=work_id,
                pairs=[
                    CandidatePair(
                        score=p.score, query=p.query, distance=p.distance, variant=p.variant
                    )
                    for p in pairs
                ],
                **_thumbnail(answer.thumbnails.get(work_id)),
            )
            for work_id, pairs in image.pairs.items()
        ],
        matches=[
            ShardMatch(work_id=m.work_id, score=m.score, detail=m.detail) for m in answer.matches
        ],
        verdicts=[
            Verdict(
                work_id=work_id,
                alert=v if isinstance(v, Alert) else None,
                suppressed=v if isinstance(v, MatchSuppressed) else None,
            )
            for work_id, v in verdicts.items()
        ],
    )


def travelling(event: ShardAnswered, blobs: BlobStore | None) -> bytes:
    """The answer as published (encoded): itself, or past :data:`INLINE_BYTES` a stub naming
    the blob that holds it (written first); without a blob store, itself."""
    raw = encode(event)
    if blobs is None or len(raw) <= INLINE_BYTES:
        return raw
    stub = ShardAnswered(key=event.key, shard=event.shard, shards=event.shards, blob=blobs.put(raw))
    return encode(stub)


def resolved(event: ShardAnswered, blobs: BlobStore | None) -> ShardAnswered:
    """The whole answer of a stub (read from the blob store); an inline answer as it is."""
    if not event.blob:
        return event
    if blobs is None:
        raise PrintMissing(
            f"shard {event.shard}/{event.shards}'s answer about {event.key} is blob {event.blob}, "
            "and the gather stage has no blob store: give it the shards' (TANBA_BLOBS=s3://...)"
        )
    try:
        return decode(blobs.get(event.blob), ShardAnswered)
    except NotFound:
        raise PrintMissing(
            f"shard {event.shard}/{event.shards}'s answer about {event.key} is blob {event.blob}, "
            f"not in {blobs.where}: the shards and the gather stage must share one blob store"
        ) from None


def answer_of(event: ShardAnswered) -> Answer:
    """The :class:`Answer` a shard's event carries (the inverse of :func:`answered`)."""
    lookalikes = [
        Lookalike(
            x.query,
            x.distance,
            x.work_id,
            x.variant,
            np.frombuffer(base64.b64decode(x.reference_b64), np.int8),
        )
        for x in event.lookalikes
    ]
    pairs = {
        w.work_id: [Pair(p.score, p.query, p.distance, p.variant) for p in w.pairs]
        for w in event.works
    }
    thumbnails = {
        w.work_id: (_unpacked(w.thumbnail_b64, np.uint8, THUMBNAIL_SIDE), w.width, w.height)
        for w in event.works
        if w.thumbnail_b64
    }
    details = _unpacked(event.details_b64, np.int8, DETAIL_LENGTH) if event.details_b64 else None
    copy = _unpacked(event.thumbnail_b64, np.uint8, THUMBNAIL_SIDE) if event.thumbnail_b64 else None
    descriptors = (
        _unpacked(event.descriptors_b64, np.int8, DESCRIPTOR_LENGTH)
        if event.descriptors_b64
        else None
    )
    matches = [SignalMatch(m.work_id, m.score, m.detail) for m in event.matches]
    image = ImageEvidence(
        lookalikes, pairs, event.algorithm, tuple(event.windows), event.width, event.height
    )
    return Answer(image, details, thumbnails, matches, copy, descriptors)


def _b64(rows: np.ndarray | None, dtype: type[np.generic]) -> str:
    return "" if rows is None else base64.b64encode(np.asarray(rows, dtype).tobytes()).decode()


def _unpacked(text: str, dtype: type[np.generic], width: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype).reshape(-1, width)


def _thumbnail(thumbnail: tuple[np.ndarray, int, int] | None) -> dict[str, Any]:
    if thumbnail is None:
        return {}
    pixels, width, height = thumbnail
    return {"thumbnail_b64": _b64(pixels, np.uint8), "width": width, "height": height}


def decision(settings: Settings, answers: Sequence[ShardAnswered]) -> list[Effect]:
    """The alerts and suppressions of a print given every shard's answer, best match first."""
    verdicts: dict[str, Effect] = {}
    for event in answers:
        for v in event.verdicts:
            effect = v.alert if v.alert is not None else v.suppressed
            if effect is not None:
                verdicts[v.work_id] = effect
    found = decided(settings, [answer_of(a) for a in answers])
    return [scored(verdicts[m.work_id], m.score, m.detail) for m in found]


def complete(answers: dict[tuple[int, int], ShardAnswered]) -> list[ShardAnswered] | None:
    """The answers of shards 0..N-1 of one N, once all are there (the smallest such N)."""
    for count in sorted({shards for shards, _ in answers}):
        if all((count, i) in answers for i in range(count)):
            return [answers[count, i] for i in range(count)]
    return None


class GatherStage(Stage):
    """Decides each print once every matcher shard answered about it (module docstring)."""

    name = "gather"
    group = topics.GROUP_GATHER
    topics = (topics.MATCH_ANSWERS,)

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        store: AlertStore,
        blobs: BlobStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``blobs``: where the shards put answers too large for an event (:func:`travelling`)."""
        self.settings = settings
        self.bus = bus
        self.store = store
        self.blobs = blobs
        self.clock = clock or SystemClock()
        # Per key, the answers so far by (shard count, shard index); and the keys decided in
        # the last DECIDED_KEEP_S, with when (in the order decided, oldest first).
        self.pending: dict[str, dict[tuple[int, int], ShardAnswered]] = {}
        self.decided: dict[str, datetime] = {}
        self._position: dict[int, int] = {}
        self.alerts = 0
        self.suppressed = 0

    def before_batch(self) -> None:
        """Fold in the pending records written since (all of them at start), ours and other
        gather processes' (a partition taken over brings its keys' answers along)."""
        positions = dict(self._position)
        horizon = self.clock.now() - timedelta(seconds=DECIDED_KEEP_S)
        for message in self.bus.replay(topics.MATCH_PENDING, after=positions):
            positions[message.partition] = message.offset
            record = decode(message.value, GatherPending)
            if record.decided:
                at = parse_iso(record.decided_at) if record.decided_at else self.clock.now()
                if at >= horizon:
                    self.decided.setdefault(record.key, at)
                self.pending.pop(record.key, None)
            elif record.key not in self.decided:
                self.pending[record.key] = {(a.shards, a.shard): a for a in record.answers}
        self._position = positions
        self._forget(horizon)

    def _forget(self, before: datetime) -> None:
        """Forget the keys decided before ``before``: the oldest are first (roughly: keys
        read back from several partitions interleave, and wait for the keys before them)."""
        while self.decided:
            key, at = next(iter(self.decided.items()))
            if at >= before:
                break
            del self.decided[key]

    def handle(self, message: Message) -> list[Any]:
        return [decode(message.value, ShardAnswered)]

    def apply(self, effects: Sequence[Any]) -> None:
        """Decide the keys the batch completes; record the others' answers; state moves
        only once all of it is durable (a failed write retries the same batch)."""
        touched: dict[str, dict[tuple[int, int], ShardAnswered]] = {}
        done: dict[str, list[ShardAnswered]] = {}
        for answer in effects:
            key = answer.key
            if key in self.decided or key in done:
                continue  # a copy of an answer already decided on
            answers = touched.setdefault(key, dict(self.pending.get(key, {})))
            answers[answer.shards, answer.shard] = answer
            ready = complete(answers)
            if ready is not None:
                done[key] = ready
        raised = [
            effect
            for key in done
            for effect in decision(self.settings, [resolved(a, self.blobs) for a in done[key]])
        ]
        alerts = [e for e in raised if isinstance(e, Alert)]
        suppressions = [e for e in raised if isinstance(e, MatchSuppressed)]
        self.store.upsert(alerts)
        self.bus.publish(topics.SUPPRESSIONS, [Record(s.work_id, encode(s)) for s in suppressions])
        now = self.clock.now()
        records = [
            Record(key, encode(GatherPending(key=key, decided=True, decided_at=iso(now))))
            if key in done
            else Record(key, encode(GatherPending(key=key, answers=list(answers.values()))))
            for key, answers in touched.items()
        ]
        self.bus.publish(topics.MATCH_PENDING, records)
        for key, answers in touched.items():
            if key in done:
                self.decided.setdefault(key, now)
                self.pending.pop(key, None)
            else:
                self.pending[key] = answers
        self.alerts += len(alerts)
        self.suppressed += len(suppressions)
