"""Fingerprint one media file: sniff what it really is, then hash it as image, audio or video.

Contract: :func:`fingerprint_file` returns the file's :class:`Fingerprint` or
raises :class:`Unfingerprintable` whose message is the quarantine reason. The
decoding itself (Pillow for images, FFmpeg's libraries through PyAV and Chromaprint for audio,
PyAV and PDQ for a video's picture) runs in
a :class:`~tanba.fingerprint.sandbox.Sandbox`: a warm child process whose memory is
capped at :func:`memory_budget` bytes beyond its idle size and whose calls
are timed out, so no single file can take the calling worker down or stall
it. Each process shares one sandbox per budget (:func:`shared_sandbox`);
callers may pass their own.

Why always, not only for "risky" files: whether a file is risky is known only
once a decoder has parsed it, and the warm child costs a pipe round trip per
file (``python -m bench.reliability`` measures it against in-process
decoding).
"""

from __future__ import annotations

import atexit
import base64
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from tanba.core.schemas.common import AUDIO, IMAGE, VIDEO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.audio import AudioPrint
from tanba.core.signals.image import ImagePrint
from tanba.core.signals.video import VideoPrint
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.image import QUERY, REFERENCE
from tanba.fingerprint.sandbox import Sandbox
from tanba.fingerprint.sniff import sniff

# Decoding an image of the largest allowed size: the pixels in RGBA, a grey copy and slack.
_BYTES_PER_PIXEL = 8
_MIN_BUDGET = 512 << 20
# The audio call may decode twice (a damaged file again, packet by packet), each pass within
# TANBA_DECODE_TIMEOUT_S; the slack covers Chromaprint and the probe.
_AUDIO_SLACK_S = 30.0

_shared: dict[tuple[int, int], Sandbox] = {}
_shared_lock = threading.Lock()


def memory_budget(settings: Settings) -> int:
    """Bytes a decode may allocate: enough for an image of ``image_max_pixels``, at least 512 MB."""
    return max(_MIN_BUDGET, _BYTES_PER_PIXEL * settings.image_max_pixels)


def shared_sandbox(settings: Settings) -> Sandbox:
    """This process's sandbox for the settings' memory budget (started on first use)."""
    key = (os.getpid(), memory_budget(settings))  # a forked child must not share its parent's
    with _shared_lock:
        sandbox = _shared.get(key)
        if sandbox is None:
            sandbox = _shared[key] = Sandbox(key[1])
        return sandbox


@atexit.register
def _close_shared() -> None:
    for (pid, _), sandbox in list(_shared.items()):
        if pid == os.getpid():
            sandbox.close()


def fingerprint_file(
    path: Path,
    sha256: str,
    settings: Settings,
    *,
    reference: bool = False,
    claimed_type: str = "",
    sandbox: Sandbox | None = None,
) -> Fingerprint:
    """The fingerprint of the file at ``path``; :class:`Unfingerprintable` says why not.

    ``reference`` hashes the windows a registered work is indexed under (crops, rotations);
    ``claimed_type`` is the server's Content-Type, used only to word the reason.
    """
    with open(path, "rb") as f:
        head = f.read(4096)
    kind = sniff(head)
    if kind == "empty":
        raise Unfingerprintable("empty file (0 bytes)")
    if kind == "html":
        served = f" served as {claimed_type}" if claimed_type else ""
        raise Unfingerprintable(f"an HTML page{served}, not an image, audio or video file")
    if kind == "playlist":
        raise Unfingerprintable(
            "a playlist or manifest (HLS, DASH, ffconcat), not a media file; refused so that "
            "the decoder does not open the files and URLs it names"
        )
    if kind == "text":
        served = f" served as {claimed_type}" if claimed_type else ""
        raise Unfingerprintable(f"a text file{served}, not an image, audio or video file")
    box = sandbox or shared_sandbox(settings)
    # What is neither an image nor text is tried as audio: FFmpeg knows more containers
    # than any magic-number list.
    hasher = HASHERS.get(kind, _audio)
    try:
        return hasher(box, path, sha256, settings, reference)
    except Unfingerprintable as exc:
        if kind == "unknown":
            raise Unfingerprintable(f"neither an image, audio nor video ({exc})") from None
        raise


