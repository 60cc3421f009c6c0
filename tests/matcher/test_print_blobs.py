"""A film's print travels as a blob: the events carry a stub, the matcher reads the whole print."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tanba.core import topics
from tanba.core.blobs import FileBlobStore
from tanba.core.bus import Message
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.print_blobs import PrintMissing, resolved, travelling, with_print
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.base import encode
from tanba.core.schemas.common import AUDIO, Fingerprint, MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import CHROMAPRINT, ITEM_S, LANDMARKS, AudioPrint, Landmarks
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.matcher.worker import MatcherStage


def _print(seed: int, items: int = 20_000) -> Fingerprint:
    """A long track's print (about 40 minutes of items and many landmarks)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**32, size=items, dtype=np.uint64).astype(np.uint32)
    marks = Landmarks(
        rng.integers(0, 1 << 24, size=50_000).astype(np.uint32),
        np.sort(rng.integers(0, 150_000, size=50_000)).astype(np.uint32),
    )
    audio = AudioPrint.from_items(CHROMAPRINT, items * ITEM_S, ITEM_S, values).model_copy(
        update={"landmarks": LANDMARKS, "landmarks_b64": marks.pack()}
    )
    return Fingerprint(media=AUDIO, sha256=f"{seed:064x}", audio=audio)


def test_a_large_print_travels_as_a_stub_and_comes_back_whole(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    fingerprint = _print(1)
    small = Fingerprint(media=AUDIO, sha256="2" * 64, audio=_print(2, items=100).audio)
    assert travelling(small, blobs, limit=1 << 20) == small  # a song's print stays inline
    stub = travelling(fingerprint, blobs, limit=100_000)
    assert stub.audio is not None and stub.audio.blob and stub.audio.items_b64 == ""
    assert stub.audio.duration_s == fingerprint.audio.duration_s  # what a person reads stays
    assert len(stub.model_dump_json()) < 1_000 < len(fingerprint.model_dump_json())
    assert resolved(stub, blobs) == fingerprint
    assert resolved(fingerprint, None) == fingerprint  # an inline print needs no store


def test_a_stub_without_its_blob_says_what_to_do(tmp_path: Path) -> None:
    stub = travelling(_print(3), FileBlobStore(tmp_path / "here"), limit=100_000)
    with pytest.raises(PrintMissing, match="share one blob store"):
        resolved(stub, FileBlobStore(tmp_path / "elsewhere"))
    with pytest.raises(PrintMissing, match="no blob store"):
        resolved(stub, None)


def _occurrence() -> MediaOccurrence:
    return MediaOccurrence(
        target="t",
        site="kino.example.kz",
        page_url="http://kino.example.kz/film",
        media_url="http://kino.example.kz/film.ogg",
        sha256="9" * 64,
        size=1,
        fetched_at="2026-12-06T00:00:00.000Z",
    )


def test_the_matcher_registers_and_matches_prints_that_travelled_as_blobs(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    film = _print(4)
    work = Work(
        work_id="film",
        owner="studio",
        title="A film",
        media=AUDIO,
        sha256="4" * 64,
        registered_at="2026-12-06T00:00:00Z",
        fingerprint=travelling(film, blobs, limit=100_000),
    )
    assert work.fingerprint.audio is not None and work.fingerprint.audio.blob
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    WorkRegistry(bus).register([work])
    stage = MatcherStage(
        Settings.from_env({}),
        bus,
        EmbeddedAlertStore(tmp_path / "alerts.sqlite"),
        FixedClock(),
        JurisdictionRegistry.load(),
        blobs=blobs,
    )
    stage.before_batch()
    # A crawled copy: the whole film again, its print a blob too.
    copy = travelling(film.model_copy(update={"sha256": "9" * 64}), blobs, limit=100_000)
    event = FingerprintComputed(occurrence=_occurrence(), fingerprint=copy)
    message = Message(topics.FINGERPRINTS, 0, 0, "kino.example.kz", encode(event))
    (alert,) = stage.handle(message)
    assert alert.work_id == "film" and alert.score > 0.9
    assert with_print(work, blobs).fingerprint == film
