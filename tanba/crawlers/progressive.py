"""A video file too big to fetch whole: its first bytes, made playable (ISO BMFF's index moved up).

Contract (pure functions over bytes):

- :func:`content_range` reads a 206 answer's ``Content-Range: bytes A-B/TOTAL``;
- :func:`moov_offset` says, for the first bytes of an MP4/MOV whose index (the
  ``moov`` box) is not among them, where in the file the ``moov`` box starts (right
  after the ``mdat`` the first bytes end in), or None when the prefix already has
  its ``moov`` (a "fast start" file) or is not ISO BMFF;
- :func:`find_box` finds a top-level box in bytes fetched from that offset;
- :func:`with_moov` gives the prefix with the ``mdat`` box cut to what was fetched
  and the ``moov`` box after it, and the byte count beyond which samples were
  not fetched (the joiner drops packets past it: their offsets point past the cut).

Why: a film served as one MP4 of gigabytes is over any sensible media cap; its
first ``TANBA_STREAM_MAX_BYTES`` (a Range request) are its first minutes, which
the matcher can place. Files written without "fast start" keep their index at the
end, so the index is fetched too (a second Range request) and moved up. The
chunk offsets in it stay right: the bytes before the cut are where they were.
"""

from __future__ import annotations

import re
import struct

_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_ISO = (b"ftyp", b"styp")


def content_range(value: str) -> tuple[int, int, int | None] | None:
    """(first, last, total or None) of a ``Content-Range`` header, or None."""
    match = _RANGE.match(value or "")
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """The top-level boxes of ``data``: (type, offset, size); the last may run past the end."""
    out: list[tuple[bytes, int, int]] = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            if offset + 16 > len(data):
                break
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:  # to the end of the file
            size = -1
        if size != -1 and size < 8:
            break  # not a box: garbage
        out.append((kind, offset, size))
        if size == -1:
            break
        offset += size
    return out


def moov_offset(prefix: bytes) -> int | None:
    """Where the ``moov`` box starts when the prefix lacks it (see the module doc), else None."""
    found = boxes(prefix)
    if not found or found[0][0] not in _ISO or any(kind == b"moov" for kind, _, _ in found):
        return None
    kind, offset, size = found[-1]
    if kind != b"mdat" or size == -1 or offset + size <= len(prefix):
        return None
    return offset + size


def find_box(data: bytes, kind: bytes) -> bytes | None:
    """The whole top-level box ``kind`` in ``data`` (None when absent or cut short)."""
    for found, offset, size in boxes(data):
        if found == kind and size > 0 and offset + size <= len(data):
            return data[offset : offset + size]
    return None


def with_moov(prefix: bytes, moov: bytes) -> tuple[bytes, int]:
    """The prefix with its last ``mdat`` cut to what it holds and ``moov`` after it; and the
    length of the prefix (samples beyond it were not fetched)."""
    kind, offset, _ = boxes(prefix)[-1]
    assert kind == b"mdat"
    header = bytearray(prefix[offset : offset + 16])
    cut = len(prefix) - offset
    if struct.unpack(">I", header[:4])[0] == 1:
        header[8:16] = struct.pack(">Q", cut)
    else:
        header[:4] = struct.pack(">I", cut)
    patched = prefix[:offset] + bytes(header[:16]) + prefix[offset + 16 :]
    return patched + moov, len(prefix)
