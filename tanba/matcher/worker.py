"""The matcher stage: fingerprint events in, alerts to the store and suppressions to the bus."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from tanba.core import topics
from tanba.core.alerts import Alert, MatchDetail, alert_id
from tanba.core.blobs import BlobStore
from tanba.core.bus import Bus, Message, Record
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import TransientError
from tanba.core.jurisdictions.attribution import IpCountryLookup, attribute
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.print_blobs import resolved, with_print
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import AUDIO, VIDEO, Fingerprint, MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.gather import answer_key
from tanba.core.schemas.suppressions import MatchSuppressed
from tanba.core.schemas.works import Work, WorkRegistered, WorkRemoved
from tanba.core.settings import Settings
from tanba.core.shards import Shard
from tanba.core.store import AlertStore
from tanba.core.worker import Stage
from tanba.matcher.gather import answered, scored, travelling
from tanba.matcher.match import Match, Matcher, default_signals, without_print
from tanba.matcher.rights import check_rights
from tanba.matcher.state import MatcherState

log = logging.getLogger("tanba.matcher")


class MatcherStage(Stage):
    """Keeps the works index current from the works topic and judges every fingerprint.

    ``shard`` (default: the ``matcher_shard`` setting) limits the works it holds; each
    shard has a consumer group of its own (:mod:`tanba.core.shards`) and, one of
    several, publishes its answer about each print instead of deciding
    (:mod:`tanba.matcher.gather`). With a ``state``
    (:mod:`tanba.matcher.state`) it starts from the saved catalogue and replays only
    the works events after it, and saves it again at most every ``SAVE_EVERY_S``.
    """

    SAVE_EVERY_S = 30.0

    name = "matcher"
    topics = (topics.FINGERPRINTS,)

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        store: AlertStore,
        clock: Clock,
        jurisdictions: JurisdictionRegistry,
        ip_lookup: IpCountryLookup | None = None,
        *,
        shard: Shard | None = None,
        state: MatcherState | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.shard = shard or Shard.parse(settings.matcher_shard)
        self.group = self.shard.group(topics.GROUP_MATCHER)
        self.bus = bus
        self.store = store
        self.clock = clock
        self.jurisdictions = jurisdictions
        self.ip_lookup = ip_lookup
        self.state = state
        self.blobs = blobs  # where prints too large for an event are (tanba.core.print_blobs)
        if state is None:
            self.matcher = Matcher(settings)
            self._works_position: dict[int, int] = {}
        else:
            audio = (state.audio, state.landmarks)
            video = state.video.indexes()
            signals = default_signals(settings, state.images, state.works, audio, video)
            self.matcher = Matcher(settings, signals, state.works)
            self._works_position = dict(state.positions)
            if not state.audio_saved:
                self._migrate_audio(state)
        # Films an older state kept whole on its shelf: indexed now, written as the video
        # catalogue at the first save, and shelved without their prints after it.
        self._films_to_shelve = self._index_videos(state) if state is not None else []
        self._saved_at = time.monotonic()
        self._unsaved = bool(self._films_to_shelve)
        self._saved_once = False  # the first replay at start is saved at once
        self.alerts = 0
        self.suppressed = 0

    def _migrate_audio(self, state: MatcherState) -> None:
        """Index the audio works a state from before the audio catalogue kept on its shelf."""
        old = [
            w
            for w in state.works.of_medium(AUDIO)
            if w.fingerprint.audio and w.fingerprint.audio.items_b64
        ]
        if old:
            with state.works.batch():
                for work in old:
                    self.matcher.add(work)  # indexed, and shelved without its print
            log.info("matcher: %d audio works moved to the audio catalogue", len(old))

    def _index_videos(self, state: MatcherState) -> list[str]:
        """Index the films a state from before the video catalogue kept whole on its shelf.

        They stay whole there until the catalogue holding them is saved (:meth:`save`): a
        crash before that finds them on the shelf again. Empty once the state has a video
        catalogue (``state.video.saved``).
        """
        signal = self.matcher.signals.get(VIDEO)
        if signal is None or state.video.saved:
            return []
        found = []
        for work in state.works.of_medium(VIDEO):
            video = work.fingerprint.video
            if video is not None and video.hashes_b64:
                signal.add(work.work_id, work.fingerprint)
                found.append(work.work_id)
        if found:
            log.info("matcher: %d video works indexed from the shelf", len(found))
        return found

    def batch_size(self, settings: Settings) -> int:
        """``TANBA_MATCHER_BATCH_SIZE``: a batch's alerts are one store write (see there)."""
        return settings.matcher_batch_size

    def gather_s(self, settings: Settings) -> float:
        """``TANBA_MATCHER_GATHER_S``: fewer, larger store writes (see there)."""
        return settings.matcher_gather_s

    def before_batch(self) -> None:
        """Fold in works registered or removed since the last batch (all of them at start).

        With a state, the positions move only once the shelf holds the events: a
        full disk raises TransientError, and the retry folds the same events in again
        (every change replaces or removes by work id, so twice is once).
        """
        positions = dict(self._works_position)
        with self.state.works.batch() if self.state is not None else nullcontext():
            for message in self.bus.replay(topics.WORKS, after=positions):
                positions[message.partition] = message.offset
                if message.key is not None and not self.shard.holds(message.key):
                    continue  # another shard's work: not even decoded (the key is the work id)
                event = decode(message.value, WorkRegistered, WorkRemoved)
                if isinstance(event, WorkRegistered):
                    self.matcher.add(with_print(event.work, self.blobs))  # a film's: a blob
                elif isinstance(event, WorkRemoved):
                    self.matcher.remove(event.work_id)
        self._unsaved |= positions != self._works_position
        self._works_position = positions
        due = time.monotonic() - self._saved_at >= self.SAVE_EVERY_S or not self._saved_once
        if self.state is not None and self._unsaved and due:
            self.save()

    def save(self) -> None:
        """Save the state now (it holds every works event read so far).

        A save that fails (a full disk) is logged and tried again at the next
        batch: the state only shortens the next start, the works topic has it all.
        """
        if self.state is None:
            return
        try:
            self.state.save(self._works_position)
        except (OSError, TransientError) as exc:
            log.warning("matcher: state not saved (%s); trying again later", exc)
            self._saved_at = time.monotonic()
            return
        self._saved_at = time.monotonic()
        self._unsaved = False
        self._saved_once = True
        if self._films_to_shelve:  # the catalogue holds them now: the shelf needs no frames
            with self.state.works.batch():
                for work_id in self._films_to_shelve:
                    work = self.state.works.get(work_id)
                    if work is not None:
                        self.state.works[work_id] = without_print(work)
            self._films_to_shelve = []

    def handle(self, message: Message) -> list[Any]:
        """One matcher: the alerts and suppressions of the print's matches. A shard of
        several: its :class:`~tanba.core.schemas.gather.ShardAnswered` about the print, for
        the gather stage to decide (:mod:`tanba.matcher.gather`)."""
        event = decode(message.value, FingerprintComputed)
        fingerprint = resolved(event.fingerprint, self.blobs)
        if self.shard.count > 1:
            return [self.answer(message, event.occurrence, fingerprint)]
        return [self.judge(event.occurrence, match) for match in self.matcher.match(fingerprint)]

    def answer(
        self, message: Message, occurrence: MediaOccurrence, fingerprint: Fingerprint
    ) -> Record:
        """This shard's answer about a print, keyed by the fingerprint event's position."""
        answer = self.matcher.answer(fingerprint)
        candidates = list(answer.image.pairs) + [m.work_id for m in answer.matches]
        verdicts = {
            work_id: self.verdict(occurrence, self.matcher.works[work_id])
            for work_id in dict.fromkeys(candidates)
        }
        key = answer_key(message.topic, message.partition, message.offset)
        event = answered(key, self.shard.index, self.shard.count, answer, verdicts)
        return Record(key, travelling(event, self.blobs))

    def judge(self, occurrence: MediaOccurrence, match: Match) -> Alert | MatchSuppressed:
        """The alert a match raises, or the record of why it raises none."""
        return scored(self.verdict(occurrence, match.work), match.score, match.detail)

    def verdict(self, occurrence: MediaOccurrence, work: Work) -> Alert | MatchSuppressed:
        """What a match of ``work`` at this occurrence raises, whatever the match's figures
        (the alert's score and match are filled in by :func:`~tanba.matcher.gather.scored`)."""
        where = attribute(occurrence, self.jurisdictions, self.ip_lookup)
        ident = alert_id(work.work_id, occurrence.page_url, occurrence.media_url)
        suppressed = check_rights(
            work, occurrence.site, where.code, occurrence.fetched_at[:10], self.jurisdictions
        )
        if suppressed is not None:
            return MatchSuppressed(
                alert_id=ident,
                work_id=work.work_id,
                page_url=occurrence.page_url,
                media_url=occurrence.media_url,
                jurisdiction=where.code,
                reason=suppressed.reason,
                detail=suppressed.detail,
                at=iso(self.clock.now()),
                crawl_id=occurrence.crawl_id,
            )
        return Alert(
            id=ident,
            work_id=work.work_id,
            owner=work.owner,
            work_title=work.title,
            media=work.media,
            score=0.0,
            match=MatchDetail(algorithm=""),
            page_url=occurrence.page_url,
            page_title=occurrence.page_title,
            media_url=occurrence.media_url,
            media_sha256=occurrence.sha256,
            site=occurrence.site,
            target=occurrence.target,
            server_ip=occurrence.server_ip,
            jurisdiction=where.code,
            jurisdiction_confidence=where.confidence,
            signals=where.signals,
            cross_border=bool(work.owner_home) and work.owner_home != where.code,
            owner_home=work.owner_home,
            first_seen=occurrence.fetched_at,
            last_seen=occurrence.fetched_at,
            crawl_id=occurrence.crawl_id,
            page_capture=occurrence.page_capture,
            media_capture=occurrence.media_capture,
            player_url=occurrence.player_url,
            player_site=occurrence.player_site,
            player_capture=occurrence.player_capture,
            stream=occurrence.stream,
        )

    def apply(self, effects: Sequence[Any]) -> None:
        # Alerts first: a suppression record without its batch's alerts would be harmless,
        # but an alert is what must never be lost.
        answers = [e for e in effects if isinstance(e, Record)]
        self.bus.publish(topics.MATCH_ANSWERS, answers)
        alerts = [e for e in effects if isinstance(e, Alert)]
        self.store.upsert(alerts)
        suppressions = [e for e in effects if isinstance(e, MatchSuppressed)]
        self.bus.publish(topics.SUPPRESSIONS, [Record(s.work_id, encode(s)) for s in suppressions])
        # Counted once durable, for the run summary (a replayed batch counts again).
        self.alerts += len(alerts)
        self.suppressed += len(suppressions)
