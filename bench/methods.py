"""The matching methods the benchmarks compare: Tanba's and the baselines a user would pick.

Every method registers works from their files' bytes and scores a query
against them: ``scores`` returns each registered work it has an opinion on,
with a score where higher means more alike, and ``accept`` says whether a
score is a match at the method's fixed threshold. Scores are kept for the
works a method would not accept too, so the report can show the margin
between the weakest true match and the strongest false one.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from tanba.core.schemas.common import AUDIO, IMAGE, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import AudioPrint
from tanba.fingerprint.audio import audio_print
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.matcher.audio_signal import audio_rule
from tanba.matcher.image_signal import ImageSignal
from tanba.matcher.index import best_alignment
from tanba.matcher.match import Matcher

MAX_PIXELS = 200_000_000


class Method(Protocol):
    """A way to tell whether a query is a copy of a registered work."""

    name: str
    rule: str  # the decision rule, printed under the table

    def register(self, work_id: str, data: bytes) -> object: ...

    def scores(self, data: bytes) -> dict[str, float]: ...

    def accept(self, work_id: str, score: float) -> bool:
        """Whether the last query's ``score`` for ``work_id`` is a match."""
        ...


def as_work(work_id: str, fingerprint: Fingerprint) -> Work:
    return Work(
        work_id=work_id,
        owner="bench",
        title=work_id,
        media=fingerprint.media,
        sha256=fingerprint.sha256,
        registered_at="2026-01-01T00:00:00Z",
        fingerprint=fingerprint,
    )


class TanbaImages:
    """Tanba's image pipeline: windowed fingerprints, the matcher's index and verification."""

    name = "tanba"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.matcher = Matcher(settings)
        # The same index scoring every candidate pair, for the strongest wrong score (the
        # margin a threshold has); accept() applies the threshold to both.
        signal = self.matcher.signals[IMAGE]
        assert isinstance(signal, ImageSignal)
        self.floorless = ImageSignal(
            settings.with_(image_min_similarity=0.0, image_aligned_similarity=0.0),
            signal.index,
            signal.thumbnail,
        )
        self.rule = (
            f"pHash windows within {settings.image_max_distance} bits, "
            f"descriptor similarity >= {settings.image_min_similarity}"
        )

    def register(self, work_id: str, data: bytes) -> bool:
        """Register the work; False (and nothing registered) when it is too flat to fingerprint."""
        image = image_print(data, max_pixels=MAX_PIXELS, variants=REFERENCE)
        if not image.hashes:
            return False
        self.matcher.add(as_work(work_id, Fingerprint(media=IMAGE, sha256="0" * 64, image=image)))
        return True

    def scores(self, data: bytes) -> dict[str, float]:
        image = image_print(data, max_pixels=MAX_PIXELS)
        fp = Fingerprint(media=IMAGE, sha256="0" * 64, image=image)
        # The matcher decides; a work it refused keeps its floorless score, held under the
        # threshold (a small work's lone simple window, refused by the matcher, can pass the
        # twin, whose weaker pairs make it not lone).
        under = float(np.nextafter(self.settings.image_min_similarity, 0.0))
        found = {m.work_id: min(m.score, under) for m in self.floorless.match(fp)}
        found.update({m.work.work_id: m.score for m in self.matcher.match(fp)})
        return found

    def accept(self, work_id: str, score: float) -> bool:
        return score >= self.settings.image_min_similarity


class _HammingBaseline:
    """Whole-image hash, linear scan, match at a fixed Hamming distance; score 1 - d/bits."""

    name = ""
    bits = 64
    max_distance = 0

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.hashes: list[np.ndarray] = []
        self.rule = f"whole image, Hamming distance <= {self.max_distance} of {self.bits} bits"

    def hash(self, data: bytes) -> np.ndarray | None:
        raise NotImplementedError

    def register(self, work_id: str, data: bytes) -> None:
        h = self.hash(data)
        if h is not None:
            self.ids.append(work_id)
            self.hashes.append(h)

    def scores(self, data: bytes) -> dict[str, float]:
        h = self.hash(data)
        if h is None or not self.hashes:
            return {}
        distances = np.count_nonzero(np.stack(self.hashes) != h, axis=1)
        return {w: 1 - int(d) / self.bits for w, d in zip(self.ids, distances, strict=True)}

    def accept(self, work_id: str, score: float) -> bool:
        return (1 - score) * self.bits <= self.max_distance + 1e-9


class PhashBaseline(_HammingBaseline):
    """``imagehash.phash(Image.open(f))``: what a user would write first."""

    name = "phash"
    max_distance = 12  # Tanba's threshold before the windowed fingerprint

    def hash(self, data: bytes) -> np.ndarray | None:
        import imagehash

        return np.asarray(imagehash.phash(Image.open(io.BytesIO(data))).hash).reshape(-1)


class PdqBaseline(_HammingBaseline):
    """Meta's PDQ (``pdqhash``) at its recommended distance 31, quality below 50 ignored."""

    name = "pdq"
    bits = 256
    max_distance = 31

    def __init__(self) -> None:
        super().__init__()
        self.rule += ", hashes of quality < 50 discarded (Meta's advice)"

    def hash(self, data: bytes) -> np.ndarray | None:
        import pdqhash

        with Image.open(io.BytesIO(data)) as im:
            image = _on_white(im)
        # PDQ box-filters to 64×64 anyway; at most 1024 px keeps the run short.
        image.thumbnail((1024, 1024), Image.Resampling.BOX)
        rgb = np.asarray(image)
        bits, quality = pdqhash.compute(rgb)
        return None if quality < 50 else np.asarray(bits, dtype=np.uint8)


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(
            Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba
        ).convert("RGB")
    return image.convert("RGB")


