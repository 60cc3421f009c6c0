"""Large prints travel as blobs: an event carries a stub that names the blob holding the print.

Contract: :func:`travelling` returns the fingerprint to put in an event: as it
is, or, when its audio print's JSON is over :data:`INLINE_BYTES`, with a stub
(algorithm, duration, item period and ``blob``: the SHA-256 of the whole print
in the blob store, written first). :func:`resolved` is its inverse for a
consumer: the whole print again, read from the blob store. A stub keeps what a
person reads (the duration), so the works pages and evidence reports need no
blob.

Why: a film's soundtrack of two hours has a print of about 9 MB (8 items a
second and about 270 landmarks a second, packed), past the largest Kafka
message (8 MiB, ``tanba.core.bus.kafka``); a work registered with it must still
reach every matcher, and a crawled copy every shard. Every stage already shares
the blob store (the crawled media live there).
"""

from __future__ import annotations

from tanba.core.blobs import BlobStore
from tanba.core.exceptions import NotFound
from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.signals.audio import AudioPrint

# An audio print larger than this (as JSON) travels as a blob: a 15-minute track's
# print is about 1.1 MB, a two-hour soundtrack's about 9 MB.
INLINE_BYTES = 1 << 20


class PrintMissing(RuntimeError):
    """An event's print names a blob this stage cannot read."""


def travelling(
    fingerprint: Fingerprint, blobs: BlobStore, limit: int = INLINE_BYTES
) -> Fingerprint:
    """The fingerprint as an event carries it: inline, or a stub naming its blob."""
    audio = fingerprint.audio
    if audio is None or audio.blob:
        return fingerprint
    raw = audio.model_dump_json().encode()
    if len(raw) <= (INLINE_BYTES if limit is None else limit):
        return fingerprint
    stub = AudioPrint(
        algorithm=audio.algorithm,
        duration_s=audio.duration_s,
        item_s=audio.item_s,
        items_b64="",
        blob=blobs.put(raw),
    )
    return fingerprint.model_copy(update={"audio": stub})


def resolved(fingerprint: Fingerprint, blobs: BlobStore | None) -> Fingerprint:
    """The fingerprint with its whole print, read from the blob store when it travelled apart."""
    audio = fingerprint.audio
    if audio is None or not audio.blob:
        return fingerprint
    if blobs is None:
        raise PrintMissing(
            f"the print of {fingerprint.sha256} travels as blob {audio.blob}, and this stage "
            "has no blob store: give every stage the same blob store (TANBA_BLOBS=s3://..., or "
            "TANBA_HOME's blobs on a shared file system)"
        )
    try:
        whole = AudioPrint.model_validate_json(blobs.get(audio.blob))
    except NotFound:
        raise PrintMissing(
            f"the print of {fingerprint.sha256} is blob {audio.blob}, which is not in "
            f"{blobs.where}: every stage must share one blob store (the same TANBA_BLOBS=s3://..., "
            "or one shared blobs directory)"
        ) from None
    return fingerprint.model_copy(update={"audio": whole})


def with_print(work: Work, blobs: BlobStore | None) -> Work:
    """The work with its whole print (:func:`resolved`), to index it."""
    whole = resolved(work.fingerprint, blobs)
    return work if whole is work.fingerprint else work.model_copy(update={"fingerprint": whole})
