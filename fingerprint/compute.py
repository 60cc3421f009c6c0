"""Fingerprint one media file: sniff what it really is, then hash it as image or audio."""

from __future__ import annotations

from pathlib import Path

from fingerprint.audio import audio_print
from fingerprint.exceptions import Unfingerprintable
from fingerprint.image import QUERY_VARIANTS, REFERENCE_VARIANTS, image_print
from fingerprint.sniff import sniff
from tanba.schemas.common import AUDIO, IMAGE, Fingerprint
from tanba.settings import Settings


def fingerprint_file(
    path: Path, sha256: str, settings: Settings, *, reference: bool = False, claimed_type: str = ""
) -> Fingerprint:
    """The fingerprint of the file at ``path``; :class:`Unfingerprintable` says why not.

    ``reference`` adds the variants a registered work is indexed under (its mirror);
    ``claimed_type`` is the server's Content-Type, used only to word the reason.
    """
    with open(path, "rb") as f:
        head = f.read(4096)
    kind = sniff(head)
    if kind == "empty":
        raise Unfingerprintable("empty file (0 bytes)")
    if kind == "html":
        served = f" served as {claimed_type}" if claimed_type else ""
        raise Unfingerprintable(f"an HTML page{served}, not an image or audio file")
    if kind == "image":
        variants = REFERENCE_VARIANTS if reference else QUERY_VARIANTS
        image = image_print(
            path.read_bytes(), max_pixels=settings.image_max_pixels, variants=variants
        )
        return Fingerprint(media=IMAGE, sha256=sha256, image=image)
    try:
        audio = audio_print(
            path, max_seconds=settings.audio_max_seconds, timeout_s=settings.decode_timeout_s
        )
    except Unfingerprintable as exc:
        if kind == "unknown":
            raise Unfingerprintable(f"neither an image nor audio ({exc})") from None
        raise
    return Fingerprint(media=AUDIO, sha256=sha256, audio=audio)
