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
)
# Containers that may hold a picture: Matroska / WebM, FLV, MPEG program streams.
_VIDEO_MAGIC = (b"\x1aE\xdf\xa3", b"FLV\x01", b"\x00\x00\x01\xba")
# ISO media brands that hold sound only (m4a, m4b audiobooks, m4p).
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
# Text formats whose content names other files or URLs for the decoder to open.
_PLAYLIST_MARKERS = (b"#extm3u", b"ffconcat", b"<mpd", b"[playlist]", b"<smil", b"#ext-x-")


def sniff(head: bytes) -> str:
    """'image', 'audio', 'video', 'html', 'playlist', 'text', 'empty' or 'unknown' from the first
    bytes. 'video' is a container that may hold a picture (mp4, mov, webm, mkv, avi, flv, MPEG
    program and transport streams, Ogg with Theora); whether it does is the decoder's to find
    (an audio-only webm is fingerprinted as audio)."""
    if not head:
        return "empty"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[4:8] == b"ftyp":
        # ISO media: AVIF/HEIC are images, m4a sound, the rest (mp4, mov, 3gp) may be video.
        if head[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
            return "image"
        return "audio" if head[8:12] in _AUDIO_BRANDS else "video"
    if head.startswith(_VIDEO_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return "video"
    if head.startswith(b"OggS") and b"\x80theora" in head:
        return "video"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "video"  # MPEG transport stream: a sync byte every 188 bytes
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
