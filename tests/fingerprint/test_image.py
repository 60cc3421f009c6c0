"""Image fingerprints: golden values on real photos, the pHash algorithm, windows and descriptors."""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageDraw

from tanba.core.settings import Settings
from tanba.core.signals.image import ImagePrint, similarity
from tanba.core.signals.image_detail import crop_variant, window_geometry
from tanba.fingerprint import decode as decode_module
from tanba.fingerprint import image as image_module
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.decode import (
    _may_be_multi_picture,
    _plain_jpeg_size,
    _turbo_grey,
    decode,
    decode_chroma,
    decode_with_fine,
)
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.image import (
    _WHITEN,
    DESCRIPTOR,
    QUERY,
    REFERENCE,
    Windows,
    _descriptors,
    _halved,
    _phashes,
    _std,
    blank_corners,
    coefficients,
    image_print,
    phash,
    query_windows,
    to_print,
    turned_cut,
    turned_window_reference,
    turned_windows,
)
from tanba.fingerprint.resample import lanczos_rows, resampled, resampling
from tests.support.media import web_photo

# Golden values on Debian 12's ukui-wallpapers 20.04.3: a change here changes every index.
# (name: reference window count, whole-picture pHash, the crop window's pHash)
GOLDEN: dict[str, tuple[int, str, str]] = {
    "2004default.jpg": (135, "dbe03b84649be14e", "d6e993ed14927b04"),
    "calla.png": (135, "a3e6681c7366879a", "a6481d936664d6dd"),
    "city.png": (135, "b24d6cb4965a69a5", "b64969a4965a69ad"),
}
GOLDEN_CROP = "crop:10-15-00-10"
MAX = 10**9


def _distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _hashes(data: bytes, variants: str = QUERY) -> dict[str, str]:
    return {h.variant: h.value for h in image_print(data, max_pixels=MAX, variants=variants).hashes}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_reference_windows(photos: list[Path], name: str, settings: Settings) -> None:
    path = next(p for p in photos if p.name == name)
    fp = fingerprint_file(path, "x" * 64, settings, reference=True)
    assert fp.media == "image" and fp.image is not None
    windows = {h.variant: h.value for h in fp.image.hashes}
    count, full, crop = GOLDEN[name]
    assert (len(windows), windows["full"], windows[GOLDEN_CROP]) == (count, full, crop)
    assert len(fp.image.descriptor_rows()) == count and fp.image.descriptor == "dct63-whitened-i8"


def test_deep_windows_only_where_they_show_the_picture(photos: list[Path]) -> None:
    """A photo is hashed at every deep-crop window; a plain red field on white at none: its
    deep windows show the field and an edge (under a bit of grey levels), evidence of nothing."""
    deep = {crop_variant(*cut) for cut in image_module._DEEP_CUTS}
    with Image.open(photos[0]) as im:
        photo = im.convert("RGB").resize((400, 300))
    assert len(deep & set(_hashes(_jpeg(photo, quality=95), REFERENCE))) == len(deep) == 30
    flag = Image.new("RGB", (400, 300), (255, 255, 255))
    ImageDraw.Draw(flag).rectangle((0, 0, 389, 291), fill=(220, 20, 20))
    names = set(_hashes(_jpeg(flag, quality=95), REFERENCE))
    assert "full" in names and not deep & names


def test_a_drawing_on_white_is_registered_with_its_content_box_too(photos: list[Path]) -> None:
    """Besides the grid, a work on a plain ground has a window of its content box, named with
    its place in hundredths of a percent (to the pixel, less the edge a box drops); a photo
    without a plain ground has none."""
    with Image.open(photos[0]) as im:
        photo = im.convert("RGB").resize((300, 200))
    canvas = Image.new("RGB", (512, 400), (255, 255, 255))
    canvas.paste(photo, (100, 120))
    names = list(_hashes(_jpeg(canvas, quality=95), REFERENCE))
    boxed = [n for n in names if n.count(".") == 4]
    plain = list(_hashes(photos[0].read_bytes(), REFERENCE))
    assert len(names) == len(plain) + 1 and len(boxed) == 1
    left, right, top, bottom, _ = window_geometry(boxed[0]) or (0, 0, 0, 0, 0)
    assert (left * 512, right * 512, top * 400, bottom * 400) == pytest.approx(
        (101, 113, 121, 81), abs=1.5
    )
    assert not [n for n in plain if n.count(".") == 4]
    # A box under the hash's 32 px (a small icon's middle) is too little picture for a window.
    icon = Image.new("RGB", (60, 60), (255, 255, 255))
    icon.paste(photo.resize((24, 24)), (18, 18))
    assert not [n for n in _hashes(_jpeg(icon, quality=95), REFERENCE) if n.count(".") == 4]
    icon.paste(photo.resize((40, 40)), (10, 10))
    assert [n for n in _hashes(_jpeg(icon, quality=95), REFERENCE) if n.count(".") == 4]


