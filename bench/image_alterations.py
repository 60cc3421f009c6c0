"""The altered copies of a photo that the quality benchmark queries with.

Each alteration is what a web copy goes through: resizing, recompression,
cropping, letterboxing, being shown inside a page, mirroring, a slight
rotation, colour changes, overlays and frames. Every function takes the source
photo (RGB) and a seeded random generator, so a run is reproducible and each
work gets its own crop sides, angle and sign, and returns the encoded bytes a
website would serve.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

WEB_WIDTH = 1280
_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
_FONT_REGULAR = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_WORDS = [
    "новости",
    "культура",
    "фото",
    "автор",
    "права",
    "сайт",
    "галерея",
    "обои",
    "природа",
    "город",
    "архив",
    "жаңалықтар",
    "мәдениет",
    "сурет",
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
]


@dataclass(frozen=True)
class Alteration:
    """A named way to alter a photo: ``apply(rgb, rng)`` returns the served bytes."""

    name: str
    apply: Callable[[Image.Image, np.random.Generator], bytes]


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def web(image: Image.Image, width: int = WEB_WIDTH) -> Image.Image:
    """Resized to ``width`` pixels wide (never enlarged), as a page shows it."""
    if image.width <= width:
        return image
    return image.resize(
        (width, round(width * image.height / image.width)), Image.Resampling.LANCZOS
    )


def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_FONT if bold else _FONT_REGULAR), size)


def _resize(image: Image.Image, rng: np.random.Generator) -> bytes:
    w, h = image.size
    return jpeg(image.resize((round(w * 0.3), round(h * 0.3)), Image.Resampling.LANCZOS))


def _jpeg_q30(image: Image.Image, rng: np.random.Generator) -> bytes:
    return jpeg(web(image), 30)


def _webp(image: Image.Image, rng: np.random.Generator) -> bytes:
    out = io.BytesIO()
    web(image).save(out, "WEBP", quality=70)
    return out.getvalue()


def _crop(share: float) -> Callable[[Image.Image, np.random.Generator], bytes]:
    """Cut ``share`` of the width and of the height, split at random between the two sides."""

    def apply(image: Image.Image, rng: np.random.Generator) -> bytes:
        w, h = image.size
        left, top = rng.uniform(0, share) * w, rng.uniform(0, share) * h
        box = (round(left), round(top), round(left + (1 - share) * w), round(top + (1 - share) * h))
        return jpeg(web(image.crop(box)))

    return apply


def _pad(image: Image.Image, rng: np.random.Generator) -> bytes:
    """Letterbox (bars above and below) or padding on all sides, 20% of the size, one colour."""
    image = web(image, 1024)
    w, h = image.size
    colour = tuple(int(c) for c in rng.choice([(0, 0, 0), (255, 255, 255), (32, 32, 40)]))
    if rng.random() < 0.5:
        canvas = Image.new("RGB", (w, round(h * 1.2)), colour)
        canvas.paste(image, (0, round(h * 0.1)))
    else:
        canvas = Image.new("RGB", (round(w * 1.2), round(h * 1.2)), colour)
        canvas.paste(image, (round(w * 0.1), round(h * 0.1)))
    return jpeg(canvas)


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(str(w) for w in rng.choice(_WORDS, size=n))


def page_canvas(
    image: Image.Image, rng: np.random.Generator, photo_width: int | None = None
) -> Image.Image:
    """A screenshot-like news page: header, menu, sidebar, text and the photo in the column
    (``photo_width`` px wide; by default 640 to 859)."""
    page_w, page_h = 1366, 1100
    page = Image.new("RGB", (page_w, page_h), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    header = tuple(int(c) for c in rng.integers(0, 200, 3))
    draw.rectangle((0, 0, page_w, 70), fill=header)
    draw.text((30, 18), _words(rng, 2).upper(), font=font(30), fill=(255, 255, 255))
    for i in range(6):
        draw.text((30 + i * 150, 85), _words(rng, 1), font=font(16, False), fill=(40, 40, 160))
    draw.line((0, 115, page_w, 115), fill=(200, 200, 200), width=2)
    column_x = 40
    draw.text((column_x, 130), _words(rng, 6), font=font(28), fill=(20, 20, 20))
    photo_w = int(rng.integers(640, 860)) if photo_width is None else photo_width
    photo = image.resize(
        (photo_w, round(photo_w * image.height / image.width)), Image.Resampling.LANCZOS
    )
    photo_y = 180
    page.paste(photo, (column_x, photo_y))
    y = photo_y + photo.height + 10
    draw.text((column_x, y), _words(rng, 8), font=font(14, False), fill=(110, 110, 110))
    y += 30
    while y < page_h - 30:
        draw.text((column_x, y), _words(rng, 12), font=font(17, False), fill=(30, 30, 30))
        y += 26
    side_x = column_x + 880
    for i in range(8):
        top = 140 + i * 110
        box_colour = tuple(int(c) for c in rng.integers(150, 250, 3))
        draw.rectangle((side_x, top, side_x + 100, top + 80), fill=box_colour)
        draw.text((side_x + 110, top + 5), _words(rng, 3), font=font(15), fill=(20, 20, 20))
        draw.text((side_x + 110, top + 30), _words(rng, 3), font=font(13, False), fill=(90, 90, 90))
    return page


def _page(image: Image.Image, rng: np.random.Generator) -> bytes:
    return jpeg(page_canvas(image, rng))


def _mirror(image: Image.Image, rng: np.random.Generator) -> bytes:
    return jpeg(ImageOps.mirror(web(image)))


def _rotate(image: Image.Image, rng: np.random.Generator) -> bytes:
    """3–5° either way, the size kept, black corners (as a scan or a tilted repost has)."""
    angle = float(rng.uniform(3, 5) * rng.choice([-1, 1]))
    return jpeg(web(image).rotate(angle, Image.Resampling.BICUBIC, expand=False))


def _grayscale(image: Image.Image, rng: np.random.Generator) -> bytes:
    return jpeg(web(image).convert("L"))


def _brightness(image: Image.Image, rng: np.random.Generator) -> bytes:
    factor = 1 + 0.25 * float(rng.choice([-1, 1]))
    return jpeg(ImageEnhance.Brightness(web(image)).enhance(factor))


def _contrast(image: Image.Image, rng: np.random.Generator) -> bytes:
    factor = 1 + 0.25 * float(rng.choice([-1, 1]))
    return jpeg(ImageEnhance.Contrast(web(image)).enhance(factor))


def _overlay(image: Image.Image, rng: np.random.Generator) -> bytes:
    """A caption across the lower part and a site logo in a corner."""
    image = web(image).convert("RGBA")
    w, h = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, h // 12)
    text = f"© {_words(rng, 1)}.ru — {_words(rng, 2)}"
    draw.text((w * 0.05, h * 0.78), text, font=font(size), fill=(255, 255, 255, 200))
    logo_w, logo_h = int(w * 0.16), int(h * 0.09)
    corner_x = int(rng.choice([w * 0.02, w * 0.98 - logo_w]))
    draw.rounded_rectangle(
        (corner_x, h * 0.03, corner_x + logo_w, h * 0.03 + logo_h),
        radius=logo_h // 4,
        fill=(200, 30, 30, 220),
    )
    draw.text(
        (corner_x + logo_w * 0.1, h * 0.03 + logo_h * 0.2),
        "LOGO",
        font=font(int(logo_h * 0.55)),
        fill=(255, 255, 255, 255),
    )
    return jpeg(Image.alpha_composite(image, layer))


def _frame(image: Image.Image, rng: np.random.Generator) -> bytes:
    """A 6% passe-partout in one colour with a thin line around the photo."""
    image = web(image, 1100)
    w, h = image.size
    border = round(0.06 * max(w, h))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    framed = Image.new("RGB", (w + 2 * border, h + 2 * border), colour)
    framed.paste(image, (border, border))
    ImageDraw.Draw(framed).rectangle(
        (border - 4, border - 4, border + w + 3, border + h + 3), outline=(20, 20, 20), width=2
    )
    return jpeg(framed)


ALTERATIONS: tuple[Alteration, ...] = (
    Alteration("resize_0.3", _resize),
    Alteration("jpeg_q30", _jpeg_q30),
    Alteration("webp", _webp),
    Alteration("crop_5", _crop(0.05)),
    Alteration("crop_10", _crop(0.10)),
    Alteration("crop_25", _crop(0.25)),
    Alteration("pad_20", _pad),
    Alteration("page_canvas", _page),
    Alteration("mirror", _mirror),
    Alteration("rotate_3-5", _rotate),
    Alteration("grayscale", _grayscale),
    Alteration("brightness_25", _brightness),
    Alteration("contrast_25", _contrast),
    Alteration("overlay", _overlay),
    Alteration("frame", _frame),
)


def _crop_keep(area: float) -> Callable[[Image.Image, np.random.Generator], bytes]:
    """Keep ``area`` of the picture: a box of random proportions (each side 65-92% of the
    picture's) at a random place, as a repost that cuts a detail out does."""

    def apply(image: Image.Image, rng: np.random.Generator) -> bytes:
        w, h = image.size
        keep_w = float(rng.uniform(max(area, 0.65), min(1.0, area / 0.65)))
        keep_h = area / keep_w
        cw, ch = round(keep_w * w), round(keep_h * h)
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return jpeg(web(image.crop((left, top, left + cw, top + ch))))

    return apply


def _rotate_far(image: Image.Image, rng: np.random.Generator) -> bytes:
    """5-10° either way, the size kept, the corners white or black (a tilted photo on a page)."""
    angle = float(rng.uniform(5, 10) * rng.choice([-1, 1]))
    fill = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    return jpeg(web(image).rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=fill))


