"""Media type sniffing from the first bytes, because servers lie about Content-Type.

Playlists and other text are told apart from media on purpose: ffmpeg follows
the references in an HLS playlist (``#EXTM3U``) or a DASH manifest, so a
crawled playlist naming ``/home/...`` or an intranet URL would make the decoder
read local files or fetch from inside the network. Such files are refused
before any decoder sees them.
"""

from __future__ import annotations

import codecs

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
# Text formats whose content names other files or URLs for the decoder to open.
_PLAYLIST_MARKERS = (b"#extm3u", b"ffconcat", b"<mpd", b"[playlist]", b"<smil", b"#ext-x-")


def sniff(head: bytes) -> str:
    """'image', 'audio', 'html', 'playlist', 'text', 'empty' or 'unknown' from the first bytes."""
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
    if any(marker in text for marker in _PLAYLIST_MARKERS):
        return "playlist"
    if _is_text(head):
        return "text"
    return "unknown"


def _is_text(head: bytes) -> bool:
    """True for UTF-8 text without control bytes other than whitespace (no media looks so)."""
    try:
        # Not final: the head may end inside a multi-byte character.
        decoded = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\n\r\f\v" for c in decoded)
