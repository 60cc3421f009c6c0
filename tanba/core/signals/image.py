"""The image print: 64-bit pHashes of windows of the picture, each with a DCT descriptor.

Contract: an :class:`ImagePrint` holds one :class:`ImageHash` per hashed window
(``tanba.fingerprint.image`` says which windows) and, in the same order, one int8
descriptor of :data:`DESCRIPTOR_LENGTH` values per hash, packed as base64.
:meth:`ImagePrint.descriptor_rows` unpacks them; :func:`similarity` compares
descriptors (the cosine, which decides a match: the pHash only finds candidates).
"""

from __future__ import annotations

import base64

import numpy as np

from tanba.core.schemas.base import Model

# Algorithm ids are stable names: an index holds hashes of one algorithm only.
PHASH = "phash64"
DESCRIPTOR = "dct63-whitened-i8"
DESCRIPTOR_LENGTH = 63  # the 8 × 8 DCT coefficients but the DC term
FULL = "full"  # the variant name of the whole picture's window
# The set of windows a registered work is hashed at (tanba.fingerprint.image.reference_windows).
# Named anew when windows are added, so that a work printed before can be found and printed
# again (tanba.core.signals.versions). Prints made before the name was kept have "".
REFERENCE_WINDOWS = "grid-deep-box-1"


class ImageHash(Model):
    """One 64-bit perceptual hash of an image or of a variant of it."""

    algorithm: str  # PHASH
    variant: str = FULL  # "full", "mirror", ...: how the image was transformed first
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
    # Optional (added with the detail check, tanba.core.signals.image_detail): a crawled
    # copy's finer coefficients per hash (``detail`` names them), and the picture's grey
    # thumbnail (``thumbnail`` names it): a registered work's for the detail check, a copy's
    # (since the grey-level check, tanba.core.signals.image_levels) for that check. Empty in
    # older prints: no detail check then (no grey-level check without the copy's).
    detail: str = ""
    details_b64: str = ""
    thumbnail: str = ""
    thumbnail_b64: str = ""
    # Optional (added with the deep-crop windows): a registered work's window set,
    # REFERENCE_WINDOWS when it was printed; "" in a crawled copy's print and in older prints.
    windows: str = ""

    def descriptor_rows(self) -> np.ndarray:
        """The int8 descriptors, one row per hash (rows of zeros for a print without them)."""
        raw = base64.b64decode(self.descriptors_b64) if self.descriptors_b64 else b""
        if len(raw) != DESCRIPTOR_LENGTH * len(self.hashes):
            return np.zeros((len(self.hashes), DESCRIPTOR_LENGTH), np.int8)
        return np.frombuffer(raw, dtype=np.int8).reshape(-1, DESCRIPTOR_LENGTH)


def print_descriptors(image: ImagePrint) -> np.ndarray | None:
    """The print's descriptors, one int8 row per hash (None for a print without them)."""
    return image.descriptor_rows() if image.descriptors_b64 else None


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of descriptor rows ``a`` (n×63) with one descriptor ``b`` (63)."""
    a = np.atleast_2d(a).astype(np.float32)
    b = b.astype(np.float32)
    norms = np.linalg.norm(a, axis=1) * float(np.linalg.norm(b))
    return np.divide(a @ b, norms, out=np.zeros(len(a), np.float32), where=norms > 0)
