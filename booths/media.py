"""A booth's media: logo and banner, and the pictures, brochures and videos on its booth and product
pages. The files themselves are stored by :mod:`expo.uploads`; this records who shows them where."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import services
from booths.models import Booth, BoothMedia, Product
from expo import audit
from expo.accounts.models import User
from expo.errors import N_, Invalid, NotFound
from expo.uploads import MediaKind, Stored

MAX_PER_BOOTH = 500


async def add_media(
    session: AsyncSession,
    booth: Booth,
    stored: Stored,
    actor: User,
    *,
    title: str = "",
    product_id: int | None = None,
) -> BoothMedia:
    """Show a stored file on the booth page (or on one of its products' pages)."""
    await services.require_booth_editor(session, booth, actor)
    assert booth.id is not None
    if product_id is not None:
        product = await session.get(Product, product_id)
        if product is None or product.booth_id != booth.id:
            raise NotFound(N_("This booth has no such product."), code="product.unknown")
        if stored.kind is not MediaKind.IMAGE:
            raise Invalid(N_("Products show images only."), code="upload.not_an_image")
    count = len((await session.exec(select(BoothMedia.id).where(BoothMedia.booth_id == booth.id))).all())
    if count >= MAX_PER_BOOTH:
        raise Invalid(N_("This booth has too many files; delete some first."), code="upload.too_many")
    media = BoothMedia(
        booth_id=booth.id,
        product_id=product_id,
        kind=stored.kind.value,
        name=stored.name,
        thumb_name=stored.thumb_name,
        content_type=stored.content_type,
        size=stored.size,
        title=title.strip()[:200],
    )
    session.add(media)
    await session.flush()
    audit.record(session, "booth.media_added", actor_id=actor.id, target=f"booth:{booth.id}", media=media.id)
    await session.commit()
    return media


async def set_image(session: AsyncSession, booth: Booth, stored: Stored, actor: User, slot: str) -> Booth:
    """Make a stored image the booth's ``logo`` or ``banner``."""
    await services.require_booth_editor(session, booth, actor)
    if stored.kind is not MediaKind.IMAGE:
        raise Invalid(N_("A logo or banner is an image."), code="upload.not_an_image")
    if slot not in ("logo", "banner"):
        raise Invalid(N_("Choose a logo or a banner."), code="upload.invalid_slot")
    audit.record(session, f"booth.{slot}_set", actor_id=actor.id, target=f"booth:{booth.id}")
    if slot == "logo":
        return await services.set_booth_media(session, booth, logo_path=stored.name)
    return await services.set_booth_media(session, booth, banner_path=stored.name)


async def list_media(session: AsyncSession, booth: Booth, product_id: int | None = None) -> list[BoothMedia]:
    """The booth's own media (``product_id`` ``None``) or one product's images, oldest first."""
    query = select(BoothMedia).where(BoothMedia.booth_id == booth.id)
    if product_id is None:
        query = query.where(col(BoothMedia.product_id).is_(None))
    else:
        query = query.where(BoothMedia.product_id == product_id)
    return list((await session.exec(query.order_by(col(BoothMedia.id)))).all())


async def first_images(session: AsyncSession, product_ids: list[int]) -> dict[int, BoothMedia]:
    """Each product's first image, for product cards."""
    if not product_ids:
        return {}
    query = (
        select(BoothMedia)
        .where(col(BoothMedia.product_id).in_(product_ids), BoothMedia.kind == MediaKind.IMAGE.value)
        .order_by(col(BoothMedia.id).desc())
    )
    return {m.product_id: m for m in (await session.exec(query)).all() if m.product_id is not None}


async def delete_media(session: AsyncSession, booth: Booth, media_id: int, actor: User) -> None:
    """Stop showing a file (the stored file stays: another booth may show the same bytes)."""
    await services.require_booth_editor(session, booth, actor)
    media = await session.get(BoothMedia, media_id)
    if media is None or media.booth_id != booth.id:
        raise NotFound(N_("This booth has no such file."), code="media.unknown")
    await session.delete(media)
    audit.record(
        session, "booth.media_deleted", actor_id=actor.id, target=f"booth:{booth.id}", media=media_id
    )
    await session.commit()