def test_phash_is_imagehashs_on_the_same_pixels(photos: list[Path]) -> None:
    for path in photos[:4]:
        with Image.open(path) as im:
            grey = im.convert("L")
        assert f"{phash(coefficients(grey)):016x}" == str(imagehash.phash(grey))


def test_the_query_whole_hash_stays_near_the_naive_phash(photos: list[Path]) -> None:
    # The query decodes JPEG at reduced size: a few bits may differ from full decoding.
    for path in photos[:6]:
        data = web_photo(path)
        naive = str(imagehash.phash(Image.open(io.BytesIO(data))))
        assert _distance(_hashes(data)["full"], naive) <= 6


def test_a_query_has_its_whole_inner_upper_middle_windows_sub_crops_turns_and_mirrors(
    photos: list[Path],
) -> None:
    windows = ["full", "crop:08-08-08-08", "crop:00-00-00-24", "crop:00-00-12-24"]
    mirrors = ["mirror"] + [f"{w}-mirror" for w in windows[1:]]
    # The seven crops of 5% that meet the reference grid half way.
    subs = [
        "sub:crop:05-00-00-00",
        "sub:crop:00-05-00-00",
        "sub:crop:00-00-05-00",
        "sub:crop:00-00-00-05",
        "sub:crop:05-00-05-00",
        "sub:crop:00-05-00-05",
        "sub:crop:05-05-05-05",
    ]
    assert sorted(_hashes(web_photo(photos[0]))) == sorted(windows + mirrors + subs)
    # A copy whose four corners are one colour (the fill a rotation leaves) is also turned
    # back by 6 and 9° either way, cut as the work's inner window.
    turns = ["turned:-9", "turned:-6", "turned:+6", "turned:+9"]
    with Image.open(io.BytesIO(web_photo(photos[0]))) as im:
        tilted = im.rotate(7, Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    assert set(turns) <= set(_hashes(_jpeg(tilted)))


def test_only_a_copy_with_corners_of_one_colour_is_turned_back(photos: list[Path]) -> None:
    for path in photos[:4]:
        with Image.open(io.BytesIO(web_photo(path))) as im:
            copy = im.convert("L")
        assert not blank_corners(np.asarray(copy))
        for angle, fill in ((5, 0), (-6, 255), (10, 90), (-3, 255)):
            tilted = copy.rotate(angle, Image.Resampling.BICUBIC, fillcolor=fill)
            assert blank_corners(decode(_jpeg(tilted), MAX, 160)[0])
    assert blank_corners(np.full((90, 160), 40, np.uint8))


def test_unrelated_photos_stay_over_the_default_radius(
    photos: list[Path], settings: Settings
) -> None:
    hashes = [_hashes(web_photo(p))["full"] for p in photos]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert _distance(a, b) > settings.image_max_distance


def test_the_mirror_window_of_a_mirrored_copy_is_the_reference(photos: list[Path]) -> None:
    reference = _hashes(photos[0].read_bytes(), REFERENCE)["full"]
    mirrored = io.BytesIO()
    Image.open(photos[0]).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        mirrored, "JPEG"
    )
    assert _distance(reference, _hashes(mirrored.getvalue())["mirror"]) <= 4


