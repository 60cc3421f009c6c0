"""Video fingerprints: PDQ hashes of frames sampled twice a second, decoded in-process by FFmpeg.

Decoding runs in this process (inside the decoder sandbox, see
:mod:`tanba.fingerprint.compute`) through PyAV, opening local files only and
the container formats of :data:`tanba.fingerprint.audio.CONTAINERS` only
(playlists and manifests are refused, as for audio). The first video stream
that is not a cover picture is decoded on one thread with FFmpeg's
``skip_frame=nonref`` (frames no other frame refers to, most B-frames, are not
decoded: about 1.3x faster on H.264, and a sample is at most a frame or two
late), ``skip_loop_filter=all`` and ``flags2=fast`` (another 26% off on 720p
H.264); a video declaring :data:`SPARSE_AFTER_S` or more (a film;
``TANBA_VIDEO_SPARSE_AFTER_S``) is decoded only in a window after each keyframe
(:class:`_KeyWindows`, B-frames skipped there: about 2.5x faster again). The
first decoded frame at or after each multiple of
:data:`~tanba.core.signals.video.FRAME_S` seconds is kept, a frame's time counted
from the stream's first presentation time (:func:`_origin`): a fragmented MP4
(``-movflags frag_keyframe+empty_moov``, as streamed) has no edit list, so its
frames' timestamps start at the decoder delay (two frames of B-frame reordering,
0.17 s at 12 fps) where the same encode in a plain MP4 starts at 0; counted from
the timestamps, its samples fell on another grid than the work's, between the
work's samples, and a picture that changes every frame never matched. Each kept frame is
scaled by swscale (area filter) to :data:`WORK_SIDE` square in grey, its black
borders are found there (:func:`border_box`: letterbox and pillarbox bars, and a
frame's uniformly dark edge rows, found alike in the work and the copy) and, where
there are some, the picture inside them is cut from the frame scaled so that it comes
out :data:`WORK_SIDE` square (:func:`unframed`: as a frame without bars is); PDQ
hashes that picture; frames PDQ finds too plain (quality under
:data:`~tanba.core.signals.video.MIN_QUALITY`: black, fades) are dropped. A
crawled copy also gets each frame's hash mirrored left to right, and the hash of
the picture inside the picture where a frame holds one (:func:`inset`: a film
shown small on a plain canvas; cut, as the bars are, from the frame scaled so that
the inner picture comes out :data:`WORK_SIDE` square: a picture half the frame's
size was 64 px, and a visualiser's 48-68 bits from the work's frames against 16-46);
a registered work each frame's central part hashed (:func:`zoomed`).

Bounds: at most ``max_seconds`` of picture are read, and the decode stops with
:class:`Unfingerprintable` once ``timeout_s`` has passed (checked every
frame); a call stuck inside FFmpeg is the sandbox's to kill. A video of more
than :data:`MAX_DECODED_FRAMES` frames (a million tiny frames) is refused when
it reaches that count.

Measured (``python -m bench.video``): see the README's video section; decoding
dominates (the hashes cost about 0.3 ms a kept frame).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

import av
import numpy as np
import pdqhash
from scipy import ndimage

from tanba.core.signals.video import FRAME_S, MIN_QUALITY, PDQ_FRAMES, ZOOM, VideoPrint
from tanba.fingerprint.audio import CONTAINERS
from tanba.fingerprint.exceptions import Unfingerprintable

ALGORITHM = PDQ_FRAMES
# Each kept frame is scaled to this square before its borders are cut (PDQ works on 64x64).
WORK_SIDE = 128
# A frame whose odd rows (or columns) of PDQ coefficients have under this share of the even
# ones' mean size is mirror-symmetric, and its hash is folded (see folded_bits). A picture made
# symmetric gives 0.10 through PDQ's filter, a symmetric visualiser 0.09-0.11 (0.18-0.22 with
# burned-in subtitles); bench/video.py's other clips 0.29 and up (their lowest frame), most
# frames 0.6-1.3.
SYMMETRY_RATIO = 0.25
# A picture of fewer rows is decoded with its in-loop deblocking filter (see video_print).
DEBLOCK_UNDER_ROWS = 400
# A border row or column: mean grey at most this and hardly varying (bars are flat black).
_DARK_MEAN = 40
_DARK_SPREAD = 12
# Borders are cut only while at least this share of each side is left (a dark scene stays).
_MIN_KEPT = 0.4
# A canvas row or column around a picture inside the picture (inset): hardly varying, and of
# the colour of the canvas's outermost row or column within this (a plain pad of any colour).
_CANVAS_SPREAD = 16
_CANVAS_STEP = 10
# An inner picture is at least this share of each side and at most this share of the frame's
# area (less inside is a detail, not a picture; more is the frame with a border).
_INSET_MIN_SIDE = 0.25
_INSET_MAX_AREA = 0.7
# A static mark (a logo, a watermark) on a crawled copy: pixels whose grey level varies over
# the first _MARK_FRAMES kept frames by at most _MARK_STILL of the frame's median variation
# (and at most _MARK_STILL_MAX levels: a mark at 90% opacity shows a tenth of what moves
# under it), in a patch of _MARK_AREA of the frame, filling at least _MARK_FILL of its
# bounding box and clear of the frame's centre; at most _MARK_PATCHES of them. A picture
# whose median pixel varies by less than _MARK_MOVING levels is too still to tell.
_MARK_FRAMES = 120
_MARK_MIN_FRAMES = 6
_MARK_STILL = 0.25
_MARK_STILL_MAX = 16.0
_MARK_MOVING = 8.0
_MARK_AREA = (0.005, 0.12)
_MARK_FILL = 0.5
_MARK_PATCHES = 3
# Grey levels between neighbouring pixels of the frames' mean picture that make an outline.
_MARK_EDGE = 24.0
# A patch is painted over with this many pixels more on each side (its outline, blurred).
_MARK_GROW = 2
# A registered video declaring less than EVERY_FRAME_UNDER_S seconds (a clip, a trailer cut,
# not a film) keeps every frame (at most one each _EVERY_FRAME_MIN_S), not two a second: a
# picture that changes with every frame (a looping cartoon, a music visualiser) matches a
# copy only at the very frames sampled, and a copy cut anywhere samples frames between the
# work's two a second (its frames 40-110 bits from them, those at the same instants 0-20).
# A copy is still sampled twice a second, so the catalogue alone grows, and only by clips:
# 30 fps is 15 times the frames of two a second (7,200 hashes for two minutes, zoomed ones
# counted), a film is sampled as before.
EVERY_FRAME_UNDER_S = 120.0
_EVERY_FRAME_MIN_S = 1 / 60
# A picture needs at least this many seconds and kept frames to be fingerprinted.
_MIN_SECONDS = 1.0
_MIN_FRAMES = 2
# Decoded frames at most (a video of a million tiny frames is refused there).
MAX_DECODED_FRAMES = 2_000_000
# A video whose container declares at least SPARSE_AFTER_S seconds (a film, not a clip;
# TANBA_VIDEO_SPARSE_AFTER_S) is sampled in windows after its keyframes (see _KeyWindows):
# KEY_WINDOW_S seconds after each, or KEY_SHARE of the gap since the one before when longer.
SPARSE_AFTER_S = 600.0
KEY_WINDOW_S = 1.0
KEY_SHARE = 0.5
# No keyframe for this long (a stream that flags none, an encode of rare keyframes): the windows
# end there and the rest is decoded densely (frames that refer to skipped ones are not given
# out by FFmpeg until a picture it can decode whole).
KEY_GAP_S = 30.0
# In keyframe windows, codecs whose B-frames no P-frame refers to in practice are decoded with
# skip_frame=BIDIR (every B-frame skipped, x264's B-pyramid references too: the frames decoded
# at the same times hash the same, measured on bench/video.py's film, but a sample may be a
# few frames later, which costs agreeing frames on pictures that change every frame: so not in
# dense sampling); others (HEVC, whose pictures are mostly B) with NONREF.
_SKIP_BIDIR = frozenset({"h264", "mpeg2video", "mpeg4"})
_Skip = Literal["NONREF", "BIDIR"]
_OPEN_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(CONTAINERS)}


def picture_start(path: Path, timeout_s: float) -> float | None:
    """The picture's first presentation time in the container's own timestamps (0.0 when
    it declares none), or None when the file has no video stream but a cover picture
    (album art): where a print's frame times, and its soundtrack, count from."""
    try:
        with _open(path, timeout_s) as container:
            stream = _picture_stream(container)
            if stream is None:
                return None
            return _origin(stream) or 0.0
    except av.ExitError:
        raise Unfingerprintable(
            f"probing took longer than {timeout_s:.0f} s (TANBA_DECODE_TIMEOUT_S); stopped"
        ) from None
    except av.FFmpegError as exc:
        raise Unfingerprintable(f"not decodable as video: {exc.strerror or exc}") from None


