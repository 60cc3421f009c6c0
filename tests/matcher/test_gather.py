"""N matcher shards raise exactly the alerts of one matcher, look-alikes straddling shards too.

The image rule sets aside a copy's window that looks like more than
``image_max_lookalikes`` registered pictures. The works here are look-alikes of one
another (made from DCT coefficients: a shared coarse part, a texture of their own) and
their ids are chosen so that they straddle the shards: no shard alone holds enough of
them to set a window aside, the catalogue as a whole does. Every case runs the whole
stage on the embedded bus, one matcher against 2 and 3 shards, and compares the alerts
stored (ids, scores and match figures) and the suppressions published.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tanba.core import topics
from tanba.core.blobs.files import FileBlobStore
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.print_blobs import PrintMissing
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import AUDIO, Fingerprint, MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.gather import GatherPending, ShardAnswered
from tanba.core.schemas.suppressions import MatchSuppressed
from tanba.core.schemas.works import Licence, Work
from tanba.core.settings import Settings
from tanba.core.shards import Shard
from tanba.core.signals.audio import CHROMAPRINT, ITEM_S, AudioPrint
from tanba.core.store.base import AlertQuery
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.core.worker import Worker
from tanba.fingerprint.image import REFERENCE
from tanba.matcher import gather
from tanba.matcher.gather import GatherStage, answer_of, answered
from tanba.matcher.match import Matcher, decided
from tanba.matcher.worker import MatcherStage
from tests.support import pictures

SETTINGS = Settings.from_env({})
# The look-alike rule alone (the synthetic textures are too unlike for the detail check; the
# weak pairs' re-scoring, which the detail check guards, off with it: the look-alikes share
# one coarse sketch, so aligned, a weak pair of any of them passes for the others).
RULE_ALONE = SETTINGS.with_(image_min_detail=0.0, image_aligned_similarity=0.0)


def _ids(count: int) -> list[str]:
    """Work ids that straddle the shards: for 2 and for 3 shards, consecutive ids differ."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        n += 1
        candidate = f"look-{n}"
        k = len(found)
        if Shard(k % 2, 2).holds(candidate) and Shard(k % 3, 3).holds(candidate):
            found.append(candidate)
    return found


def _lookalikes(count: int = 4) -> dict[str, Fingerprint]:
    """Registered pictures near one another (three or more distinct pictures)."""
    return {
        work_id: pictures.fingerprint(
            pictures.jpeg(pictures.picture(1, 10 + k, 0.3, mix=20 + k, eps=0.2)), REFERENCE
        )
        for k, work_id in enumerate(_ids(count))
    }


def _copies() -> dict[str, Fingerprint]:
    return {
        # A copy of the first look-alike: one matcher matches it alone.
        "copy": pictures.fingerprint(
            pictures.jpeg(pictures.picture(1, 10, 0.3, mix=20, eps=0.2), 300, 75)
        ),
        # A plain picture near them all.
        "plain": pictures.fingerprint(pictures.jpeg(pictures.picture(1, 99, 0.0), 300, 75)),
        # A picture like none of them.
        "other": pictures.fingerprint(pictures.jpeg(pictures.picture(7, 3, 0.3), 300, 75)),
    }


def _work(work_id: str, fingerprint: Fingerprint, licensed_on: str = "") -> Work:
    return Work(
        work_id=work_id,
        owner="agency",
        title=f"title of {work_id}",
        media=fingerprint.media,
        sha256="0" * 64,
        territories=["KZ"],
        licences=[Licence(domain=licensed_on)] if licensed_on else [],
        registered_at="2026-12-06T00:00:00Z",
        fingerprint=fingerprint,
    )


def _occurrence(name: str, site: str = "kino.example.kz") -> MediaOccurrence:
    return MediaOccurrence(
        target="t",
        site=site,
        page_url=f"http://{site}/{name}",
        media_url=f"http://{site}/{name}.jpg",
        sha256="9" * 64,
        size=1,
        fetched_at="2026-12-06T00:00:00.000Z",
    )


Outcome = tuple[list[tuple[str, str, float, str]], list[tuple[str, str]]]


