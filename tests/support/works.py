"""Registered works made up for tests of lists (a print of the right shape, no media file)."""

from __future__ import annotations

from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.works import Licence, Work
from tanba.core.signals.image import ImagePrint


def work(
    work_id: str,
    owner: str = "Owner A",
    title: str = "",
    media: str = "image",
    filename: str = "",
) -> Work:
    fingerprint = (
        Fingerprint(
            media="image", sha256="a" * 64, image=ImagePrint(width=640, height=480, hashes=[])
        )
        if media == "image"
        else Fingerprint(media="audio", sha256="b" * 64)
    )
    return Work(
        work_id=work_id,
        owner=owner,
        title=title or work_id,
        media=media,  # type: ignore[arg-type]
        sha256=fingerprint.sha256,
        filename=filename,
        territories=["KZ"],
        licences=[Licence(domain="shop.example.kz")],
        registered_at="2026-03-01T00:00:00.000Z",
        fingerprint=fingerprint,
    )


def registered(work_id: str, fingerprint: Fingerprint) -> Work:
    """A work of owner "o" registered with this print (for matcher tests on real prints)."""
    return Work(
        work_id=work_id,
        owner="o",
        media=fingerprint.media,
        sha256="0" * 64,
        registered_at="2026-01-01T00:00:00Z",
        fingerprint=fingerprint,
    )
