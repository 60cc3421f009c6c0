"""Detect an MP3 cut short: its last frame claims more bytes than the file has left.

Decoders drop a partial last frame without a word, and an MP3 without a Xing
header declares no duration to compare with, so the frame walk is the only
reliable sign that a download or upload was cut off.
"""

from __future__ import annotations

# Bit rates in kbit/s by (MPEG-1?, index) for Layer III; sample rates by version.
_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def is_truncated_mp3(data: bytes) -> bool:
    """True when ``data`` is an MPEG Layer III stream whose last frame runs past the end."""
    pos = _skip_id3v2(data)
    end = len(data) - (128 if data[-128:-125] == b"TAG" else 0)
    frames = 0
    while pos < end:
        if pos + 4 > end:  # a cut inside the next frame's header
            return frames > 0
        length = _frame_length(data[pos : pos + 4])
        if length is None:  # not (or no longer) frames: junk, not a cut
            return False
        if pos + length > end:
            return frames > 0
        pos += length
        frames += 1
    return False


def _skip_id3v2(data: bytes) -> int:
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = (
        (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
    )
    return 10 + size


def _frame_length(header: bytes) -> int | None:
    """Bytes in the Layer III frame starting with ``header``, or None when it is not one."""
    b1, b2 = header[1], header[2]
    if header[0] != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version, layer = (b1 >> 3) & 0x3, (b1 >> 1) & 0x3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 0x3, (b2 >> 1) & 0x1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    rate = _SAMPLE_RATES[version][rate_index]
    if version == 3:
        return 144_000 * _BITRATES_V1[bitrate_index] // rate + padding
    return 72_000 * _BITRATES_V2[bitrate_index] // rate + padding