def run_shards(
    tmp_path: Path,
    settings: Settings,
    works: list[Work],
    copies: list[tuple[MediaOccurrence, Fingerprint]],
    count: int,
    gather: Callable[[EmbeddedBus, EmbeddedAlertStore], None] | None = None,
    blobs: FileBlobStore | None = None,
) -> Outcome:
    """The alerts (id, work, score, figures) and suppressions (id, reason) of ``count`` shards
    (``gather``: runs the gather stage, default :func:`gathered`)."""
    home = tmp_path / f"n{count}"
    home.mkdir()
    bus = EmbeddedBus(home / "bus.sqlite")
    store = EmbeddedAlertStore(home / "alerts.sqlite")
    WorkRegistry(bus).register(works)
    bus.publish(
        topics.FINGERPRINTS,
        [
            Record(o.site, encode(FingerprintComputed(occurrence=o, fingerprint=fp)))
            for o, fp in copies
        ],
    )
    for index in range(count):
        stage = MatcherStage(
            settings,
            bus,
            store,
            FixedClock(),
            JurisdictionRegistry.load(),
            shard=Shard(index, count),
            blobs=blobs,
        )
        Worker(stage, bus, settings, stop=threading.Event(), poll_timeout_s=0.05).run(
            drained=lambda: True
        )
    if count > 1:
        if gather is not None:
            gather(bus, store)
        else:
            gathered(settings, bus, store, blobs)
            latest = {
                m.key: decode(m.value, GatherPending).decided
                for m in bus.replay(topics.MATCH_PENDING)
            }
            assert set(latest) == answered_keys(bus) and all(latest.values())
    alerts = sorted(
        (a.id, a.work_id, a.score, a.match.model_dump_json())
        for a in store.search(AlertQuery(limit=1000)).alerts
    )
    suppressed = sorted(
        (e.alert_id, e.reason)
        for e in (decode(m.value, MatchSuppressed) for m in bus.replay(topics.SUPPRESSIONS))
    )
    return alerts, suppressed


def gathered(
    settings: Settings,
    bus: EmbeddedBus,
    store: EmbeddedAlertStore,
    blobs: FileBlobStore | None = None,
) -> GatherStage:
    """Run the gather stage until it has nothing left; every print answered is decided."""
    stage = GatherStage(settings, bus, store, blobs)
    Worker(stage, bus, settings, stop=threading.Event(), poll_timeout_s=0.05).run(
        drained=lambda: True
    )
    assert not stage.pending
    return stage


def answered_keys(bus: EmbeddedBus) -> set[str]:
    return {m.key for m in bus.replay(topics.MATCH_ANSWERS) if m.key is not None}


@pytest.mark.parametrize("count", [2, 3])
def test_look_alikes_in_several_shards_are_counted_as_one_matcher_counts_them(
    tmp_path: Path, count: int
) -> None:
    works = [_work(w, fp) for w, fp in _lookalikes().items()]
    copies = [(_occurrence(name), fp) for name, fp in _copies().items()]
    one = run_shards(tmp_path, RULE_ALONE, works, copies, 1)
    assert one[0], "one matcher raises alerts here (the case would prove nothing)"
    assert run_shards(tmp_path, RULE_ALONE, works, copies, count) == one


@pytest.mark.parametrize("count", [2, 3])
def test_a_copy_matches_and_a_licensed_copy_is_suppressed_as_one_matcher_decides(
    tmp_path: Path, count: int
) -> None:
    """The detail check on (the default rule): the copy of the first look-alike matches it;
    on a site its licence names, the match is suppressed, by every shard count alike."""
    prints = _lookalikes()
    first = next(iter(prints))
    works = [_work(w, fp, "shop.example.kz" if w == first else "") for w, fp in prints.items()]
    copy = _copies()["copy"]
    copies = [(_occurrence("copy"), copy), (_occurrence("copy", "shop.example.kz"), copy)]
    one = run_shards(tmp_path, SETTINGS, works, copies, 1)
    assert [a[1] for a in one[0]] == [first] and [s[1] for s in one[1]] == ["licensed"]
    assert run_shards(tmp_path, SETTINGS, works, copies, count) == one


