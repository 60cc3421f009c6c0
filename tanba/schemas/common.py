"""Models shared by several topics: where a media item was found, and its fingerprint."""

from __future__ import annotations

import base64
from typing import Literal

import numpy as np
from pydantic import Field

from tanba.schemas.base import Model

MediaKind = Literal["image", "audio"]
IMAGE: MediaKind = "image"
AUDIO: MediaKind = "audio"


class CaptureRef(Model):
    """Where the raw HTTP exchange of a fetch is kept: one WARC record in the captures directory."""

    warc: str  # path relative to the captures directory
    offset: int
    length: int


class MediaOccurrence(Model):
    """One media file as found on one page of one site at one time."""

    target: str
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


class ImageHash(Model):
    """One 64-bit perceptual hash of an image or of a variant of it."""

    algorithm: str  # see fingerprint.image ALGORITHMS
    variant: str = "full"  # "full", "mirror", ...: how the image was transformed first
    value: str  # 16 hex digits

    def as_int(self) -> int:
        return int(self.value, 16)


class ImagePrint(Model):
    """The fingerprint of an image: its size and a few perceptual hashes."""

    width: int
    height: int
    hashes: list[ImageHash]
    # Optional (added with the windowed fingerprint): one int8 descriptor of 63 values per
    # hash, in the same order, base64; ``descriptor`` names its algorithm. Empty in older prints.
    descriptor: str = ""
    descriptors_b64: str = ""


class AudioPrint(Model):
    """A Chromaprint raw fingerprint (one 32-bit item every ``item_s`` seconds) and landmarks."""

    algorithm: str  # see fingerprint.audio ALGORITHM
    duration_s: float
    item_s: float
    items_b64: str  # little-endian uint32 array, base64
    # Optional (added with the landmarks): spectral-peak pair hashes and their frames,
    # packed by fingerprint.landmarks.Landmarks.pack; ``landmarks`` names the algorithm.
    # Empty in older prints, which are then matched by their items alone.
    landmarks: str = ""
    landmarks_b64: str = ""

    @classmethod
    def from_items(
        cls, algorithm: str, duration_s: float, item_s: float, items: np.ndarray
    ) -> AudioPrint:
        raw = np.asarray(items, dtype="<u4").tobytes()
        return cls(
            algorithm=algorithm,
            duration_s=round(duration_s, 3),
            item_s=item_s,
            items_b64=base64.b64encode(raw).decode(),
        )

    def items(self) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.items_b64), dtype="<u4").astype(np.uint32)


class Fingerprint(Model):
    """The fingerprint of one media file; exactly one of image/audio is set, as ``media`` says."""

    media: MediaKind
    sha256: str
    image: ImagePrint | None = None
    audio: AudioPrint | None = None
