"""Background catalogue imports: the booth editor's progress page, the result it ends on, and an
import cut short by the server stopping, which leaves nothing behind."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import httpx
from sqlmodel import func, select
from starlette.applications import Starlette

from booths.catalog_jobs import STALE_AFTER, CatalogImports
from booths.models import Booth, CatalogImport, ImportStatus, Product
from expo.db import utcnow
from tests.booths.web import add_owner, browser, floor_of, make_account, post_form

HEADER = "booth,product,description,category,price_min,price_max,currency,moq\n"


def catalogue(booth: str, rows: int) -> bytes:
    return (HEADER + "".join(f"{booth},Lantern {i},Paper and bamboo,,,,,\n" for i in range(rows))).encode()


async def products(app: Starlette, booth: Booth) -> int:
    async with app.state.platform.db.session() as session:
        count = select(func.count()).select_from(Product).where(Product.booth_id == booth.id)
        return int((await session.exec(count)).one())


async def page_until_finished(ex: httpx.AsyncClient, url: str) -> str:
    """The import page once it shows a result (what catalog_import.js does: reload until then)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = await ex.get(url)
        assert page.status_code == 200, page.text
        if 'id="import-progress"' not in page.text:
            return page.text
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def test_a_long_import_shows_its_progress_page_then_the_result(app: Starlette) -> None:
    imports = app.state.platform.get(CatalogImports)
    imports.answer_within = 0  # as if every file took longer than the upload waits
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    await add_owner(app, booth, await make_account(app, "me@example.com", "exhibitor"))
    page, action = f"/booths/{booth.id}/products", f"/booths/{booth.id}/catalog"
    before = await products(app, booth)
    async with browser(app, "me@example.com") as ex:
        files = {"file": ("cat.csv", catalogue(booth.name, 1500), "text/csv")}
        started = await post_form(ex, page, action, files=files)
        assert started.status_code == 303, started.text
        url = started.headers["location"]
        assert re.fullmatch(rf"/booths/{booth.id}/catalog/imports/\d+", url)
        running = await ex.get(url)
        assert running.status_code == 200
        assert "/static/js/catalog_import.js" in running.text or "import-done" in running.text
        finished = await page_until_finished(ex, url)
        assert 'id="import-done"' in finished and "1500 products" in finished
        assert "/static/js/catalog_import.js" not in finished  # nothing left to poll

        bad = HEADER + "Lumen Works,Kite,,,,,,\nLumen Works,Fan,,,5,1,USD,\n"
        started = await post_form(ex, page, action, files={"file": ("bad.csv", bad.encode(), "text/csv")})
        failed = await page_until_finished(ex, started.headers["location"])
        assert 'id="import-error"' in failed and "Line 3:" in failed
    assert await products(app, booth) == before + 1500


async def test_a_short_import_is_still_answered_in_the_same_request(app: Starlette) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    await add_owner(app, booth, await make_account(app, "me@example.com", "exhibitor"))
    async with browser(app, "me@example.com") as ex:
        files = {"file": ("cat.csv", catalogue(booth.name, 3), "text/csv")}
        done = await post_form(ex, f"/booths/{booth.id}/products", f"/booths/{booth.id}/catalog", files=files)
    assert done.status_code == 303 and done.headers["location"] == f"/booths/{booth.id}/products"
    assert done.headers["x-products-created"] == "3"


async def test_stopping_the_server_mid_import_leaves_nothing_and_says_so(app: Starlette) -> None:
    imports = app.state.platform.get(CatalogImports)
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    before = await products(app, booth)
    assert booth.id is not None
    import_id = await imports.start(booth.id, None, catalogue(booth.name, 20_000))
    deadline = time.monotonic() + 30
    while (await imports.progress(import_id, booth.id)).rows_done == 0:  # some batches are written
        assert time.monotonic() < deadline, "the import never started writing"
        await asyncio.sleep(0.01)
    await imports.stop()
    progress = await imports.progress(import_id, booth.id)
    assert progress.status is ImportStatus.FAILED and progress.products_created == 0
    assert progress.error is not None and progress.error["code"] == "catalog.interrupted"
    # The worker thread rolls back at its next batch.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with app.state.platform.db.session() as session:
            job = await session.get(CatalogImport, import_id)
        if job is not None and await products(app, booth) == before:
            break
        await asyncio.sleep(0.05)
    assert await products(app, booth) == before


async def test_an_import_whose_process_died_is_reported_failed(app: Starlette) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    assert booth.id is not None
    async with app.state.platform.db.session() as session:
        orphan = CatalogImport(booth_id=booth.id, status="writing", rows_total=10)
        orphan.created_at = utcnow() - STALE_AFTER - timedelta(minutes=1)
        recent = CatalogImport(booth_id=booth.id, status="writing", rows_total=10)
        session.add_all([orphan, recent])
        await session.commit()
    assert orphan.id is not None and recent.id is not None
    imports = app.state.platform.get(CatalogImports)
    gone = await imports.progress(orphan.id, booth.id)
    assert gone.status is ImportStatus.FAILED and gone.error is not None
    assert gone.error["code"] == "catalog.interrupted"
    assert (await imports.progress(recent.id, booth.id)).status is ImportStatus.WRITING
