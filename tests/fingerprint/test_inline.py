"""The fingerprint worker reads a small file from its event when it came inline (remote blobs).

Contract (tanba.core.schemas.media, tanba.fingerprint.worker): bytes that travel in the
``MediaDiscovered`` event and match ``occurrence.sha256`` are fingerprinted without
asking the blob store; bytes that do not match are ignored and the store is read; an
event without them reads the store as before. The fingerprint is the same either way.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import IO

import pytest
from PIL import Image

from tanba.core import topics
from tanba.core.blobs import FileBlobStore
from tanba.core.bus import Message
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.settings import Settings
from tanba.fingerprint.compute import memory_budget
from tanba.fingerprint.sandbox import Sandbox
from tanba.fingerprint.worker import FingerprintStage


class CountingRemote(FileBlobStore):
    """Files that behave as a remote store: no file of their own, every read counted."""

    remote = True
    reads = 0

    def file(self, sha256: str) -> Path | None:
        return None

    def open(self, sha256: str) -> IO[bytes]:
        self.reads += 1
        return super().open(sha256)


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    picture = Image.new("RGB", (96, 64), (shade, 255 - shade, 40))
    for x in range(0, 96, 8):
        picture.paste((x * 2, 0, 255 - x * 2), (x, 0, x + 4, 64))
    picture.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def stage(tmp_path: Path) -> tuple[FingerprintStage, CountingRemote]:
    settings = Settings.from_env({}, home=tmp_path)
    blobs = CountingRemote(tmp_path / "blobs")
    sandbox = Sandbox(memory_budget(settings))
    bus = EmbeddedBus(settings.path("bus.sqlite3"))
    yield (
        FingerprintStage(settings, bus, blobs, FixedClock("2026-03-01T12:00:00Z"), sandbox=sandbox),
        blobs,
    )
    sandbox.close()
    bus.close()


def _event(data: bytes, body: bytes | None, sha256: str | None = None) -> Message:
    occurrence = MediaOccurrence(
        target="t",
        site="site.example.kz",
        page_url="http://site.example.kz/",
        media_url="http://site.example.kz/a.png",
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type="image/png",
        fetched_at="2026-03-01T12:00:00Z",
    )
    value = encode(MediaDiscovered(occurrence=occurrence, kind_hint="image", body=body))
    return Message(topics.MEDIA, 0, 0, "site.example.kz", value)


def _print(effects: list[tuple[str, object]]) -> FingerprintComputed:
    [(topic, record)] = effects
    assert topic == topics.FINGERPRINTS
    return decode(record.value, FingerprintComputed)  # type: ignore[attr-defined]


def test_an_inline_body_is_fingerprinted_without_reading_the_store(
    stage: tuple[FingerprintStage, CountingRemote],
) -> None:
    worker, blobs = stage
    data = _png(10)  # never put in the store: only the event has it
    inline = _print(worker.handle(_event(data, data)))
    assert blobs.reads == 0
    other = _png(200)
    blobs.put(other)
    from_store = _print(worker.handle(_event(other, None)))
    assert blobs.reads == 1
    for got, picture in ((inline, data), (from_store, other)):
        assert got.fingerprint.media == "image" and got.fingerprint.image is not None
        assert got.fingerprint.sha256 == hashlib.sha256(picture).hexdigest()


def test_a_damaged_inline_body_is_ignored_and_the_store_read(
    stage: tuple[FingerprintStage, CountingRemote],
) -> None:
    worker, blobs = stage
    data = _png(60)
    blobs.put(data)
    damaged = data[:-8] + b"\x00" * 8
    got = _print(worker.handle(_event(data, damaged)))
    assert blobs.reads == 1
    clean = _print(worker.handle(_event(_png(61), _png(61))))
    assert blobs.reads == 1
    assert got.fingerprint.image is not None and clean.fingerprint.image is not None
    assert got.fingerprint.sha256 == hashlib.sha256(data).hexdigest()


def test_the_body_is_base64_in_the_json_and_bytes_again_after_decoding() -> None:
    data = bytes(range(256))
    raw = _event(data, data).value
    assert b'"body":"AAECAwQF' in raw
    assert decode(raw, MediaDiscovered).body == data
    assert decode(_event(data, None).value, MediaDiscovered).body is None
