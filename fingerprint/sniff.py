"""Media type sniffing from the first bytes, because servers lie about Content-Type."""

from __future__ import annotations

_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF
    b"MM\x00*",
)
_AUDIO_MAGIC = (
    b"ID3",
    b"OggS",
    b"fLaC",
    b"\xff\xfb",  # MPEG audio frame sync (common bit rates)
    b"\xff\xf3",
    b"\xff\xf2",
    b"\xff\xf1",  # AAC ADTS
    b"\xff\xf9",
    b"\x1aE\xdf\xa3",  # Matroska / WebM
)


def sniff(head: bytes) -> str:
    """'image', 'audio', 'html', 'empty' or 'unknown' from a file's first bytes."""
    if not head:
        return "empty"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[4:8] == b"ftyp":
        # ISO media: AVIF/HEIC are images, the rest (mp4, m4a) carry audio.
        return "image" if head[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1") else "audio"
    if head.startswith(_AUDIO_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE"):
        return "audio"
    text = head[:512].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "html"
    return "unknown"