def video_print(
    path: Path,
    *,
    max_seconds: int,
    timeout_s: float,
    reference: bool,
    sparse_after_s: float = SPARSE_AFTER_S,
    skip_b_frames: bool = True,
    every_frame_under_s: float = EVERY_FRAME_UNDER_S,
    declared_s: float | None = None,
) -> VideoPrint:
    """The :class:`VideoPrint` of the picture in ``path``: a registered work's (``reference``:
    with the zoomed hashes) or a crawled copy's (with the mirrored hashes).

    A video declaring at least ``sparse_after_s`` seconds is sampled after its keyframes only
    (:class:`_KeyWindows`), where ``skip_b_frames`` skips every B-frame of H.264 and MPEG
    video (``False``: the reference B-frames are decoded, as in a dense video). A registered
    work declaring less than ``every_frame_under_s`` (and ``sparse_after_s``) keeps every frame.
    ``declared_s`` stands for the container's declared duration when given. A container that
    declares a film but ends before ``sparse_after_s`` (its header lies: a 5 s clip claiming
    10 hours kept 5 frames of its 50, too few to match) is decoded again as what it is, a
    short video, within the same ``timeout_s``.

    :class:`Unfingerprintable` when the file has no picture, does not decode,
    has less than a second or two frames with detail, or takes longer than ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    too_slow = Unfingerprintable(
        f"decoding the picture took longer than {timeout_s:.0f} s "
        "(TANBA_VIDEO_DECODE_TIMEOUT_S); stopped"
    )
    times: list[float] = []
    hashes: list[np.ndarray] = []
    extra: list[np.ndarray] = []  # zoomed (reference) or mirrored (copy) hashes
    inset_frames: list[int] = []  # copy frames that hold a picture inside the picture
    insets: list[np.ndarray] = []  # that inner picture's hashes
    marks = _Marks(enabled=not reference)  # a copy's static mark, painted over
    declared = 0.0
    try:
        with _open(path, timeout_s) as container:
            stream = _picture_stream(container)
            if stream is None:
                raise Unfingerprintable("the file has no video stream")
            stream.thread_type = "NONE"  # one core: the worker scales by processes
            width, height = stream.codec_context.width, stream.codec_context.height
            # Speed over exactness, alike for works and copies: no in-loop deblocking and
            # the decoder's fast flags (-26% decode time on 720p H.264, measured). Under
            # DEBLOCK_UNDER_ROWS rows a block is 4-8 px of the hashed square at 240p, and a
            # low-bitrate copy's blocks moved its frames (Lebiniou 12-34-46 at 240p and 150
            # kbit/s: median 82 bits from the work, 64 deblocked): such a file is deblocked,
            # work or copy alike (the choice is the file's, so one file hashes the same either
            # way), and small files decode fast; at 720p a block is under 1.5 px of it.
            skip = "all" if height >= DEBLOCK_UNDER_ROWS else "default"
            stream.codec_context.options = {"skip_loop_filter": skip, "flags2": "fast"}
            declared = _declared_s(container, stream) if declared_s is None else declared_s
            # A registered clip keeps every frame (a video sampled in windows never does).
            short = 0 < declared < min(every_frame_under_s, sparse_after_s)
            every_frame_s = every_frame_under_s if reference and short else 0.0
            stream.codec_context.skip_frame = "DEFAULT" if every_frame_s else "NONREF"
            codec = stream.codec_context.name
            in_windows: _Skip = "BIDIR" if skip_b_frames and codec in _SKIP_BIDIR else "NONREF"
            windows = _KeyWindows(stream, in_windows) if declared >= sparse_after_s else None
            origin = _origin(stream)
            next_t, last_t, decoded = 0.0, 0.0, 0
            for frame in _frames(container, stream, windows):
                decoded += 1
                if decoded > MAX_DECODED_FRAMES:
                    raise Unfingerprintable(
                        f"more than {MAX_DECODED_FRAMES:,} frames; refused as a frame bomb"
                    )
                if time.monotonic() > deadline:
                    raise too_slow
                if frame.time is None:
                    continue
                if origin is None:  # no declared start: the first frame's time is it
                    origin = frame.time
                t = frame.time - origin
                if t < next_t:
                    continue
                if t > max_seconds:
                    break
                if windows is not None:
                    windows.seen(frame.time)  # the windows are in the stream's own times
                last_t = t
                next_t = (
                    t + _EVERY_FRAME_MIN_S
                    if t < every_frame_s
                    else (int(t / FRAME_S) + 1) * FRAME_S
                )
                grey = frame.reformat(
                    width=WORK_SIDE, height=WORK_SIDE, format="gray", interpolation="AREA"
                ).to_ndarray()
                bars = border_box(grey)
                picture = unframed(frame, grey, bars)
                bits, quality = _pdq(picture)
                if quality < MIN_QUALITY:
                    continue
                times.append(t)
                hashes.append(bits)
                marks.add(grey, picture, bars)
                extra.append(_pdq(zoomed(picture) if reference else picture[:, ::-1])[0])
                box = None if reference else inset_box(grey)
                if box is not None and box != bars:
                    # At the work's resolution, as the bars are (unframed): a picture half
                    # the frame's size is 64 px of the square.
                    inner_bits, inner_quality = _pdq(trim_borders(_cut(frame, box)))
                    if inner_quality >= MIN_QUALITY:
                        inset_frames.append(len(times) - 1)
                        insets.append(inner_bits)
    except av.ExitError:
        raise too_slow from None
    except av.FFmpegError as exc:
        if not times:
            raise Unfingerprintable(f"not decodable as video: {exc.strerror or exc}") from None
    # A truncated file keeps what decoded: a crawled excerpt is still evidence.
    duration = max(last_t + FRAME_S, 0.0)
    if declared >= sparse_after_s and duration < sparse_after_s:  # sampled as a film, is not
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            raise too_slow
        return video_print(
            path,
            max_seconds=max_seconds,
            timeout_s=left_s,
            reference=reference,
            sparse_after_s=sparse_after_s,
            skip_b_frames=skip_b_frames,
            every_frame_under_s=every_frame_under_s,
            declared_s=duration,
        )
    if duration < _MIN_SECONDS or len(times) < _MIN_FRAMES:
        raise Unfingerprintable(
            f"only {len(times)} frames with detail in {duration:.1f} s of picture; "
            f"at least {_MIN_FRAMES} in {_MIN_SECONDS:.0f} s are needed"
        )
    return VideoPrint.from_frames(
        ALGORITHM,
        duration_s=duration,
        width=width,
        height=height,
        frame_s=FRAME_S,
        times=np.array(times),
        hashes=np.array(hashes),
        mirrored=None if reference else np.array(extra),
        zoomed=np.array(extra) if reference else None,
        inset_frames=np.array(inset_frames, dtype=np.uint32),
        insets=np.array(insets, dtype=np.uint8).reshape(-1, 32),
        unmarked=marks.hashes(),
    )


class _Marks:
    """A crawled copy's static mark and its frames' hashes with the mark painted over.

    The first :data:`_MARK_FRAMES` kept frames (128 px grey, and the picture inside their
    bars as hashed, 4 MB) are held until :func:`static_marks` decides where a mark is, on the
    128 px squares; those and every later frame are then hashed painted (:func:`painted`) on
    the picture inside their bars, the mark's box carried there (:func:`boxes_inside`). Copies
    only: the work is hashed as it is, and the painted copy's hash comes back near it (a logo
    box over 3% of a cartoon frame moves its hash by 48-112 bits).

    Why on the picture inside the bars: it is cut at the work's resolution (:func:`unframed`);
    painted on the square and trimmed there, a letterboxed copy with a logo was hashed from
    72 rows where its plain hash had 128.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.held: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]] = []
        self.boxes: list[tuple[int, int, int, int]] | None = None  # None: not decided yet
        self.painted: list[np.ndarray] = []

    def add(self, grey: np.ndarray, picture: np.ndarray, bars: tuple[int, int, int, int]) -> None:
        """After a kept frame: its grey square, the picture inside its bars (as hashed) and
        where those bars are on the square (:func:`border_box`)."""
        if not self.enabled:
            return
        if self.boxes is None:
            self.held.append((grey, picture, bars))
            if len(self.held) >= _MARK_FRAMES:
                self._decide()
        elif self.boxes:
            self.painted.append(self._hash(picture, bars))

    def hashes(self) -> np.ndarray | None:
        """The painted hashes of every kept frame, or None when there is no mark."""
        if self.enabled and self.boxes is None:
            self._decide()
        return np.array(self.painted) if self.enabled and self.boxes else None

    def _hash(self, picture: np.ndarray, bars: tuple[int, int, int, int]) -> np.ndarray:
        assert self.boxes is not None
        return _pdq(painted(picture, boxes_inside(self.boxes, bars, picture.shape)))[0]

    def _decide(self) -> None:
        greys = np.array([grey for grey, _picture, _bars in self.held])
        self.boxes = static_marks(greys) if len(greys) else []
        if self.boxes:
            self.painted = [self._hash(picture, bars) for _grey, picture, bars in self.held]
        self.held = []