def test_descriptors_survive_the_event_encoding(photos: list[Path]) -> None:
    image = image_print(web_photo(photos[1]), max_pixels=MAX)
    again = ImagePrint.model_validate_json(image.model_dump_json())
    assert np.array_equal(again.descriptor_rows(), image.descriptor_rows())
    assert image.descriptor_rows().shape == (len(image.hashes), 63)


def test_a_transparent_image_is_laid_on_white() -> None:
    rgba = Image.new("RGBA", (200, 150), (0, 0, 0, 0))
    rgba.paste((20, 20, 20, 255), (40, 30, 160, 120))
    on_white = Image.new("RGB", (200, 150), (255, 255, 255))
    on_white.paste((20, 20, 20), (40, 30, 160, 120))
    png, jpg = io.BytesIO(), io.BytesIO()
    rgba.save(png, "PNG")
    on_white.save(jpg, "JPEG", quality=95)
    assert _distance(_hashes(png.getvalue())["full"], _hashes(jpg.getvalue())["full"]) <= 2


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
    data = web_photo(photos[0])
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


# --- Decoding through TurboJPEG gives Pillow's pixels -----------------------------------


def _pillow_grey(data: bytes, side: int) -> np.ndarray:
    """The decoding as Pillow alone does it: draft to grey at reduced size, then reduce."""
    image = Image.open(io.BytesIO(data))
    scale = side / max(image.size)
    image.draft("L", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    grey = image.convert("L")
    factor = max(grey.size) // side
    return np.asarray(grey.reduce(factor) if factor >= 2 else grey)


def _jpeg(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def test_turbojpeg_decodes_the_pixels_pillow_decodes(photos: list[Path]) -> None:
    with Image.open(photos[2]) as im:
        photo = im.convert("RGB")
    cases = [web_photo(p) for p in photos[:3]]
    cases += [
        _jpeg(photo.convert("L")),  # a grey JPEG
        _jpeg(photo, progressive=True),
        _jpeg(photo.resize((200, 150))),  # smaller than the working size: full scale
        _jpeg(photo.resize((4200, 300))),  # 1/8 scale is still twice the side: then reduced
    ]
    for data in cases:
        size = _plain_jpeg_size(data)
        assert size is not None
        for side in (256, 512):
            turbo = _turbo_grey(data, *size, side)
            assert turbo is not None and np.array_equal(turbo, _pillow_grey(data, side))
            assert np.array_equal(decode(data, MAX, side)[0], turbo)


def test_jpegs_turbojpeg_does_not_take_go_through_pillow(photos: list[Path]) -> None:
    with Image.open(photos[0]) as im:
        photo = im.convert("RGB").resize((400, 300))
    cmyk = _jpeg(photo.convert("CMYK"))
    multi = io.BytesIO()  # a multi-picture file: Pillow opens it as "MPO", in full
    photo.save(multi, "MPO", save_all=True, append_images=[photo.rotate(90)])
    assert Image.open(multi).format == "MPO"
    assert _plain_jpeg_size(cmyk) is None and _plain_jpeg_size(multi.getvalue()) is None
    assert not _may_be_multi_picture(_jpeg(photo)) and _may_be_multi_picture(b"\xff\xd8\x00" * 4)
    grey, width, height = decode(cmyk, MAX, 256)
    assert (width, height) == (400, 300) and np.array_equal(grey, _pillow_grey(cmyk, 256))
    grey, width, height = decode(multi.getvalue(), MAX, 256)
    assert (width, height) == (400, 300)
    assert np.array_equal(grey, np.asarray(Image.open(multi).convert("L")))


def test_a_jpeg_over_the_pixel_cap_is_refused_from_its_header() -> None:
    data = _jpeg(Image.new("L", (3000, 2000), 90))
    with pytest.raises(Unfingerprintable, match="3000x2000 pixels exceeds the cap"):
        image_print(data, max_pixels=1_000_000)


# --- The window arithmetic -------------------------------------------------------------


def test_halving_is_pillows_reduce() -> None:
    rng = np.random.default_rng(5)
    for height, width in ((2, 2), (8, 6), (7, 6), (6, 9), (33, 47), (200, 320)):
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
        expected = np.asarray(Image.fromarray(grey).reduce(2), dtype=np.float32)
        assert np.array_equal(_halved(grey), expected)


def test_the_resampling_matrix_is_the_area_average_then_lanczos() -> None:
    lanczos = lanczos_rows(64, 2.0)
    for length in (65, 100, 127, 128, 200, 320, 511, 1000):
        edges = np.linspace(0.0, length, 65)
        pixel = np.arange(length)
        covered = np.clip(edges[1:, None], pixel, pixel + 1) - np.clip(
            edges[:-1, None], pixel, pixel + 1
        )
        full = (lanczos @ (covered / edges[1])).astype(np.float32)
        np.testing.assert_array_max_ulp(resampling(length), full, maxulp=1)


def test_an_image_in_several_groups_resamples_as_each_group_alone() -> None:
    # A copy's fixed windows and sub-crops (a page's boxes and their upper parts) are groups
    # of one image, which share its column products; another image of the same size shares
    # nothing with it.
    rng = np.random.default_rng(13)
    a, b = (rng.integers(0, 256, (107, 160), dtype=np.uint8) for _ in range(2))
    first = [("full", None), ("inner", (13, 9, 147, 98))]
    second = [("left", (8, 0, 160, 107)), ("top", (0, 5, 160, 107)), ("again", (13, 0, 147, 80))]
    together = resampled([(a, first), (b, second), (a, second)])
    alone = [resampled([(a, first)]), resampled([(b, second)]), resampled([(a, second)])]
    assert np.array_equal(together, np.concatenate(alone))
    # and each window is the plain product of the resampling matrices with its box
    box = a[9:98, 13:147].astype(np.float32)
    plain = resampling(89) @ box @ resampling(134).T
    np.testing.assert_allclose(together[1], plain, rtol=1e-5, atol=1e-3)


def test_batched_statistics_are_numpys() -> None:
    rng = np.random.default_rng(9)
    rows = rng.normal(0, 50, (12, 64))
    rows[3] = 0.0  # a row without energy keeps a zero descriptor
    assert np.array_equal(_std(rows), rows.std(axis=1))
    weights = np.uint64(1) << np.arange(63, -1, -1, dtype=np.uint64)
    bits = (rows > np.median(rows, axis=1)[:, None]).astype(np.uint64)
    assert _phashes(rows).tolist() == (bits * weights).sum(axis=1, dtype=np.uint64).tolist()
    ac = rows[:, 1:] * _WHITEN
    norms = np.linalg.norm(ac, axis=1, keepdims=True)
    plain = np.divide(127 * ac, norms, out=np.zeros_like(ac), where=norms > 0)
    assert np.array_equal(_descriptors(rows), np.round(plain).astype(np.int8))


def test_turned_windows_are_the_plain_point_by_point_sampling() -> None:
    rng = np.random.default_rng(11)
    angles = (-9.0, -6.0, 6.0, 9.0)
    for height, width in ((40, 64), (90, 160), (160, 107), (33, 47)):
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
        fast = turned_windows(grey, angles)
        assert fast.shape == (len(angles), 64, 64)
        for window, angle in zip(fast, angles, strict=True):
            np.testing.assert_allclose(window, turned_window_reference(grey, angle), atol=1e-3)
        enlarged = turned_windows(grey, angles, enlarged=True)
        for window, angle in zip(enlarged, angles, strict=True):
            plain = turned_window_reference(grey, angle, enlarged=True)
            np.testing.assert_allclose(window, plain, atol=1e-3)


def test_a_turned_window_is_pillows_rotation_cut_to_the_inner_window(photos: list[Path]) -> None:
    """Sampled straight from the copy, the window hashes as rotating the whole copy and
    cutting its inner window did (within the bits the two interpolations round apart)."""
    grey = decode(web_photo(photos[0]), MAX, 160)[0]
    box = image_module._box(grey, *image_module._ROTATED_QUERY_CUT)
    for angle, window in zip((-9.0, 6.0), turned_windows(grey, (-9.0, 6.0)), strict=True):
        rotated = np.asarray(Image.fromarray(grey).rotate(angle, Image.Resampling.BICUBIC))
        cut = Image.fromarray(rotated).crop(box).convert("L")
        sampled = Image.fromarray(window).convert("L")
        assert _distance(f"{phash(coefficients(cut)):x}", f"{phash(coefficients(sampled)):x}") <= 4
    # Black corners where a 9° turn leaves a wide picture, as Image.rotate fills them.
    flat = turned_windows(np.full((90, 160), 200, np.uint8), (9.0,))[0]
    assert min(flat[0, 0], flat[0, -1], flat[-1, 0], flat[-1, -1]) < 100
    assert flat[32, 32] == pytest.approx(200)


def test_an_enlarged_turned_window_is_the_picture_a_tilted_repost_holds(
    photos: list[Path],
) -> None:
    """A photo rotated onto a canvas enlarged to hold it all, turned back by its angle, is
    the photo again in the middle: the enlarged cut finds it there, as the work's inner window
    (the copy's own inner window would take in the fill around it, and its hash is another)."""
    with Image.open(io.BytesIO(web_photo(photos[0]))) as im:
        photo = im.convert("L")
    work = np.asarray(photo)
    inner = phash(coefficients(photo, image_module._box(work, *image_module._ROTATED_QUERY_CUT)))
    for angle in (-9.0, 6.0):
        tilted = photo.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        grey = decode(_jpeg(tilted), MAX, 160)[0]
        (found,) = turned_windows(grey, (-angle,), enlarged=True)  # turned back
        (own,) = turned_windows(grey, (-angle,))
        assert _distance(f"{inner:x}", f"{phash(coefficients(Image.fromarray(found))):x}") <= 2
        assert _distance(f"{inner:x}", f"{phash(coefficients(Image.fromarray(own))):x}") >= 10
        left, top, right, bottom = turned_cut(grey.shape, angle, enlarged=True) or (0, 0, 0, 0)
        # The box holds the photo's proportions (to the pixel the decoding rounds to).
        assert (right - left) / (bottom - top) == pytest.approx(photo.width / photo.height, 0.03)
    # No enlarged rotation by 9° holds a picture in a strip thinner than the slant it makes.
    assert turned_cut((20, 200), 9.0, enlarged=True) is None
    assert turned_cut((20, 200), 9.0) == (16.0, 2.0, 184.0, 18.0)
    with pytest.raises(ValueError, match="no enlarged rotation"):
        turned_windows(np.zeros((20, 200), np.uint8), (9.0,), enlarged=True)


def test_query_windows_come_image_by_image_each_with_its_mirrors(photos: list[Path]) -> None:
    with Image.open(photos[0]) as im:
        photo = im.convert("L").resize((240, 160))
    canvas = Image.new("L", (320, 300), 255)  # a letterbox: the photo is a content box
    canvas.paste(photo, (40, 70))
    names = query_windows(np.asarray(canvas)).variants
    fixed = ["full", "crop:08-08-08-08", "crop:00-00-00-24", "crop:00-00-12-24"]
    mirrors = ["mirror"] + [f"{w}-mirror" for w in fixed[1:]]
    subs = [n for n in names if n.startswith("sub:")]
    assert len(subs) == 7 and not any(n.endswith("-mirror") for n in subs)
    turns = ["turned:-9", "turned:-6", "turned:+6", "turned:+9"]
    # And the same turns cut from the picture an enlarged canvas would hold, with its place.
    enlarged = [n for n in names if n.startswith("turned:") and ":crop:" in n]
    assert [n.rpartition(":crop")[0] for n in enlarged] == turns
    assert enlarged[0] == "turned:-9:crop:12.86-12.86-13.75-13.75"
    # The box is named with its place: 41 px of 320 off each side, 71 of 300 (the edge dropped).
    boxes = ["box0:crop:12.81-12.81-23.67-23.67", "box0:crop:12.81-12.81-23.67-23.67-mirror"]
    assert names == fixed + mirrors + boxes + subs + turns + enlarged


def test_a_print_without_windows_is_empty_but_valid() -> None:
    empty = to_print(10, 20, Windows.none())
    assert empty.hashes == [] and empty.descriptors_b64 == "" and empty.descriptor == DESCRIPTOR
    flat = _jpeg(Image.new("L", (300, 200), 128))
    assert image_print(flat, max_pixels=MAX).hashes == []


def test_a_photo_inside_a_page_is_hashed_without_its_blended_edge(photos: list[Path]) -> None:
    # A screenshot-sized page decodes at 1/8: the photo is about 90 px wide there, and
    # the pixels on its edge average it with the page. Hashed with them, this copy's box
    # scores 0.902 against the reference, under the 0.94 a match needs; without, 0.993.
    photo = Image.open(photos[0]).convert("RGB")
    photo = photo.resize((700, round(700 * photo.height / photo.width)), Image.Resampling.LANCZOS)
    page = Image.new("RGB", (1366, 1100), (255, 255, 255))
    page.paste(photo, (44, 181))
    served = io.BytesIO()
    page.save(served, "JPEG", quality=80)
    query = image_print(served.getvalue(), max_pixels=MAX)
    reference = image_print(photos[0].read_bytes(), max_pixels=MAX, variants=REFERENCE)
    boxes = [
        i
        for i, h in enumerate(query.hashes)
        if h.variant.startswith("box0:") and not h.variant.endswith("-mirror")
    ]
    assert boxes, "the photo was not found inside the page"
    best = max(
        similarity(reference.descriptor_rows(), row).max() for row in query.descriptor_rows()[boxes]
    )
    assert best >= 0.985


def _page_with(photo: Image.Image, width: int) -> bytes:
    """A 1,366-px page screenshot: a header, text lines, and ``photo`` shown ``width`` px wide."""
    rng = np.random.default_rng(width)
    page = Image.new("RGB", (1366, 1100), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 1366, 70), fill=(30, 60, 120))
    for y in range(100, 1080, 26):
        x = 40 + int(rng.integers(0, 40))
        draw.text((x, y), "lorem ipsum dolor sit amet " * 4, fill=(30, 30, 30))
    shown = photo.resize((width, round(width * photo.height / photo.width)))
    draw.rectangle((600, 300, 620 + width, 320 + shown.height), fill=(255, 255, 255))
    page.paste(shown, (610, 310))
    out = io.BytesIO()
    page.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.mark.parametrize("width", [200, 320])
def test_a_picture_shown_small_in_a_page_gets_a_window_of_its_own(
    photos: list[Path], width: int
) -> None:
    # At 160 px (the copy's working size) the picture is 23 to 37 px wide and no box;
    # the page pass decodes the page again and hashes the picture from there.
    photo = Image.open(photos[2]).convert("RGB")
    reference = image_print(photos[2].read_bytes(), max_pixels=10**9, variants=REFERENCE)
    copy = image_print(_page_with(photo, width), max_pixels=10**9)
    best = max(
        similarity(reference.descriptor_rows(), copy.descriptor_rows()[q]).max()
        for q, h in enumerate(copy.hashes)
        if h.variant.startswith("box")
    )
    assert best >= 0.94


def test_a_large_jpeg_is_decoded_again_at_the_page_side_only_for_small_content(
    photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under twice the page pass's size a finer decoding would show nothing new; over it, only
    # content too small for the working image's own boxes on a uniform ground (a page's
    # pictures) is worth decoding again for. A PNG or WebP is decoded once whatever happens.
    calls: list[int] = []

    def counted(data: bytes, max_pixels: int, side: int) -> tuple[np.ndarray, int, int]:
        calls.append(side)
        return decode(data, max_pixels, side)

    monkeypatch.setattr(decode_module, "decode", counted)
    photo = Image.open(photos[2]).convert("RGB")

    def framed(size: tuple[int, int]) -> Image.Image:
        canvas = Image.new("RGB", size, (255, 255, 255))
        canvas.paste(photo.resize((size[0] // 2, size[1] // 2)), (size[0] // 4, size[1] // 4))
        return canvas

    png = io.BytesIO()
    Image.open(io.BytesIO(_page_with(photo, 200))).save(png, "PNG")
    cases = [
        (_page_with(photo, 200), [160, 640], True),  # a page's small picture
        (png.getvalue(), [640], True),  # the same page as a PNG
        (_jpeg(framed((1366, 1100))), [160], False),  # one picture, boxed whole already
        (_jpeg(photo.resize((1366, 1100))), [160], False),  # a photo: no uniform ground
        (_jpeg(framed((640, 440))), [160], False),  # under twice the page side
    ]
    for data, sides, paged in cases:
        calls.clear()
        printed = image_print(data, max_pixels=10**9)
        assert calls == sides
        assert any("-upper:" in h.variant for h in printed.hashes) == paged


def test_a_png_page_is_decoded_once_and_reduced_to_the_working_size(photos: list[Path]) -> None:
    photo = Image.open(photos[1]).convert("RGB")
    for size in ((1366, 1100), (1920, 1080), (4000, 2500), (900, 1300)):
        out = io.BytesIO()
        photo.resize(size).save(out, "PNG")
        data = out.getvalue()
        for wanted in (True, False):
            grey, fine, width, height = decode_with_fine(
                data, MAX, 160, 640, 1280, lambda _, wanted=wanted: wanted
            )
            assert (width, height) == size
            reference = decode(data, MAX, 640)[0]
            assert np.array_equal(fine, reference) if wanted else fine is None
            factor = max(reference.shape) // 160
            assert np.array_equal(grey, np.asarray(Image.fromarray(reference).reduce(factor)))
            assert 160 <= max(grey.shape) < 320


def test_a_pages_colour_comes_at_the_size_of_its_grey(photos: list[Path]) -> None:
    """Cb and Cr at the grey pixels' size (a JPEG at the same DCT scale, a PNG reduced alike);
    none for a picture without colour; transparency laid on white (no colour) as the grey."""
    photo = Image.open(photos[1]).convert("RGB")
    png = io.BytesIO()
    photo.resize((1500, 1000)).save(png, "PNG")
    for data in (
        _jpeg(photo.resize((1366, 1100))),
        _jpeg(photo.resize((5000, 3000))),
        png.getvalue(),
    ):
        grey = decode(data, MAX, 640)[0]
        chroma = decode_chroma(data, grey.shape)
        assert chroma is not None and chroma.shape == (*grey.shape, 2)
        assert chroma.dtype == np.uint8 and chroma.std() > 2
    # A red JPEG is red in the middle (Cr well over the neutral 128), at any scale.
    red = decode_chroma(_jpeg(Image.new("RGB", (1366, 1100), (200, 40, 40))), (138, 171))
    assert red is not None and red.shape == (138, 171, 2) and red[60, 80, 1] > 180
    assert decode_chroma(_jpeg(photo.convert("L")), (100, 100)) is None
    grey_png = io.BytesIO()
    photo.convert("L").save(grey_png, "PNG")
    assert decode_chroma(grey_png.getvalue(), (100, 100)) is None
    clear = io.BytesIO()
    Image.new("RGBA", (300, 200), (255, 0, 0, 0)).save(clear, "PNG")
    white = decode_chroma(clear.getvalue(), (200, 300))
    assert white is not None and np.abs(white.astype(int) - 128).max() <= 1
    assert decode_chroma(b"<html>", (10, 10)) is None


def test_a_jpeg_is_decoded_at_each_side_asked() -> None:
    data = _jpeg(Image.new("RGB", (1366, 1100), (200, 40, 90)))
    for wanted in (True, False):
        grey, fine, width, height = decode_with_fine(
            data, MAX, 160, 640, 1280, lambda _, wanted=wanted: wanted
        )
        assert (width, height) == (1366, 1100)
        assert np.array_equal(grey, decode(data, MAX, 160)[0])
        assert np.array_equal(fine, decode(data, MAX, 640)[0]) if wanted else fine is None
    small = _jpeg(Image.new("RGB", (1000, 700), (200, 40, 90)))
    grey, fine, _, _ = decode_with_fine(small, MAX, 160, 640, 1280, lambda _: True)
    assert fine is None and np.array_equal(grey, decode(small, MAX, 160)[0])
    with pytest.raises(Unfingerprintable, match="not a decodable image"):
        decode_with_fine(b"<html>", MAX, 160, 640, 1280, lambda _: True)
