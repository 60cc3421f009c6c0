"""Models shared by several topics: where a media item was found, and its fingerprint.

The prints themselves are defined with their signal types in :mod:`tanba.core.signals`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tanba.core.schemas.base import Model
from tanba.core.schemas.stream import StreamSample
from tanba.core.signals.audio import AudioPrint
from tanba.core.signals.image import ImagePrint
from tanba.core.signals.video import VideoPrint

MediaKind = Literal["image", "audio", "video"]
IMAGE: MediaKind = "image"
AUDIO: MediaKind = "audio"
VIDEO: MediaKind = "video"


class CaptureRef(Model):
    """Where the raw HTTP exchange of a fetch is kept: one WARC record in the captures directory.

    The record at ``offset`` is a response; ``length`` covers it, or, for a stream,
    every record of the stream's exchanges written after it (manifests and segments).
    """

    warc: str  # path relative to the captures directory
    offset: int
    length: int


class MediaOccurrence(Model):
    """One media file as found on one page of one site at one time.

    ``page_url`` is always the page a visitor opens. When the media was found in a
    player that page embeds (an ``<iframe>``, maybe on another host), ``player_url``
    is the player page's URL, ``player_site`` its host and ``player_capture`` its
    WARC record; otherwise they are empty. ``stream`` is set when the media is a
    stream (HLS, DASH): the blob is then a file joined from sampled segments, and
    ``media_capture`` spans every exchange of the stream, manifest first
    (see :mod:`tanba.core.schemas.stream`).
    """

    target: str  # the target's id (tanba.core.target_registry); its name for file-only crawls
    site: str  # host name of the page, lower case
    page_url: str
    media_url: str
    page_title: str = ""
    page_lang: str = ""
    sha256: str  # key of the bytes in the blob store
    size: int
    content_type: str = ""
    http_status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    server_ip: str = ""
    fetched_at: str  # ISO 8601, UTC
    jurisdiction_override: str = ""  # the target's explicit jurisdiction, if any
    crawl_id: str = ""
    page_capture: CaptureRef | None = None
    media_capture: CaptureRef | None = None
    player_url: str = ""
    player_site: str = ""
    player_capture: CaptureRef | None = None
    stream: StreamSample | None = None


class Fingerprint(Model):
    """The fingerprint of one media file: its print of the medium ``media`` says.

    An image sets ``image``, an audio file ``audio``; a video sets ``video`` (its
    picture) and, when it has a soundtrack, ``audio`` (the soundtrack's print, as an
    audio file's: it is matched against registered music too).
    """

    media: MediaKind
    sha256: str
    image: ImagePrint | None = None
    audio: AudioPrint | None = None
    video: VideoPrint | None = None
