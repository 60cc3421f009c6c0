"""What in a registered work's print is older than what registering its file today makes.

Contract: :func:`outdated` returns one sentence per part of the print that an earlier
version of Tanba made (an older algorithm id, or a part added since and missing), and
nothing for a print of today's ids. It reads only the ids and the presence of parts, so
a print that travels as a blob (:mod:`tanba.core.print_blobs`) is judged by its stub.

Why: older prints stay matchable (each signal type reads them as they are, with less
evidence or offsets that may be off), so nothing forces a rights holder to print a
catalogue again; ``tanba works reprint`` uses this to say which works gain from it and
to print just those again from their stored files.
"""

from __future__ import annotations

from tanba.core.schemas.common import Fingerprint
from tanba.core.signals.audio import CHROMAPRINT, LANDMARKS
from tanba.core.signals.image import DESCRIPTOR, REFERENCE_WINDOWS
from tanba.core.signals.image_detail import THUMBNAIL
from tanba.core.signals.video import OLDER_PDQ_FRAMES, PDQ_FRAMES


def outdated(fingerprint: Fingerprint) -> list[str]:
    """Why the print would differ if the work were registered today (empty: it would not)."""
    why: list[str] = []
    image = fingerprint.image
    if image is not None:
        if image.descriptor != DESCRIPTOR:
            why.append(
                "its picture has no window descriptors (printed before them): only its hashes "
                "are compared"
            )
        if image.thumbnail != THUMBNAIL:
            why.append("its picture has no thumbnail, so its matches skip the detail check")
        if image.hashes and image.windows != REFERENCE_WINDOWS:
            why.append(
                "its picture is hashed at an older set of windows (before the deep crops and a "
                "drawing's content box): a copy keeping 60% of the picture, or a drawing shown "
                "alone on a page, may be missed"
            )
    audio = fingerprint.audio
    if audio is not None:
        if audio.algorithm != CHROMAPRINT:
            why.append(f"its sound is printed as {audio.algorithm!r}, not {CHROMAPRINT!r}")
        # A print that travels as a blob keeps its landmarks in the blob (blobs came after them).
        elif not audio.blob and audio.landmarks != LANDMARKS:
            why.append(
                "its sound has no landmarks (printed before them): short or noisy excerpts "
                "are found by its Chromaprint items alone"
            )
    video = fingerprint.video
    if video is not None and video.algorithm != PDQ_FRAMES:
        known = OLDER_PDQ_FRAMES.get(video.algorithm)
        why.append(
            f"its picture is printed as {video.algorithm!r}: {known}"
            if known
            else f"its picture is printed as {video.algorithm!r}, which this version does not "
            "compare (its sound still is)"
        )
    return why
