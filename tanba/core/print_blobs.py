"""Large prints travel as blobs: an event carries a stub that names the blob holding the print.

Contract: :func:`travelling` returns the fingerprint to put in an event: as it
is, or, when its audio or video print's JSON is over :data:`INLINE_BYTES`, with a
stub in its place (what a person reads: algorithm, duration, sizes, and ``blob``:
the SHA-256 of the whole print in the blob store, written first); each print
travels on its own (a film's soundtrack and its picture). :func:`resolved` is its inverse for a
consumer: the whole print again, read from the blob store. A stub keeps what a
person reads (the duration), so the works pages and evidence reports need no
blob.

Why: a film's soundtrack of two hours has a print of about 9 MB (8 items a
second and about 270 landmarks a second, packed), past the largest Kafka
message (8 MiB, ``tanba.core.bus.kafka``); a work registered with it must still
reach every matcher, and a crawled copy every shard. A film's picture at two frames
a second is about 0.6 MB (32 bytes a frame, compressed), a crawled copy's twice that
(the mirrored hashes). Every stage already shares the blob store (the crawled media
live there).
"""

from __future__ import annotations

from tanba.core.blobs import BlobStore
from tanba.core.exceptions import NotFound
from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.signals.audio import AudioPrint
from tanba.core.signals.video import VideoPrint

# An audio print larger than this (as JSON) travels as a blob: a 15-minute track's
# print is about 1.1 MB, a two-hour soundtrack's about 9 MB.
INLINE_BYTES = 1 << 20


class PrintMissing(RuntimeError):
    """An event's print names a blob this stage cannot read."""


def travelling(
    fingerprint: Fingerprint, blobs: BlobStore, limit: int = INLINE_BYTES
) -> Fingerprint:
    """The fingerprint as an event carries it: each large print replaced by a stub naming its blob."""
    update: dict[str, AudioPrint | VideoPrint] = {}
    audio = fingerprint.audio
    if audio is not None and not audio.blob:
        raw = audio.model_dump_json().encode()
        if len(raw) > limit:
            update["audio"] = AudioPrint(
                algorithm=audio.algorithm,
                duration_s=audio.duration_s,
                item_s=audio.item_s,
                items_b64="",
                blob=blobs.put(raw),
            )
    video = fingerprint.video
    if video is not None and not video.blob:
        raw = video.model_dump_json().encode()
        if len(raw) > limit:
            update["video"] = stub_of(video, blobs.put(raw))
    return fingerprint.model_copy(update=update) if update else fingerprint


def stub_of(video: VideoPrint, blob: str = "") -> VideoPrint:
    """The video print without its frames (what a person reads), naming ``blob``."""
    return video.model_copy(
        update={
            "times_b64": "",
            "hashes_b64": "",
            "mirrored_b64": "",
            "zoomed_b64": "",
            "inset_frames_b64": "",
            "inset_b64": "",
            "unmarked_b64": "",
            "blob": blob,
        }
    )


def resolved(fingerprint: Fingerprint, blobs: BlobStore | None) -> Fingerprint:
    """The fingerprint with its whole prints, read from the blob store when they travelled apart."""
    update: dict[str, AudioPrint | VideoPrint] = {}
    if fingerprint.audio is not None and fingerprint.audio.blob:
        update["audio"] = AudioPrint.model_validate_json(
            _read(fingerprint, fingerprint.audio.blob, blobs)
        )
    if fingerprint.video is not None and fingerprint.video.blob:
        update["video"] = VideoPrint.model_validate_json(
            _read(fingerprint, fingerprint.video.blob, blobs)
        )
    return fingerprint.model_copy(update=update) if update else fingerprint


def _read(fingerprint: Fingerprint, blob: str, blobs: BlobStore | None) -> bytes:
    if blobs is None:
        raise PrintMissing(
            f"the print of {fingerprint.sha256} travels as blob {blob}, and this stage "
            "has no blob store: give every stage the same blob store (TANBA_BLOBS=s3://..., or "
            "TANBA_HOME's blobs on a shared file system)"
        )
    try:
        return blobs.get(blob)
    except NotFound:
        raise PrintMissing(
            f"the print of {fingerprint.sha256} is blob {blob}, which is not in "
            f"{blobs.where}: every stage must share one blob store (the same TANBA_BLOBS=s3://..., "
            "or one shared blobs directory)"
        ) from None


def with_print(work: Work, blobs: BlobStore | None) -> Work:
    """The work with its whole print (:func:`resolved`), to index it."""
    whole = resolved(work.fingerprint, blobs)
    return work if whole is work.fingerprint else work.model_copy(update={"fingerprint": whole})
