"""The fingerprint stage: media events in, fingerprint or quarantine events out."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from tanba.core import topics
from tanba.core.blobs import BlobStore, bytes_file, is_blob, sweep_copies
from tanba.core.bus import Bus, Message, Record
from tanba.core.clock import Clock, iso
from tanba.core.print_blobs import travelling
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.schemas.quarantine import MediaQuarantined
from tanba.core.settings import Settings
from tanba.core.worker import PublishingStage
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.sandbox import Sandbox

_CACHE_SIZE = 4096


class FingerprintStage(PublishingStage):
    """Fingerprints each discovered media file; a file that cannot be read is quarantined."""

    name = "fingerprint"
    group = topics.GROUP_FINGERPRINT
    topics = (topics.MEDIA,)

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        blobs: BlobStore,
        clock: Clock,
        *,
        sandbox: Sandbox | None = None,
    ) -> None:
        """``sandbox`` decodes the files; by default the process's shared one."""
        self.settings = settings
        self.sandbox = sandbox
        self.bus = bus
        self.blobs = blobs
        self.clock = clock
        # Where copies of remote blobs wait for the sandbox (removed after each file; those
        # a killed worker left, here).
        self._tmp_dir = settings.home / "tmp"
        sweep_copies(self._tmp_dir)
        # The same file often appears on many pages: fingerprint it once (or fail once).
        self._cache: OrderedDict[str, Fingerprint | str] = OrderedDict()
        self.fingerprinted = 0
        self.quarantined = 0

    def handle(self, message: Message) -> list[Any]:
        event = decode(message.value, MediaDiscovered)
        occurrence = event.occurrence
        result = self._fingerprint(occurrence.sha256, occurrence.content_type, event.body)
        if isinstance(result, str):
            out: Any = MediaQuarantined(
                occurrence=occurrence,
                stage=self.name,
                reason=result,
                quarantined_at=iso(self.clock.now()),
            )
            return [(topics.QUARANTINE, Record(occurrence.sha256, encode(out)))]
        out = FingerprintComputed(occurrence=occurrence, fingerprint=travelling(result, self.blobs))
        return [(topics.FINGERPRINTS, Record(message.key, encode(out)))]

    def apply(self, effects: Sequence[Any]) -> None:
        super().apply(effects)
        quarantined = sum(1 for topic, _ in effects if topic == topics.QUARANTINE)
        self.quarantined += quarantined
        self.fingerprinted += len(effects) - quarantined

    def _fingerprint(self, sha256: str, content_type: str, body: bytes | None) -> Fingerprint | str:
        if sha256 in self._cache:
            self._cache.move_to_end(sha256)
            return self._cache[sha256]
        try:
            with self._file(sha256, body) as path:
                result: Fingerprint | str = fingerprint_file(
                    path,
                    sha256,
                    self.settings,
                    claimed_type=content_type,
                    sandbox=self.sandbox,
                )
        except Unfingerprintable as exc:
            result = str(exc)
        self._cache[sha256] = result
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def _file(self, sha256: str, body: bytes | None) -> AbstractContextManager[Path]:
        """A file of the blob for the sandbox: the bytes the event carried when they are the
        blob (damaged ones are ignored), else the blob's own file or a checked copy of a
        remote one."""
        if body is not None and self.blobs.file(sha256) is None and is_blob(body, sha256):
            return bytes_file(body, sha256, self._tmp_dir)
        return self.blobs.local_path(sha256, self._tmp_dir)
