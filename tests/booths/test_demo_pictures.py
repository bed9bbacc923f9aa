"""The demo floor has pictures: after ``expo demo``'s set-up every demo booth has a logo and a
banner and every demo product a picture, served as images; a second set-up draws nothing again."""

from __future__ import annotations

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from booths.demo import BOOTHS, draw_pictures
from booths.demo_pictures import draw_logo, draw_product
from booths.models import Booth, BoothMedia, Product
from expo.demo import seed_demo


async def test_every_demo_booth_and_product_has_a_picture_served_as_an_image(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    platform = app.state.platform
    info = await seed_demo(platform.db, platform.settings)
    async with platform.db.session() as session:
        booths = (await session.exec(select(Booth).where(Booth.expo_id == info.expo.id))).all()
        products = (await session.exec(select(Product))).all()
        pictures = (
            await session.exec(select(BoothMedia).where(col(BoothMedia.product_id).is_not(None)))
        ).all()
    assert len(booths) == len(BOOTHS) and len(products) == sum(len(b.products) for b in BOOTHS)
    by_product = {m.product_id: m for m in pictures}
    names = [b.logo_path for b in booths] + [b.banner_path for b in booths]
    names += [by_product[p.id].name for p in products]
    assert None not in names
    for name in set(names):
        served = await client.get(f"/media/{name}")
        assert served.status_code == 200, name
        assert served.headers["content-type"] in ("image/png", "image/jpeg"), name
        assert len(served.content) < 200_000  # small files: the demo starts fast and pages load fast

    # The booth page and the floor show them.
    booth = booths[0]
    page = await client.get(f"/booths/{booth.id}", follow_redirects=True)
    assert f"/media/{booth.logo_path}" in page.text or f"/media/{booth.banner_path}" in page.text

    # Seeding again finds every place filled and draws nothing.
    async with platform.db.session() as session:
        assert (
            await draw_pictures(session, platform.settings, info.floor, info.users[next(iter(info.users))])
            == 0
        )
        again = (await session.exec(select(BoothMedia))).all()
    assert len(again) == len(pictures)


def test_pictures_are_drawn_the_same_from_the_same_names() -> None:
    assert draw_logo("Brightwave Lighting") == draw_logo("Brightwave Lighting")
    assert draw_logo("Brightwave Lighting") != draw_logo("Harbor Foods")
    assert draw_product("Lamp", "Brightwave") == draw_product("Lamp", "Brightwave")