def test_one_picture_registered_in_several_shards_counts_once(tmp_path: Path) -> None:
    """A picture registered at three sizes, one size per shard, with two other look-alikes:
    its copy still matches all three sizes, one matcher or three shards."""
    sizes = {
        work_id: pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2), size, 95), REFERENCE)
        for work_id, size in zip(_ids(3), (512, 400, 300), strict=True)
    }
    works = [_work(w, fp) for w, fp in sizes.items()]
    copies = [
        (_occurrence("copy"), pictures.fingerprint(pictures.jpeg(pictures.picture(1, 2), 250, 75)))
    ]
    one = run_shards(tmp_path, SETTINGS, works, copies, 1)
    assert sorted(a[1] for a in one[0]) == sorted(sizes)
    assert run_shards(tmp_path, SETTINGS, works, copies, 3) == one


@pytest.mark.parametrize(
    "settings",
    [SETTINGS, RULE_ALONE, RULE_ALONE.with_(image_max_lookalikes=1)],
    ids=["default", "rule-alone", "one-lookalike"],
)
def test_shard_answers_decided_together_are_the_single_matcher_s_matches(
    settings: Settings,
) -> None:
    """Every way of splitting the works over 2 and 3 shards, every copy: the answers of the
    shards, through their events, decide exactly what one matcher matches (works, scores,
    figures)."""
    prints = _lookalikes(5)
    copies = [*_copies().values(), next(iter(prints.values()))]
    single = Matcher(settings)
    for work_id, fp in prints.items():
        single.add(_work(work_id, fp))
    rng = random.Random(16)
    for count in (2, 3):
        for _ in range(4):
            owner = {w: rng.randrange(count) for w in prints}
            shards = [Matcher(settings) for _ in range(count)]
            for work_id, fp in prints.items():
                shards[owner[work_id]].add(_work(work_id, fp))
            for fp in copies:
                expected = [(m.work.work_id, m.score, m.detail) for m in single.match(fp)]
                events = [
                    decode(encode(answered("k", i, count, s.answer(fp), {})), ShardAnswered)
                    for i, s in enumerate(shards)
                ]
                found = decided(settings, [answer_of(e) for e in events])
                assert [(m.work_id, m.score, m.detail) for m in found] == expected, owner


class Killed(Exception):
    """The gather process dies here (before its commit, as SIGKILL would leave it)."""


class DiesAtPending(EmbeddedBus):
    """A bus whose first write of pending records kills the gather stage writing it."""

    def publish(self, topic: str, records: Sequence[Record]) -> None:
        if topic == topics.MATCH_PENDING:
            raise Killed
        super().publish(topic, records)


