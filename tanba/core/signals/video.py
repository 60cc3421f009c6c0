"""The video print: PDQ hashes of frames sampled at a fixed rate, with their times.

Contract: a :class:`VideoPrint` holds, for each frame sampled every
:data:`FRAME_S` seconds of the picture, its presentation time (seconds from the
start) and its 256-bit PDQ hash (Meta's photo hash, the frame hash of vPDQ),
packed as base64 (:meth:`VideoPrint.frames`). Frames too plain to hash
(black, a flat fade: PDQ quality under :data:`MIN_QUALITY`) are left out, so
the times are not evenly spaced. A crawled copy's print also carries the hash
of each frame mirrored left to right (``mirrored_b64``, same frames, same
order), so a flipped copy is found without doubling the registry; a registered
work's print carries the hash of each frame's central :data:`ZOOM` share
(``zoomed_b64``), which a copy cropped or zoomed by about that much matches
(PDQ itself does not survive a 10% crop). A crawled copy's print also carries,
for the frames where one is found, the hash of the picture inside the picture
(``inset_b64``, with the frames' indices in ``inset_frames_b64``): a film shown
small inside another picture, picture-in-picture, hashes nothing like the work
whole, but its inner rectangle does. Where a crawled copy's picture carries a static mark
(a channel logo or a watermark: a small patch that does not change while the rest does), its
print also carries each frame's hash with that patch painted over from its surroundings
(``unmarked_b64``, same frames, same order): a logo box over 3% of a cartoon frame moves its
hash by 48-112 bits, the painted frame's hash comes back near the work's. The
soundtrack is not here: it is the :class:`~tanba.core.signals.audio.AudioPrint`
beside this print in the :class:`~tanba.core.schemas.common.Fingerprint`, so
it flows through the audio path unchanged (blobs, the audio index) and a
crawled video's soundtrack is also matched against registered music.
``tanba.fingerprint.video`` computes prints; ``tanba.matcher.video_signal``
indexes and compares them.

Why PDQ: a 256-bit DCT hash with a quality figure, made for near-duplicate
photos and used frame by frame by vPDQ and TMK+PDQF, with a maintained wheel
(``pdqhash``); 256 bits leave room to look hashes up by 16-bit chunks
(:func:`chunks`) in a catalogue of millions of frames.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

from tanba.core.schemas.base import Model

# Algorithm id: prints of one id only are compared; a change of the sampling, the
# border removal or the hash is a new id (and registered works are fingerprinted again).
# pdqf-2fps-2: frame times, and the soundtrack's first sample, count from the picture's first
# presentation time (the same picture gets the same times in any container). pdqf-2fps-3: a
# frame with black bars is hashed from its picture scaled to the hash's square, as a frame
# without them is (not cut from the square with its bars: a letterboxed picture 72 rows),
# and so is a copy's picture inside the picture (64 px of the square at half size).
# pdqf-2fps-4: a mirror-symmetric frame's hash is its strong half's bits written twice (the
# other half was the encoder's noise), and a picture under 400 rows is decoded with its
# deblocking filter (see tanba.fingerprint.video).
PDQ_FRAMES = "pdqf-2fps-4"
# Earlier ids whose prints are still indexed and matched as they were, each with what differs
# (said in one line for all such works at the matcher's next match after they are indexed,
# see tanba.matcher.video_signal). pdqf-2fps-1 counted
# frame times from the container's timestamps: the same frames and hashes, the times shifted
# by the stream's start (MPEG-TS about 1.4 s, a fragmented MP4 its B-frame delay, a plain
# MP4 nothing), so a copy is found as before and its offset_s in such a work is that far off.
OLDER_PDQ_FRAMES = {
    "pdqf-2fps-1": "its frame times count from the container's timestamps, not from its "
    "first frame, so offsets in it may be off by the stream's start time (up to 1.4 s for "
    "MPEG-TS), and its frames with black bars are hashed as pdqf-2fps-2's are",
    "pdqf-2fps-2": "its frames with black bars (a letterboxed or pillarboxed work) are hashed "
    "from the picture cut from a 128 px square, at a lower resolution than copies' pictures "
    "now are, so a copy may come a little further from them (frames without bars are hashed "
    "as before)",
    "pdqf-2fps-3": "its mirror-symmetric frames (a kaleidoscope, a visualiser, a symmetric "
    "title card) are hashed with half their bits left to the encoder's noise, and a work under "
    "400 rows was decoded without its deblocking filter, so a copy of such frames or of a small "
    "work may come further from them (other frames are hashed as before)",
}
# One frame every FRAME_S seconds of the picture (2 frames a second).
FRAME_S = 0.5
HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
# PDQ's quality (0..100) under which a frame is too plain to tell apart (Meta's advice: 50).
MIN_QUALITY = 50
# A hash split into CHUNKS chunks of CHUNK_BITS bits: two hashes within CHUNKS - 1 bits
# share at least one chunk exactly (the pigeonhole of multi-index hashing).
CHUNK_BITS = 16
CHUNKS = HASH_BITS // CHUNK_BITS
# A registered frame is also hashed cut to its central ZOOM of each side (crops, zooms).
ZOOM = 0.88
# How a copy's frames were hashed when a match says so (its ``variant``): flipped left to
# right, the picture inside its picture, or with a still logo or watermark painted over.
MIRRORED = "mirrored"
INSET = "inset"
UNMARKED = "unmarked"
VARIANTS = (MIRRORED, INSET, UNMARKED)


def _pack(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 6)).decode() if raw else ""


def _unpack(packed: str) -> bytes:
    return zlib.decompress(base64.b64decode(packed)) if packed else b""


class VideoPrint(Model):
    """Frame hashes of a video's picture, sampled every ``frame_s`` seconds, with their times."""

    algorithm: str  # PDQ_FRAMES
    duration_s: float  # of the picture, as decoded (or declared, when decoding stopped early)
    width: int  # of the picture, before any border was cut
    height: int
    frame_s: float
    frames: int  # frames kept (len of times and hashes)
    # zlib + base64 of the times (little-endian float32 seconds) and of the hashes
    # (HASH_BYTES bytes each, PDQ's bit order); mirrored: the hashes of the same frames
    # flipped left to right (crawled copies only; empty for a registered work); zoomed: of
    # the same frames cut to their central ZOOM (registered works only).
    times_b64: str = ""
    hashes_b64: str = ""
    mirrored_b64: str = ""
    zoomed_b64: str = ""
    # Crawled copies only: the indices (little-endian uint32) of the frames that hold a picture
    # inside the picture, and the hashes of that inner picture (HASH_BYTES each, same order).
    inset_frames_b64: str = ""
    inset_b64: str = ""
    # Crawled copies only, where a static mark was found: each frame's hash with the mark
    # painted over (HASH_BYTES each, the frames of ``hashes_b64``); empty otherwise.
    unmarked_b64: str = ""
    # Set on a print that travels apart (tanba.core.print_blobs): the SHA-256 of the blob
    # holding the whole print; the frames here are then empty.
    blob: str = ""

    @classmethod
    def from_frames(
        cls,
        algorithm: str,
        *,
        duration_s: float,
        width: int,
        height: int,
        frame_s: float,
        times: np.ndarray,
        hashes: np.ndarray,
        mirrored: np.ndarray | None = None,
        zoomed: np.ndarray | None = None,
        inset_frames: np.ndarray | None = None,
        insets: np.ndarray | None = None,
        unmarked: np.ndarray | None = None,
    ) -> VideoPrint:
        """A print of ``times`` (seconds) and ``hashes`` (uint8, frames x HASH_BYTES);
        ``insets`` are the hashes of the inner pictures of the frames ``inset_frames``."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
        if len(times) != len(hashes) or any(
            extra is not None and len(extra) != len(hashes)
            for extra in (mirrored, zoomed, unmarked)
        ):
            raise ValueError("a video print needs one time and one hash of each kind per frame")
        frames = np.zeros(0, "<u4") if inset_frames is None else np.asarray(inset_frames, "<u4")
        inner = np.zeros((0, HASH_BYTES), np.uint8) if insets is None else insets
        if len(frames) != len(inner) or np.any(frames >= len(times)):
            raise ValueError("a video print needs one inset hash per inset frame, of its frames")
        return cls(
            algorithm=algorithm,
            duration_s=round(float(duration_s), 3),
            width=width,
            height=height,
            frame_s=frame_s,
            frames=len(times),
            times_b64=_pack(np.asarray(times, dtype="<f4").tobytes()),
            hashes_b64=_pack(hashes.tobytes()),
            mirrored_b64=""
            if mirrored is None
            else _pack(np.ascontiguousarray(mirrored, dtype=np.uint8).tobytes()),
            zoomed_b64=""
            if zoomed is None
            else _pack(np.ascontiguousarray(zoomed, dtype=np.uint8).tobytes()),
            inset_frames_b64=_pack(frames.tobytes()),
            inset_b64=_pack(np.ascontiguousarray(inner, dtype=np.uint8).tobytes()),
            unmarked_b64=""
            if unmarked is None
            else _pack(np.ascontiguousarray(unmarked, dtype=np.uint8).tobytes()),
        )

    def times(self) -> np.ndarray:
        """Each kept frame's time in seconds (float64)."""
        return np.frombuffer(_unpack(self.times_b64), dtype="<f4").astype(np.float64)

    def hashes(self) -> np.ndarray:
        """Each kept frame's hash as uint8 (frames x HASH_BYTES)."""
        return np.frombuffer(_unpack(self.hashes_b64), dtype=np.uint8).reshape(-1, HASH_BYTES)

    def mirrored(self) -> np.ndarray | None:
        """The mirrored frames' hashes (as :meth:`hashes`), or None when the print has none."""
        return _hashes(self.mirrored_b64)

    def zoomed(self) -> np.ndarray | None:
        """The zoomed frames' hashes (as :meth:`hashes`), or None when the print has none."""
        return _hashes(self.zoomed_b64)

    def unmarked(self) -> np.ndarray | None:
        """The frames' hashes with their static mark painted over (as :meth:`hashes`), or
        None when no mark was found (and in every registered work's print)."""
        return _hashes(self.unmarked_b64)

    def insets(self) -> tuple[np.ndarray, np.ndarray]:
        """The times of the frames that hold a picture inside the picture and that inner
        picture's hashes (as :meth:`hashes`); both empty when there are none."""
        frames = np.frombuffer(_unpack(self.inset_frames_b64), dtype="<u4")
        hashes = _hashes(self.inset_b64)
        if hashes is None:
            hashes = np.zeros((0, HASH_BYTES), np.uint8)
        return self.times()[frames], hashes


def _hashes(packed: str) -> np.ndarray | None:
    if not packed:
        return None
    return np.frombuffer(_unpack(packed), dtype=np.uint8).reshape(-1, HASH_BYTES)


def words(hashes: np.ndarray) -> np.ndarray:
    """Hashes (uint8, n x HASH_BYTES) as n x 4 uint64 words, for :func:`distances`."""
    return np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES).view("<u8")


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances (int32, len(a) x len(b)) between hashes given as :func:`words`."""
    return (
        np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(axis=2, dtype=np.int32)
        if len(a) and len(b)
        else np.zeros((len(a), len(b)), np.int32)
    )


def pair_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance of each row of ``a`` to the same row of ``b`` (both :func:`words`)."""
    return np.bitwise_count(a ^ b).sum(axis=1, dtype=np.int32)


def chunks(hashes: np.ndarray) -> np.ndarray:
    """Each hash's CHUNKS chunks (int64, n x CHUNKS), chunk i keyed as ``i << CHUNK_BITS | value``."""
    h = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, HASH_BYTES)
    values = h.view(">u2").astype(np.int64)  # CHUNK_BITS = 16: two bytes a chunk
    return values | (np.arange(CHUNKS, dtype=np.int64) << CHUNK_BITS)
