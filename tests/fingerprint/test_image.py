"""Image fingerprints: golden values on real photos, and invariance under web alterations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from fingerprint.compute import fingerprint_file
from fingerprint.exceptions import Unfingerprintable
from fingerprint.image import image_print
from tanba.demo.media import web_jpeg
from tanba.settings import Settings

# Golden values on Debian 12's ukui-wallpapers 20.04.3: a change here changes every index.
GOLDEN = {
    "2004default.jpg": ("dbe03b84649be14e", "8ab16ed033ceb41b"),
    "calla.png": ("a3e6681c7366879a", "f6b32d492623928f"),
    "city.png": ("b24d6cb4965a69a5", "e71839e3c20f3cf0"),
}
MAX = 10**9


def _distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _hash(data: bytes) -> str:
    return image_print(data, max_pixels=MAX).hashes[0].value


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_hashes_of_full_image_and_mirror(
    photos: list[Path], name: str, settings: Settings
) -> None:
    path = next(p for p in photos if p.name == name)
    fp = fingerprint_file(path, "x" * 64, settings, reference=True)
    assert fp.media == "image" and fp.image is not None
    assert [(h.variant, h.value) for h in fp.image.hashes] == [
        ("full", GOLDEN[name][0]),
        ("mirror", GOLDEN[name][1]),
    ]


@pytest.mark.parametrize(
    "alteration",
    [
        {"width": 640, "quality": 75},
        {"width": 1280, "quality": 30},
        {"width": 1280, "quality": 85, "crop": 0.03},
    ],
    ids=["resized", "recompressed", "cropped-3pc"],
)
def test_web_copies_stay_within_the_default_threshold(
    photos: list[Path], alteration: dict, settings: Settings
) -> None:
    for path in photos[:6]:
        reference = _hash(path.read_bytes())
        assert (
            _distance(reference, _hash(web_jpeg(path, **alteration))) <= settings.image_max_distance
        )


def test_unrelated_photos_stay_over_the_threshold(photos: list[Path], settings: Settings) -> None:
    hashes = [_hash(web_jpeg(p, width=512)) for p in photos]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert _distance(a, b) > settings.image_max_distance


def test_mirror_variant_matches_a_mirrored_copy(photos: list[Path]) -> None:
    fp = image_print(photos[0].read_bytes(), max_pixels=MAX, variants=("full", "mirror"))
    mirrored = io.BytesIO()
    Image.open(photos[0]).convert("RGB").transpose(Image.FLIP_LEFT_RIGHT).save(mirrored, "JPEG")
    assert _distance(fp.hashes[1].value, _hash(mirrored.getvalue())) <= 4


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt"),
        (b"GIF89a" + b"\x01" * 10, "corrupt or truncated|not a decodable image"),
    ],
)
def test_undecodable_images_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unfingerprintable, match=reason):
        image_print(data, max_pixels=MAX)


def test_a_truncated_jpeg_is_refused(photos: list[Path]) -> None:
    data = web_jpeg(photos[0])
    with pytest.raises(Unfingerprintable, match="corrupt or truncated"):
        image_print(data[: len(data) // 2], max_pixels=MAX)


def test_pixel_cap_refuses_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("L", (4000, 4000)).save(out, "PNG")
    with pytest.raises(Unfingerprintable, match="exceeds the cap"):
        image_print(out.getvalue(), max_pixels=1_000_000)


def test_html_served_as_an_image_is_named_as_html(tmp_path: Path, settings: Settings) -> None:
    page = tmp_path / "photo.jpg"
    page.write_bytes(b"<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(Unfingerprintable, match="HTML page served as image/jpeg"):
        fingerprint_file(page, "x" * 64, settings, claimed_type="image/jpeg")