# One hasher per medium: (sandbox, path, sha256, settings, reference) -> its Fingerprint.
Hasher = Callable[[Sandbox, Path, str, Settings, bool], Fingerprint]


def _image(
    box: Sandbox, path: Path, sha256: str, settings: Settings, reference: bool
) -> Fingerprint:
    """The image print: a registered work's windows (``reference``) or a crawled copy's."""
    variants = REFERENCE if reference else QUERY
    image = box.call(
        "tanba.fingerprint.sandbox_child:image_print_file",
        str(path),
        settings.image_max_pixels,
        variants,
        timeout_s=settings.decode_timeout_s,
        what="decoding the image",
    )
    return Fingerprint(media=IMAGE, sha256=sha256, image=ImagePrint.model_validate(image))


def _audio(
    box: Sandbox, path: Path, sha256: str, settings: Settings, reference: bool
) -> Fingerprint:
    """The audio print (the same for a registered track and a crawled copy)."""
    audio = box.call(
        "tanba.fingerprint.sandbox_child:audio_print_file",
        str(path),
        settings.audio_max_seconds,
        settings.decode_timeout_s,
        timeout_s=2 * settings.decode_timeout_s + _AUDIO_SLACK_S,
        what="decoding the audio",
    )
    return Fingerprint(media=AUDIO, sha256=sha256, audio=AudioPrint.model_validate(audio))


def _video(
    box: Sandbox, path: Path, sha256: str, settings: Settings, reference: bool
) -> Fingerprint:
    """The picture's print (a crawled copy's with its mirrored hashes) and the soundtrack's;
    a container without a picture (an audio-only webm or mp4) is fingerprinted as audio."""
    prints = box.call(
        "tanba.fingerprint.sandbox_child:video_print_file",
        str(path),
        settings.video_max_seconds,
        settings.video_decode_timeout_s,
        reference,
        settings.video_sparse_after_s,
        settings.audio_max_seconds,
        # A film's soundtrack is as long as its picture: it gets the picture's time limit
        # (a 2-hour soundtrack takes minutes; TANBA_DECODE_TIMEOUT_S is sized for songs).
        settings.video_decode_timeout_s,
        timeout_s=2 * settings.video_decode_timeout_s + _AUDIO_SLACK_S,
        what="decoding the video",
    )
    audio = None if prints.get("audio") is None else AudioPrint.model_validate(prints["audio"])
    if prints.get("video") is None:
        return Fingerprint(media=AUDIO, sha256=sha256, audio=audio)
    video = VideoPrint.model_validate(prints["video"])
    return Fingerprint(media=VIDEO, sha256=sha256, video=video, audio=audio)


HASHERS: dict[str, Hasher] = {IMAGE: _image, AUDIO: _audio, VIDEO: _video}

# Long side of the frames video_frames gives (the console shows them side by side).
FRAME_SIDE = 320


def video_frames(
    path: Path,
    times: Sequence[float],
    settings: Settings,
    *,
    side: int = FRAME_SIDE,
    sandbox: Sandbox | None = None,
) -> list[bytes | None]:
    """JPEG frames of the video at ``path`` shown at ``times`` seconds (None where none is).

    Decoded in the sandbox like a print (:func:`tanba.fingerprint.video.frames_at`), within
    TANBA_VIDEO_DECODE_TIMEOUT_S for all the times; :class:`Unfingerprintable` says why
    not for a file that is not a video by its first bytes or that the decoder refuses.
    """
    with open(path, "rb") as f:
        kind = sniff(f.read(4096))
    if kind != VIDEO:
        raise Unfingerprintable(f"not a video file (its first bytes say {kind})")
    box = sandbox or shared_sandbox(settings)
    encoded = box.call(
        "tanba.fingerprint.video:frames_at",
        str(path),
        [float(t) for t in times],
        side,
        settings.video_decode_timeout_s,
        timeout_s=settings.video_decode_timeout_s + _AUDIO_SLACK_S,
        what="finding the video's frames",
    )
    return [base64.b64decode(e) if e else None for e in encoded]