# --- audio ----------------------------------------------------------------------


def audio_print_of(data: bytes, settings: Settings) -> AudioPrint | None:
    """The pipeline's audio print of encoded bytes, or None when it refuses them."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        try:
            return audio_print(Path(f.name), max_seconds=settings.audio_max_seconds, timeout_s=120)
        except Exception:
            return None


class TanbaAudio:
    """Tanba's audio pipeline: the Chromaprint index (BER/LLR tests) and verified landmarks."""

    name = "tanba"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.matcher = Matcher(settings)
        # Scores of every alignment up to chance level, for the margins; accept() is the real rule.
        self.everything = Matcher(settings.with_(audio_max_ber=0.49, audio_min_llr=0.0))
        self.offsets: dict[str, float] = {}
        self.accepted: set[str] = set()
        self.last: dict[str, float] = {}  # the scores of the last query
        rule = audio_rule(settings)
        self.rule = (
            f"aligned BER <= {rule.max_ber} × sqrt(min(1, span / {rule.full_span_items})) or "
            f"mean LLR per item >= {rule.min_llr} × sqrt(max(1, {rule.full_span_items} / span)) "
            f"on spans >= {rule.llr_min_items} items, "
            f"over >= {rule.min_items} items; or landmark votes >= "
            f"{settings.audio_landmark_min_votes} on one offset in 10 s of the copy, verified by "
            f"mean LLR >= {settings.audio_landmark_min_llr} there"
            + (
                f", or on the votes alone at >= {settings.audio_landmark_alone_votes}; "
                if settings.audio_landmark_alone_votes
                else "; "
            )
            + (
                f"or, at another speed (0.95 to 1.05), landmark votes >= "
                f"{settings.audio_speed_min_votes} peaking there; "
                if settings.audio_speed_min_votes
                else "speed search off; "
            )
            + "score 1 - 2 BER (LLR and landmark matches: the effective BER)"
        )

    def register_items(self, work_id: str, fingerprint: Fingerprint) -> None:
        self.matcher.add(as_work(work_id, fingerprint))
        self.everything.add(as_work(work_id, fingerprint))

    def register(self, work_id: str, data: bytes) -> None:
        fp = audio_print_of(data, self.settings)
        if fp is not None:
            self.register_items(work_id, Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))

    def scores_of(self, fingerprint: Fingerprint) -> dict[str, float]:
        self.offsets, self.accepted = {}, set()
        out = {m.work.work_id: m.score for m in self.everything.match(fingerprint)}
        for m in self.matcher.match(fingerprint):
            work_id = m.work.work_id
            out[work_id] = m.score
            # A copy at another speed runs `scale` times as fast from its aligned start.
            scale = m.detail.scale or 1.0
            self.offsets[work_id] = (m.detail.offset_s or 0.0) - scale * (
                m.detail.query_offset_s or 0.0
            )
            self.accepted.add(work_id)
        self.last = out
        return out

    def scores(self, data: bytes) -> dict[str, float]:
        fp = audio_print_of(data, self.settings)
        if fp is None:
            return {}
        return self.scores_of(Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))

    def accept(self, work_id: str, score: float) -> bool:
        return work_id in self.accepted


class FullFileChromaprint:
    """Whole fingerprints compared as AcoustID does: aligned near the start, BER over the overlap."""

    name = "chromaprint-full"
    max_ber = 0.35
    max_shift = 80  # items, about 10 s either way

    def __init__(self) -> None:
        self.works: dict[str, np.ndarray] = {}
        self.rule = (
            f"whole-file fingerprints, best BER over shifts within ±{self.max_shift} items "
            f"<= {self.max_ber}; score 1 - 2 BER"
        )

    def register_items(self, work_id: str, items: np.ndarray) -> None:
        self.works[work_id] = items

    def scores_of(self, items: np.ndarray) -> dict[str, float]:
        out = {}
        for work_id, ref in self.works.items():
            best = 1.0
            for shift in range(-self.max_shift, self.max_shift + 1):
                q0 = max(0, -shift)
                r0 = q0 + shift
                span = min(len(items) - q0, len(ref) - r0)
                if span < 24:
                    continue
                diff = np.bitwise_xor(ref[r0 : r0 + span], items[q0 : q0 + span])
                best = min(best, float(np.bitwise_count(diff).sum()) / (32 * span))
            out[work_id] = 1 - 2 * best
        return out

    def accept(self, work_id: str, score: float) -> bool:
        return score >= 1 - 2 * self.max_ber - 1e-9


def excerpt_alignment(ref: np.ndarray, query: np.ndarray) -> float:
    """BER of the query at its best offset anywhere in the reference (for diagnostics)."""
    hit = best_alignment("w", ref, query, 24)
    return 1.0 if hit is None else hit.ber


def fpcalc_raw(path: Path) -> list[int]:
    """Chromaprint's own command: ``fpcalc -raw`` items of a file."""
    done = subprocess.run(
        ["fpcalc", "-raw", "-length", "0", str(path)], capture_output=True, text=True, check=True
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("FINGERPRINT="))
    return [int(v) for v in line.split("=", 1)[1].split(",")]
