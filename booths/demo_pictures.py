"""Pictures for the demo floor, drawn with Pillow: a logo and a banner per booth, one picture per
product, so that the floor, booth pages and product pages of ``expo demo`` are not grey boxes.

Drawn from the names alone (colours from a hash, the booth's initials, the product's name and a
shape): the same name gives the same picture, nothing is downloaded, and the files go through
:func:`expo.uploads.store` and :mod:`booths.media` like an exhibitor's upload. Each picture is drawn
only when its place is empty, so a second ``expo demo`` starts without drawing anything.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import media
from booths.models import Booth, BoothMedia, Product
from expo.accounts.models import User
from expo.config import Settings
from expo.uploads import Received, Stored, store, uploads_dir

# Deep colours that carry white text at WCAG AA contrast.
PALETTE = ("#0b5cad", "#1e6b3f", "#8a3ffc", "#b3261e", "#00616e", "#7a4b00", "#a3195b", "#3b4a6b")
WHITE = (255, 255, 255)


def _pick(name: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}{name}".encode()).digest()[:4], "big")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def colour_of(name: str) -> tuple[int, int, int]:
    """The booth's colour, always the same for the same name."""
    return _rgb(PALETTE[_pick(name) % len(PALETTE)])


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def initials(name: str) -> str:
    letters = [word[0] for word in name.replace("&", " ").split() if word[:1].isalnum()]
    return "".join(letters[:2]).upper() or "?"


def _fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, size: int
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest font up to ``size`` in which ``text`` fits ``width``."""
    while size > 12:
        font = _font(size)
        if draw.textlength(text, font=font) <= width:
            return font
        size -= 4
    return _font(12)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def draw_logo(name: str) -> bytes:
    """A 256 px square PNG: the booth's initials, white on its colour, in a rounded square."""
    colour = colour_of(name)
    square = Image.new("RGB", (256, 256), colour)
    draw = ImageDraw.Draw(square)
    draw.ellipse((120, -90, 346, 136), fill=_mix(colour, WHITE, 0.18))
    draw.text((128, 134), initials(name), font=_font(112), fill=WHITE, anchor="mm")
    mask = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(mask).rounded_rectangle((8, 8, 248, 248), radius=48, fill=255)
    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    image.paste(square, (0, 0), mask)
    return _png(image)


def draw_banner(name: str, tagline: str) -> bytes:
    """A 1200 x 360 JPEG: a band of the booth's colour with shapes, its name and tagline."""
    colour = colour_of(name)
    dark = _mix(colour, (0, 0, 0), 0.35)
    image = Image.new("RGB", (1200, 360), colour)
    draw = ImageDraw.Draw(image)
    for x in range(1200):  # left to right, the colour darkens
        draw.line((x, 0, x, 360), fill=_mix(colour, dark, x / 1199))
    seed = _pick(name, "banner")
    for i in range(6):
        r = 60 + (seed >> (i * 3)) % 120
        cx = 620 + i * 110 + (seed >> i) % 60
        cy = (seed >> (i * 2)) % 360
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_mix(colour, WHITE, 0.08 + 0.04 * (i % 3)))
    draw.text((64, 150), name, font=_fit(draw, name, 760, 72), fill=WHITE, anchor="ls")
    draw.text(
        (66, 210), tagline, font=_fit(draw, tagline, 760, 34), fill=_mix(WHITE, colour, 0.15), anchor="ls"
    )
    return _jpeg(image)


def draw_product(name: str, booth_name: str) -> bytes:
    """An 800 x 600 JPEG: a shape in the booth's colour on a light ground, the product's name below."""
    colour = colour_of(booth_name)
    ground = _mix(colour, WHITE, 0.88)
    image = Image.new("RGB", (800, 600), ground)
    draw = ImageDraw.Draw(image)
    seed = _pick(name, "product")
    accent = _mix(colour, WHITE, 0.25 + (seed % 4) * 0.1)
    draw.ellipse((520, -120, 920, 280), fill=_mix(colour, WHITE, 0.75))
    shape = seed % 4
    box = (250, 110, 550, 410)
    if shape == 0:
        draw.ellipse(box, fill=colour)
        draw.ellipse((330, 190, 470, 330), fill=accent)
    elif shape == 1:
        draw.rounded_rectangle(box, radius=40, fill=colour)
        draw.rectangle((300, 160, 500, 200), fill=accent)
    elif shape == 2:
        draw.polygon([(400, 100), (560, 410), (240, 410)], fill=colour)
        draw.ellipse((360, 280, 440, 360), fill=accent)
    else:
        draw.regular_polygon((400, 260, 160), 6, fill=colour)
        draw.regular_polygon((400, 260, 70), 6, fill=accent)
    draw.text(
        (400, 520), name, font=_fit(draw, name, 720, 44), fill=_mix(colour, (0, 0, 0), 0.3), anchor="mm"
    )
    return _jpeg(image)


async def _stored(settings: Settings, data: bytes) -> Stored:
    """``data`` filed in the uploads directory as the editor's uploads are."""
    spool = uploads_dir(settings) / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    path = spool / f"demo-{secrets.token_hex(8)}.part"
    path.write_bytes(data)
    return await store(settings, Received(path=path, filename="demo", size=len(data)))


async def draw_booth_pictures(
    session: AsyncSession,
    settings: Settings,
    booth: Booth,
    tagline: str,
    product_names: Sequence[str],
    organizer: User,
) -> int:
    """Give ``booth`` a logo and a banner, and each of its products named in ``product_names`` a
    picture, where it has none yet; returns how many pictures were drawn."""
    drawn = 0
    if not booth.logo_path:
        await media.set_image(
            session, booth, await _stored(settings, draw_logo(booth.name)), organizer, "logo"
        )
        drawn += 1
    if not booth.banner_path:
        picture = await _stored(settings, draw_banner(booth.name, tagline))
        await media.set_image(session, booth, picture, organizer, "banner")
        drawn += 1
    products = await session.exec(
        select(Product).where(Product.booth_id == booth.id, col(Product.name).in_(product_names))
    )
    pictured = await session.exec(
        select(BoothMedia.product_id).where(
            BoothMedia.booth_id == booth.id, col(BoothMedia.product_id).is_not(None)
        )
    )
    have = set(pictured.all())
    for product in products.all():
        if product.id in have:
            continue
        picture = await _stored(settings, draw_product(product.name, booth.name))
        await media.add_media(session, booth, picture, organizer, title=product.name, product_id=product.id)
        drawn += 1
    return drawn
