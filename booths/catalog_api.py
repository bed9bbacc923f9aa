"""The catalogue import API of a booth.

- ``POST /api/booths/{id}/catalog`` (``text/csv`` body): imports and answers with the counts, as
  documented (a bad file: 422 with a ``details`` entry per bad line, nothing imported).
- ``POST /api/booths/{id}/catalog/imports``: the same file, answered at once (202) with an import
  whose progress ``GET /api/booths/{id}/catalog/imports/{import_id}`` reports, from any process.

Who may import is settled before a byte of the file is read, so a stranger's 60 MiB body is
answered 403 at once instead of being received first.
"""

from __future__ import annotations

from typing import Any, Literal

from starlette.requests import Request

from booths import catalog, services
from booths.catalog_jobs import CatalogImports, ImportProgress, import_in_thread
from expo.accounts.models import User
from expo.auth import platform
from expo.http.api import Endpoint, Schema, path_int
from expo.http.bodies import read_body

TAGS = ["expo floor"]
BOOTH = "/api/booths/{booth_id:int}"


class ImportOut(Schema):
    booths_created: int
    products_created: int
    categories_created: int


class ImportStatusOut(Schema):
    id: int
    status: Literal["checking", "writing", "done", "failed"]
    rows_done: int
    rows_total: int | None
    products_created: int
    # When failed: {"code", "message", "details": [{"line", "message"}, ...]}.
    error: dict[str, Any] | None
    url: str

    @classmethod
    def of(cls, progress: ImportProgress) -> ImportStatusOut:
        return cls(
            id=progress.id,
            status=progress.status.value,
            rows_done=progress.rows_done,
            rows_total=progress.rows_total,
            products_created=progress.products_created,
            error=progress.error,
            url=f"/api/booths/{progress.booth_id}/catalog/imports/{progress.id}",
        )


async def edited_booth_id(request: Request, user: User) -> int:
    """The id of the URL's booth, if ``user`` may edit it (404 when they may not even see it, else 403)."""
    booth_id = path_int(request, "booth_id")
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, booth_id, user)
        await services.require_booth_editor(session, booth, user)
    return booth_id


async def import_products(request: Request, user: User) -> ImportOut:
    """Upload a catalogue CSV for this booth (text/csv body; every row must name this booth)."""
    booth_id = await edited_booth_id(request, user)
    data = await read_body(request, catalog.MAX_FILE_BYTES)
    rows = await catalog.read_catalog(data)
    del data
    summary = await import_in_thread(platform(request).db.url, booth_id, rows, actor_id=user.id)
    return ImportOut(
        booths_created=summary.booths_created,
        products_created=summary.products_created,
        categories_created=summary.categories_created,
    )


async def start_import(request: Request, user: User) -> ImportStatusOut:
    """Upload a catalogue CSV to import in the background (text/csv body); poll the answer's url."""
    booth_id = await edited_booth_id(request, user)
    data = await read_body(request, catalog.MAX_FILE_BYTES)
    catalog.check_header(data)  # a file that is no catalogue is refused now, not as a failed job
    imports = platform(request).get(CatalogImports)
    import_id = await imports.start(booth_id, user.id, data)
    return ImportStatusOut.of(await imports.progress(import_id, booth_id))


async def import_status(request: Request, user: User) -> ImportStatusOut:
    """How far a background catalogue import of this booth got, and its result once finished."""
    booth_id = await edited_booth_id(request, user)
    imports = platform(request).get(CatalogImports)
    return ImportStatusOut.of(await imports.progress(path_int(request, "import_id"), booth_id))


ROUTES = [
    Endpoint(
        f"{BOOTH}/catalog",
        import_products,
        method="POST",
        auth="user",
        response=ImportOut,
        body_media="text/csv",
        tags=TAGS,
    ),
    Endpoint(
        f"{BOOTH}/catalog/imports",
        start_import,
        method="POST",
        auth="user",
        response=ImportStatusOut,
        status=202,
        body_media="text/csv",
        tags=TAGS,
    ),
    Endpoint(
        BOOTH + "/catalog/imports/{import_id:int}",
        import_status,
        auth="user",
        response=ImportStatusOut,
        tags=TAGS,
    ),
]