def test_a_gather_killed_before_its_commit_and_a_shard_s_batch_sent_twice_change_nothing(
    tmp_path: Path,
) -> None:
    """The gather stage dies once its alerts are stored but before it records its keys or
    commits; a new one redoes the batch. Then a shard sends its answers again (killed before
    its own commit): they are ignored. The alerts are one matcher's throughout."""
    works = [_work(w, fp) for w, fp in _lookalikes().items()]
    copies = [(_occurrence(name), fp) for name, fp in _copies().items()]
    one = run_shards(tmp_path, RULE_ALONE, works, copies, 1)

    def killed_then_again(bus: EmbeddedBus, store: EmbeddedAlertStore) -> None:
        dying = GatherStage(RULE_ALONE, DiesAtPending(bus.path), store)
        consumer = bus.consumer(dying.group, dying.topics)
        batch = consumer.poll(100, 0.05)
        dying.before_batch()
        with pytest.raises(Killed):
            dying.apply([e for m in batch for e in dying.handle(m)])
        consumer.close()  # never committed
        assert len(store.search(AlertQuery(limit=1000)).alerts) == len(one[0])
        gathered(RULE_ALONE, bus, store)
        again = [Record(m.key, m.value) for m in bus.replay(topics.MATCH_ANSWERS)]
        bus.publish(topics.MATCH_ANSWERS, again[: len(again) // 2])
        late = gathered(RULE_ALONE, bus, store)
        assert set(late.decided) == answered_keys(bus)

    assert run_shards(tmp_path, RULE_ALONE, works, copies, 2, killed_then_again) == one


def _track(seed: int, length: int = 1200) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=length, dtype=np.uint32)


def _audio(items: np.ndarray) -> Fingerprint:
    audio = AudioPrint.from_items(CHROMAPRINT, len(items) * ITEM_S, ITEM_S, items)
    return Fingerprint(media=AUDIO, sha256="0" * 64, audio=audio)


@pytest.mark.parametrize("count", [2, 3])
def test_audio_works_in_several_shards_raise_one_matcher_s_alerts(
    tmp_path: Path, count: int
) -> None:
    """Audio matches are decided in the shard (the rule aligns the copy with one track):
    excerpts of tracks spread over the shards, and an excerpt that joins two tracks of
    different shards, give one matcher's alerts."""
    tracks = {work_id: _track(k) for k, work_id in enumerate(_ids(4))}
    first, second, *_ = tracks.values()
    excerpts = {
        "excerpt-1": first[300:700],
        "excerpt-2": second[100:400],
        "joined": np.concatenate([first[800:1100], second[0:300]]),
        "unrelated": _track(99, 400),
    }
    works = [_work(w, _audio(items)) for w, items in tracks.items()]
    copies = [(_occurrence(name), _audio(items)) for name, items in excerpts.items()]
    one = run_shards(tmp_path, SETTINGS, works, copies, 1)
    assert sorted(a[1] for a in one[0]) == sorted([*tracks][:1] * 2 + [*tracks][1:2] * 2)
    assert run_shards(tmp_path, SETTINGS, works, copies, count) == one


def test_answers_too_large_for_an_event_travel_as_blobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every answer over the inline limit (here: all) is a blob the event names; the gather
    reads it back and decides as one matcher; without the blob store it says what to do."""
    monkeypatch.setattr(gather, "INLINE_BYTES", 0)
    blobs = FileBlobStore(tmp_path / "blobs")
    works = [_work(w, fp) for w, fp in _lookalikes().items()]
    copies = [(_occurrence(name), fp) for name, fp in _copies().items()]
    one = run_shards(tmp_path, RULE_ALONE, works, copies, 1)
    assert run_shards(tmp_path, RULE_ALONE, works, copies, 2, blobs=blobs) == one
    stub = decode(
        next(iter(EmbeddedBus(tmp_path / "n2" / "bus.sqlite").replay(topics.MATCH_ANSWERS))).value,
        ShardAnswered,
    )
    assert stub.blob and not stub.verdicts and not stub.lookalikes
    with pytest.raises(PrintMissing, match="no blob store"):
        gather.resolved(stub, None)
    with pytest.raises(PrintMissing, match="share one blob store"):
        gather.resolved(stub, FileBlobStore(tmp_path / "elsewhere"))


def test_a_gather_forgets_decided_prints_after_a_day_and_a_late_answer_only_waits(
    tmp_path: Path,
) -> None:
    """Decided keys are remembered for DECIDED_KEEP_S, also by a gather started afresh; an
    answer later still waits undecided and changes no alert."""
    works = [_work(w, fp) for w, fp in _lookalikes().items()]
    copies = [(_occurrence(name), fp) for name, fp in _copies().items()]
    clock = FixedClock("2026-12-06T00:00:00Z")
    stages: list[GatherStage] = []

    def gather_then_later(bus: EmbeddedBus, store: EmbeddedAlertStore) -> None:
        def run(stage: GatherStage) -> GatherStage:
            Worker(stage, bus, RULE_ALONE, stop=threading.Event(), poll_timeout_s=0.05).run(
                drained=lambda: True
            )
            stages.append(stage)
            return stage

        first = run(GatherStage(RULE_ALONE, bus, store, clock=clock))
        assert set(first.decided) == answered_keys(bus) and not first.pending
        clock.advance(gather.DECIDED_KEEP_S - 60)
        again = GatherStage(RULE_ALONE, bus, store, clock=clock)
        again.before_batch()  # what a gather started afresh reads back
        assert set(again.decided) == set(first.decided)
        clock.advance(120)
        again.before_batch()
        assert not again.decided  # a running gather forgets them too
        late = GatherStage(RULE_ALONE, bus, store, clock=clock)
        late.before_batch()
        assert not late.decided  # read back, and past the day
        (stray, *_) = list(bus.replay(topics.MATCH_ANSWERS))
        bus.publish(topics.MATCH_ANSWERS, [Record(stray.key, stray.value)])
        assert set(run(late).pending) == {stray.key}  # one shard's answer: it waits

    one = run_shards(tmp_path, RULE_ALONE, works, copies, 1)
    assert run_shards(tmp_path, RULE_ALONE, works, copies, 2, gather_then_later) == one
    assert len(stages) == 2


def test_the_geometry_test_is_decided_over_shards_as_one_matcher_decides_it(
    settings: Settings,
) -> None:
    """A picture squeezed to other proportions passes the descriptor and details of its
    work and only the geometry test sets it aside: the shards' answers carry what that
    test reads (the copy's window names and size, the work's size), so the gather stage
    sets it aside too, and still finds the true copy."""
    work = pictures.picture(1, 2)
    single = Matcher(settings)
    shards = [Matcher(settings) for _ in range(2)]
    fp = pictures.fingerprint(pictures.jpeg_at(work, (512, 512)), REFERENCE)
    single.add(_work("w", fp))
    shards[1].add(_work("w", fp))
    squeezed = pictures.fingerprint(pictures.jpeg_at(work, (400, 240)))
    copy = pictures.fingerprint(pictures.jpeg_at(work, (300, 300)))
    for print_, expected in ((squeezed, []), (copy, ["w"])):
        assert [m.work.work_id for m in single.match(print_)] == expected
        events = [
            decode(encode(answered("k", i, 2, s.answer(print_), {})), ShardAnswered)
            for i, s in enumerate(shards)
        ]
        assert [m.work_id for m in decided(settings, [answer_of(e) for e in events])] == expected


def test_the_grey_level_check_is_decided_over_shards_as_one_matcher_decides_it(
    settings: Settings,
) -> None:
    """A copy whose greys are squeezed into a pale band (no brightness and contrast change
    of the work gives them) passes the descriptor and details, which are blind to levels,
    and only the grey-level check sets it aside: the shards' answers carry the copy's
    thumbnail, so the gather stage sets it aside too, and still finds the true copy."""
    texture = np.asarray(pictures.picture(1, 2).convert("L"), np.float64)
    y, x = np.mgrid[: texture.shape[0], : texture.shape[1]]
    disc = np.hypot(x - texture.shape[1] / 2, y - texture.shape[0] / 2) < texture.shape[0] / 3
    work = Image.fromarray((texture * np.where(disc, 0.35, 1.0)).astype(np.uint8))  # a dark disc
    single = Matcher(settings)
    shards = [Matcher(settings) for _ in range(2)]
    fp = pictures.fingerprint(pictures.jpeg_at(work, (512, 512)), REFERENCE)
    single.add(_work("w", fp))
    shards[0].add(_work("w", fp))
    pale = pictures.fingerprint(pictures.jpeg_at(work.point(lambda v: 170 + v // 3), (300, 300)))
    copy = pictures.fingerprint(pictures.jpeg_at(work, (300, 300)))
    off = Matcher(settings.with_(image_max_levels=0.0))
    off.add(_work("w", fp))
    assert [m.work.work_id for m in off.match(pale)] == ["w"]  # only this check tells them apart
    for print_, expected in ((pale, []), (copy, ["w"])):
        assert [m.work.work_id for m in single.match(print_)] == expected
        events = [
            decode(encode(answered("k", i, 2, s.answer(print_), {})), ShardAnswered)
            for i, s in enumerate(shards)
        ]
        assert [m.work_id for m in decided(settings, [answer_of(e) for e in events])] == expected