def boxes_inside(
    boxes: list[tuple[int, int, int, int]],
    bars: tuple[int, int, int, int],
    shape: tuple[int, ...],
) -> list[tuple[int, int, int, int]]:
    """Boxes on the 128 px square carried into the picture inside ``bars`` (of ``shape``,
    cut from the frame at its own scale), grown outwards to whole pixels; a box on a bar is
    left out (nothing of it is hashed)."""
    top, bottom, left, right = bars
    h, w = shape[0], shape[1]
    sy, sx = h / (bottom - top), w / (right - left)
    out = []
    for t, b, lo, r in boxes:
        t2, b2 = max(math.floor((t - top) * sy), 0), min(math.ceil((b - top) * sy), h)
        l2, r2 = max(math.floor((lo - left) * sx), 0), min(math.ceil((r - left) * sx), w)
        if t2 < b2 and l2 < r2:
            out.append((t2, b2, l2, r2))
    return out


def static_marks(greys: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Where grey frames (n x h x w) carry a static mark: boxes ``(top, bottom, left,
    right)`` around patches that stay still while the picture moves (see ``_MARK_*``).

    A still background of a cartoon is a still patch too; it is mostly larger than
    :data:`_MARK_AREA` or reaches the centre, and where it is not, painting it over gives
    one more hash to look up, not a match: the painted hashes are compared with the work's
    like any other copy frame's.
    """
    if len(greys) < _MARK_MIN_FRAMES:
        return []
    spread = greys.astype(np.float32).std(axis=0)
    moving = float(np.median(spread))
    if moving < _MARK_MOVING:
        return []
    still = spread <= min(_MARK_STILL * moving, _MARK_STILL_MAX)
    # A mark's outline is an edge of the frames' mean picture: cut there, a mark on a still
    # background (a cartoon's sky under a logo) is a patch of its own.
    mean = greys.astype(np.float32).mean(axis=0)
    edge = np.zeros_like(still)
    edge[1:] |= np.abs(np.diff(mean, axis=0)) > _MARK_EDGE
    edge[:, 1:] |= np.abs(np.diff(mean, axis=1)) > _MARK_EDGE
    labels, _count = ndimage.label(still & ~edge)
    h, w = still.shape
    found = []
    for i, box in enumerate(ndimage.find_objects(labels), 1):
        area = int((labels[box] == i).sum())
        top, bottom, left, right = box[0].start, box[0].stop, box[1].start, box[1].stop
        if not _MARK_AREA[0] * h * w <= area <= _MARK_AREA[1] * h * w:
            continue
        if area < _MARK_FILL * (bottom - top) * (right - left):
            continue
        if top <= h // 2 < bottom and left <= w // 2 < right:
            continue
        found.append((area, (top, bottom, left, right)))
    found.sort(reverse=True)
    return [box for _area, box in found[:_MARK_PATCHES]]


def painted(grey: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """``grey`` with each box (grown by :data:`_MARK_GROW`) painted over from its
    surroundings: the mean of the rows and columns just outside it, each carried across."""
    out = grey.astype(np.float32)
    h, w = grey.shape
    for top, bottom, left, right in boxes:
        top, bottom = max(top - _MARK_GROW, 0), min(bottom + _MARK_GROW, h)
        left, right = max(left - _MARK_GROW, 0), min(right + _MARK_GROW, w)
        shape = (bottom - top, right - left)
        sides = []
        if bottom < h:
            sides.append(np.broadcast_to(out[bottom, left:right], shape))
        if top > 0:
            sides.append(np.broadcast_to(out[top - 1, left:right], shape))
        if left > 0:
            sides.append(np.broadcast_to(out[top:bottom, left - 1 : left], shape))
        if right < w:
            sides.append(np.broadcast_to(out[top:bottom, right : right + 1], shape))
        if sides:
            out[top:bottom, left:right] = np.mean(sides, axis=0)
    return out.round().astype(np.uint8)


def zoomed(picture: np.ndarray) -> np.ndarray:
    """The picture's central :data:`~tanba.core.signals.video.ZOOM` of each side."""
    h, w = picture.shape
    dy, dx = round(h * (1 - ZOOM) / 2), round(w * (1 - ZOOM) / 2)
    return picture[dy : h - dy, dx : w - dx]


def inset(grey: np.ndarray) -> np.ndarray | None:
    """The picture inside the picture: the frame without the plain canvas around it, or None
    when no canvas surrounds a picture of :data:`_INSET_MIN_SIDE` of each side and at most
    :data:`_INSET_MAX_AREA` of the frame.

    The canvas is cut from each edge while its rows (then columns) are flat and of the colour
    of the outermost one (any colour: the grey or blurred pad of a copy shown small), so a
    plain sky of another shade inside the picture stops the cut. Copies only: the work is
    hashed whole, and the inner picture's hash meets it.
    """
    box = inset_box(grey)
    if box is None:
        return None
    top, bottom, left, right = box
    return grey[top:bottom, left:right]


def inset_box(grey: np.ndarray) -> tuple[int, int, int, int] | None:
    """Where :func:`inset` cuts: the inner picture's top, bottom, left and right, or None."""
    h, w = grey.shape
    top, bottom = _canvas_edges(grey, axis=1)
    left, right = _canvas_edges(grey[top:bottom], axis=0)
    if bottom - top < _INSET_MIN_SIDE * h or right - left < _INSET_MIN_SIDE * w:
        return None
    if (bottom - top) * (right - left) > _INSET_MAX_AREA * h * w:
        return None
    return top, bottom, left, right


def _canvas_edges(grey: np.ndarray, axis: int) -> tuple[int, int]:
    """The first and one past the last line (rows for axis 1) that is not canvas: lines from
    each edge that are flat and of the colour of that edge's outermost line."""
    mean = grey.mean(axis=axis)
    flat = grey.max(axis=axis).astype(np.int16) - grey.min(axis=axis) <= _CANVAS_SPREAD
    start = ~(flat & (np.abs(mean - mean[0]) <= _CANVAS_STEP))
    end = ~(flat & (np.abs(mean - mean[-1]) <= _CANVAS_STEP))
    first, last = np.flatnonzero(start), np.flatnonzero(end)
    if not len(first) or not len(last) or first[0] >= last[-1]:
        return 0, len(mean)
    return int(first[0]), int(last[-1]) + 1


def trim_borders(grey: np.ndarray) -> np.ndarray:
    """The picture without its flat dark edge rows and columns (letterbox, pillarbox).

    Rows (then columns) are cut from each edge while they are dark and flat,
    as long as :data:`_MIN_KEPT` of the side is left; the same rule on the work
    and on a copy cuts a copy's added bars and nothing the work keeps.
    """
    top, bottom, left, right = border_box(grey)
    return grey[top:bottom, left:right]


def border_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """Where :func:`trim_borders` cuts: the picture's top, bottom, left and right (one past
    the last row and column kept)."""
    rows = _dark(grey, axis=1)
    top, bottom = _edges(rows)
    if bottom - top < _MIN_KEPT * len(rows):
        top, bottom = 0, len(rows)
    cols = _dark(grey[top:bottom], axis=0)
    left, right = _edges(cols)
    if right - left < _MIN_KEPT * len(cols):
        left, right = 0, len(cols)
    return top, bottom, left, right


def unframed(
    frame: av.VideoFrame, grey: np.ndarray, box: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """The picture inside the frame's bars, found on ``grey`` (the frame at
    :data:`WORK_SIDE` square) and cut from the frame scaled so that picture comes out
    :data:`WORK_SIDE` on each side; ``grey`` itself where it has no bars.

    Why not ``trim_borders(grey)``: a letterboxed copy's picture is then 72 rows of the
    square where the work's fills all 128, and a picture of fine detail (Lebiniou's
    visualisers) aliases differently at each: 74-92 bits from the work's frames against
    44-60 cut from the frame at the work's resolution (``bench/video.py``, letterbox).
    ``box``: ``border_box(grey)`` when the caller has it."""
    box = border_box(grey) if box is None else box
    if box == (0, WORK_SIDE, 0, WORK_SIDE):
        return grey
    return _cut(frame, box)


def _cut(frame: av.VideoFrame, box: tuple[int, int, int, int]) -> np.ndarray:
    """The part of the frame inside ``box`` (top, bottom, left, right in the frame scaled to
    :data:`WORK_SIDE` square), from the frame scaled so that part comes out that square."""
    top, bottom, left, right = box
    # Its edges (found to a row of the square) rounded inwards, so no bar or canvas row is kept.
    height = round(WORK_SIDE * WORK_SIDE / (bottom - top))
    width = round(WORK_SIDE * WORK_SIDE / (right - left))
    scaled = frame.reformat(
        width=width, height=height, format="gray", interpolation="AREA"
    ).to_ndarray()
    y0, y1 = math.ceil(top * height / WORK_SIDE), math.floor(bottom * height / WORK_SIDE)
    x0, x1 = math.ceil(left * width / WORK_SIDE), math.floor(right * width / WORK_SIDE)
    return np.ascontiguousarray(scaled[y0:y1, x0:x1])


def pdq_bits(picture: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ's 256-bit hash of a grey picture, packed in 32 bytes, and its quality (0..100)."""
    return _pdq(picture)


def _pdq(picture: np.ndarray) -> tuple[np.ndarray, int]:
    rgb = np.ascontiguousarray(np.repeat(picture[:, :, None], 3, axis=2))
    coefficients, quality = pdqhash.compute_float(rgb)
    return np.packbits(folded_bits(coefficients.reshape(16, 16))), int(quality)


def folded_bits(coefficients: np.ndarray) -> np.ndarray:
    """PDQ's 256 bits (row by row) of its 16x16 DCT coefficients: each above their median, as
    ``pdqhash.compute`` gives them; for a mirror-symmetric picture, its strong half's bits,
    each written twice.

    A picture mirrored top to bottom (a kaleidoscope, a visualiser, a symmetric title card)
    has the odd rows of PDQ's coefficients near zero (left to right: the odd columns): a
    tenth of the even rows' mean, through PDQ's own filter, on a picture made symmetric. Their
    bits then follow the encoder's noise, not the picture: half the hash is coin flips, and a
    copy of Lebiniou's ``12-23-40`` (symmetric top to bottom) cropped by 10% came 72-84 bits
    from its work where every other visualiser came 28-60. So where the odd rows' (columns')
    mean is under :data:`SYMMETRY_RATIO` of the even ones', the bits are the even rows'
    (columns') above their own median, each even row's copied onto the odd row below it: two
    such frames are twice their strong half's distance apart (unrelated ones still 128 on
    average), and a picture that is not symmetric hashes as before. Both sides fold by their
    own coefficients: where only the work is symmetric, the copy's odd rows met its noise
    before and meet its even rows' copy now, as far apart either way.
    """
    size = np.abs(coefficients)
    rows = size[1::2].mean() < SYMMETRY_RATIO * size[0::2].mean()
    cols = size[:, 1::2].mean() < SYMMETRY_RATIO * size[:, 0::2].mean()
    strong = coefficients[:: 2 if rows else 1, :: 2 if cols else 1]
    bits = strong > np.median(strong)
    if rows:
        bits = np.repeat(bits, 2, axis=0)
    if cols:
        bits = np.repeat(bits, 2, axis=1)
    return bits.astype(np.uint8).ravel()


def _dark(grey: np.ndarray, axis: int) -> np.ndarray:
    mean = grey.mean(axis=axis)
    spread = grey.max(axis=axis).astype(np.int16) - grey.min(axis=axis)
    return np.asarray((mean <= _DARK_MEAN) & (spread <= _DARK_SPREAD))


def _edges(dark: np.ndarray) -> tuple[int, int]:
    """The first and one past the last index that is not dark (0, len when all are)."""
    light = np.flatnonzero(~dark)
    if not len(light):
        return 0, len(dark)
    return int(light[0]), int(light[-1]) + 1


def _picture_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _frames(  # type: ignore[no-untyped-def]
    container: av.container.InputContainer,
    stream: av.VideoStream,
    windows: _KeyWindows | None = None,
):
    """Decoded frames, skipping packets the decoder rejects (as the ``ffmpeg`` command does);
    with ``windows``, only the frames of each keyframe's window."""
    rejected = 0
    for packet in container.demux(stream):
        if windows is not None:
            windows.packet(packet)
        try:
            frames = stream.decode(packet)
        except av.InvalidDataError:
            rejected += 1
            if rejected > 1000:
                raise
            continue
        yield from frames


def _origin(stream: av.VideoStream) -> float | None:
    """The stream's first presentation time in seconds (None when it declares none): frame
    times are counted from it, so the same picture gets the same times whatever container
    holds it (a fragmented MP4 has no edit list to start it at 0, an MPEG-TS starts at 1.4 s)."""
    if stream.start_time is None or stream.time_base is None:
        return None
    return float(stream.start_time * stream.time_base)


def _declared_s(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """The duration the container declares (0 when it declares none)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


class _KeyWindows:
    """Sparse sampling of a long video: each keyframe and the frames of a window after it.

    A keyframe (its packet flagged so by the demuxer) opens a window of
    :data:`KEY_WINDOW_S`, or :data:`KEY_SHARE` of the previous keyframe gap when
    that is longer, decoded as a dense video is (``skip_frame=NONREF``); past it,
    the decoder is told to skip every packet but keyframes (``NONKEY``) until the
    next keyframe reopens one. FFmpeg reads ``skip_frame`` per picture, so the
    switch takes effect from the next packet. Frames no longer decoded are never
    referred to: the next decoded picture is a keyframe.

    Why: decoding is the cost (a 720p H.264 film sampled twice a second throughout
    is fingerprinted at about 25x realtime on one core here, in windows at about
    60x), and a film's keyframes come every few seconds and at its cuts; the
    matcher counts a copy's frames that have no work frame near as neither
    agreeing nor not. The price: a 10 s clip meets about two thirds as many work
    frames (``python -m bench.video --film`` prints both ways and their recall).
    """

    def __init__(self, stream: av.VideoStream, skip: _Skip) -> None:
        self.context = stream.codec_context
        self.skip = skip  # what a window decodes
        self.context.skip_frame = skip
        self.base = stream.time_base
        self.key_t: float | None = None
        self.window_s = KEY_WINDOW_S
        self.end = KEY_WINDOW_S  # the start of the file is sampled as after a keyframe
        self.skipping = False

    def packet(self, packet: av.Packet) -> None:
        """Before decoding ``packet``: a keyframe opens a window; a keyframe not seen for
        :data:`KEY_GAP_S` ends the windows (the rest is decoded densely)."""
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or self.base is None:
            return
        t = float(stamp * self.base)
        if not packet.is_keyframe:
            if self.skipping and t - (self.key_t or 0.0) > KEY_GAP_S:
                self.context.skip_frame = self.skip
                self.skipping, self.end = False, float("inf")
            return
        if self.key_t is not None and t > self.key_t:
            self.window_s = max(KEY_WINDOW_S, KEY_SHARE * (t - self.key_t))
        self.key_t, self.end = t, t + self.window_s
        if self.skipping:
            self.context.skip_frame = self.skip
            self.skipping = False

    def seen(self, t: float) -> None:
        """After a kept frame at ``t``: past the window, skip to the next keyframe."""
        if not self.skipping and t >= self.end:
            self.context.skip_frame = "NONKEY"
            self.skipping = True


def _open(path: Path, timeout_s: float) -> av.container.InputContainer:
    return av.open(f"file:{path.resolve()}", container_options=_OPEN_OPTIONS, timeout=timeout_s)


def frames_at(path: str, times: list[float], side: int, timeout_s: float) -> list[str]:
    """JPEG pictures (base64) of the frames shown at ``times`` seconds (counted from the
    picture's first frame, as a print's times are), at most ``side`` pixels.

    For the console's frame pairs and a person checking a match by eye: each time is
    sought to the keyframe before it and decoded forward to the first frame at or after
    it; a time past the picture's end, or one the decoder cannot reach, gives "". Runs
    in the decoder sandbox (:func:`tanba.fingerprint.compute.video_frames`), with the
    same container allow-list and ``timeout_s`` for the whole call.
    """
    import base64
    import io

    started = time.monotonic()
    out: list[str] = []
    with _open(Path(path), timeout_s) as container:
        stream = _picture_stream(container)
        if stream is None or stream.time_base is None:
            raise Unfingerprintable("the file has no picture")
        stream.thread_type = "AUTO"
        origin = _origin(stream) or 0.0  # times are counted from it, as in a print
        for asked in times:
            t = asked + origin
            picture = None
            try:
                container.seek(int(max(0.0, t) / stream.time_base), stream=stream, backward=True)
                for frame in _frames(container, stream):
                    if time.monotonic() - started > timeout_s:
                        raise Unfingerprintable(
                            f"finding frames took longer than {timeout_s:.0f} s"
                        )
                    if frame.time is not None and frame.time + 1e-3 >= t:
                        picture = frame.to_image()
                        break
            except (av.FFmpegError, ValueError):
                picture = None
            if picture is None:
                out.append("")
                continue
            picture.thumbnail((side, side))
            buffer = io.BytesIO()
            picture.convert("RGB").save(buffer, "JPEG", quality=85)
            out.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return out