def _rotate_enlarged(image: Image.Image, rng: np.random.Generator) -> bytes:
    """5-10° either way on a canvas enlarged to hold the whole picture, white corners (a tilted
    photo reposted whole: the copy's proportions are not the picture's)."""
    angle = float(rng.uniform(5, 10) * rng.choice([-1, 1]))
    turned = web(image).rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    return jpeg(turned)


def _page_small(image: Image.Image, rng: np.random.Generator) -> bytes:
    """The picture shown 120-400 px wide in a 1,366-px page screenshot."""
    return jpeg(page_canvas(image, rng, photo_width=int(rng.integers(120, 401))))


def _texture(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Another picture for a collage: smooth coloured noise (blobs of colour, like a photo's)."""
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def _banner(image: Image.Image, rng: np.random.Generator) -> bytes:
    """A 1,280-px banner or collage: the picture 150-300 px tall among two or three other
    pictures and a headline, on one colour."""
    width, height = 1280, 380
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    banner = Image.new("RGB", (width, height), colour)
    tall = int(rng.integers(150, 301))
    wide = min(width - 40, max(1, round(tall * image.width / image.height)))
    photo = image.resize((wide, tall), Image.Resampling.LANCZOS)
    tiles = [_texture(rng, (int(rng.integers(120, 300)), int(rng.integers(120, 300))))]
    tiles += [_texture(rng, (int(rng.integers(120, 300)), int(rng.integers(120, 300))))]
    tiles.insert(int(rng.integers(3)), photo)
    gaps = [int(rng.integers(15, 60)) for _ in tiles]
    while sum(t.width for t in tiles) + sum(gaps) + 20 > width:  # others make room for it
        gaps.pop()
        tiles.remove(next(t for t in tiles if t is not photo))
    x = 20
    for tile, gap in zip(tiles, gaps, strict=True):
        banner.paste(tile, (x, int(rng.integers(10, height - tile.height - 9))))
        x += tile.width + gap
    draw = ImageDraw.Draw(banner)
    draw.text((30, height - 50), _words(rng, 4).upper(), font=font(28), fill=(255, 255, 255))
    return jpeg(banner)


# Alterations of the unseen set's floors (the detection issue), reported in every split:
# deeper crops, larger rotations, pictures shown small inside a page or a banner.
HARD_ALTERATIONS: tuple[Alteration, ...] = (
    Alteration("crop_keep60", _crop_keep(0.60)),
    Alteration("rotate_5-10", _rotate_far),
    Alteration("page_120-400", _page_small),
    Alteration("banner", _banner),
    # Last: each alteration's copies are drawn from a seed of its place in the list.
    Alteration("rotate_wide_5-10", _rotate_enlarged),
)
