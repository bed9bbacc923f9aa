"""The booth editor's products: the list, a form per product (text in each of the expo's languages,
price range, currency, MOQ, category, tags, images), deletion, and the CSV catalogue upload with its
per-line error report."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import floor, media, services
from booths.catalog_jobs import CatalogImports, ImportProgress
from booths.editor_pages import checked, editable_booth, editor_url, translations_from
from booths.models import Booth, Product
from booths.pages import query_int
from booths.services import ProductFields, parse_price
from expo import uploads
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid, NotFound
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.permissions import require_page_user

PRODUCT_TEXT = ("name", "description")


def hundredths(raw: str, what: str) -> int | None:
    """A typed price in hundredths (see :func:`booths.services.parse_price`), naming the field
    when it is refused."""
    try:
        return parse_price(raw)
    except Invalid as exc:
        raise Invalid(exc.message, code=exc.code, field=what) from None


def product_fields(form: FormData, expo: Expo) -> ProductFields:
    moq = form_str(form, "moq", max_length=12)
    if moq and not moq.isdigit():
        raise Invalid(N_("The minimum order is a whole number."), code="product.invalid_moq")
    category = form_str(form, "category_id", max_length=12)
    tags = [t.strip() for t in form_str(form, "tags", max_length=2000).split(",") if t.strip()]
    data: dict[str, Any] = {
        "name": form_str(form, "name", max_length=200),
        "description": form_str(form, "description", max_length=20000),
        "translations": translations_from(form, expo, PRODUCT_TEXT),
        "category_id": int(category) if category.isdigit() else None,
        "price_min": hundredths(form_str(form, "price_min", max_length=20), "price_min"),
        "price_max": hundredths(form_str(form, "price_max", max_length=20), "price_max"),
        "currency": form_str(form, "currency", max_length=3).upper() or None,
        "moq": int(moq) if moq else None,
        "tags": tags,
    }
    return checked(ProductFields, data)


def price_text(value: int | None) -> str:
    return "" if value is None else f"{Decimal(value) / 100:.2f}"


async def products_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    locale = await page_locale(request)
    page = query_int(request, "page") or 1
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        total, products = await services.list_products(session, booth, page=page)
        categories = await services.list_categories(session, expo)
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "products": products,
        "total": total,
        "page": page,
        "page_count": floor.pages(total),
        "tree": floor.category_tree(categories),
        "tab": "products",
        # A new product starts in the currency the booth used last (USD for its first).
        "values": {"currency": next((p.currency for p in products if p.currency), "USD")},
        "price": lambda p: floor.price_range(p, locale),
        "loc": lambda obj, name: floor.localized(obj, name, locale),
    }
    context.update(extra or {})
    return await render(request, "editor_products.html", context, status=status)


async def list_products(request: Request) -> Response:
    user = await require_page_user(request)
    return await products_page(request, user)


async def create_product(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        async with platform(request).db.session() as session:
            booth, expo = await editable_booth(session, request, user)
            product = await services.create_product(session, booth, product_fields(form, expo), user)
    except ExpoError as exc:
        return await products_page(request, user, {"form_error": exc.message, "values": values}, exc.status)
    response = redirect(editor_url(path_int(request, "booth_id"), f"products/{product.id}"))
    flash(response, request, N_("The product was added. Add pictures of it below."), "success")
    return response


async def _product_of_booth(
    session: AsyncSession, request: Request, user: User
) -> tuple[Booth, Expo, Product]:
    booth, expo = await editable_booth(session, request, user)
    product = await session.get(Product, path_int(request, "product_id"))
    if product is None or product.booth_id != booth.id:
        raise NotFound(N_("This booth has no such product."), code="product.unknown")
    return booth, expo, product


async def product_form_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        booth, expo, product = await _product_of_booth(session, request, user)
        categories = await services.list_categories(session, expo)
        images = await media.list_media(session, booth, product.id)
    values: dict[str, str] = {
        "name": product.name,
        "description": product.description,
        "category_id": str(product.category_id or ""),
        "price_min": price_text(product.price_min),
        "price_max": price_text(product.price_max),
        "currency": product.currency or "",
        "moq": str(product.moq or ""),
        "tags": ", ".join(product.tags),
    }
    for lang, texts in (product.translations or {}).items():
        for name in PRODUCT_TEXT:
            values[f"{name}_{lang}"] = str(texts.get(name) or "")
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "product": product,
        "images": images,
        "tree": floor.category_tree(categories),
        "tab": "products",
        "values": values,
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
    }
    if extra and "values" in extra:
        context["values"] = {**values, **extra.pop("values")}
    context.update(extra or {})
    return await render(request, "editor_product.html", context, status=status)


async def edit_product(request: Request) -> Response:
    user = await require_page_user(request)
    return await product_form_page(request, user)


async def save_product(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        async with platform(request).db.session() as session:
            booth, expo, product = await _product_of_booth(session, request, user)
            await services.update_product(session, product, booth, product_fields(form, expo), user)
    except ExpoError as exc:
        if exc.status == 404:
            raise
        return await product_form_page(
            request, user, {"form_error": exc.message, "values": values}, exc.status
        )
    response = redirect(
        editor_url(path_int(request, "booth_id"), f"products/{path_int(request, 'product_id')}")
    )
    flash(response, request, N_("The product was saved."), "success")
    return response


async def delete_product(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        booth, _, product = await _product_of_booth(session, request, user)
        await services.delete_product(session, product, booth, user)
    response = redirect(editor_url(path_int(request, "booth_id"), "products"))
    flash(response, request, N_("The product was deleted."), "success")
    return response


async def import_catalog(request: Request) -> Response:
    """The CSV catalogue upload: every row checked first, a per-line report, nothing half-imported.

    The import runs in the background (:class:`~booths.catalog_jobs.CatalogImports`); a file
    imported within :attr:`~booths.catalog_jobs.CatalogImports.answer_within` seconds is answered
    here as it always was, a longer one with its progress page.
    """
    user = await require_page_user(request)
    p = platform(request)
    # Who may import is checked before the body is read: a stranger's 20 MiB never reaches the disk.
    async with p.db.session() as session:
        booth, _ = await editable_booth(session, request, user)
    assert booth.id is not None
    imports = p.get(CatalogImports)
    received: uploads.Received | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        assert received.path is not None
        data = await asyncio.to_thread(received.path.read_bytes)
        await received.discard()
        import_id = await imports.start(booth.id, user.id, data)
    except ExpoError as exc:
        if received is not None:
            await received.discard()
        return await products_page(request, user, {"import_error": exc.message}, status=exc.status)
    await imports.wait(import_id, imports.answer_within)
    progress = await imports.progress(import_id, booth.id)
    if not progress.finished:
        return redirect(editor_url(booth.id, f"catalog/imports/{import_id}"))
    return await _import_result(request, user, progress)


async def _import_result(request: Request, user: User, progress: ImportProgress) -> Response:
    """A finished import: back to the products with a flash, or the products page with the report."""
    if progress.error is not None:
        extra = {
            "import_error": progress.error["message"],
            "import_details": progress.error.get("details", []),
        }
        return await products_page(request, user, extra, status=422)
    response = redirect(editor_url(progress.booth_id, "products"))
    flash(response, request, N_("The catalogue was imported."), "success")
    response.headers["X-Products-Created"] = str(progress.products_created)
    return response


async def import_page(request: Request) -> Response:
    """A catalogue import under way (its progress, polled by catalog_import.js), or its result."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
    assert booth.id is not None
    progress = await platform(request).get(CatalogImports).progress(path_int(request, "import_id"), booth.id)
    context = {"booth": booth, "expo": expo, "tab": "products", "progress": progress}
    return await render(request, "editor_catalog_import.html", context)


ROUTES: list[BaseRoute] = [
    Route("/booths/{booth_id:int}/products", list_products, methods=["GET"]),
    Route("/booths/{booth_id:int}/products", create_product, methods=["POST"]),
    Route("/booths/{booth_id:int}/products/{product_id:int}", edit_product, methods=["GET"]),
    Route("/booths/{booth_id:int}/products/{product_id:int}", save_product, methods=["POST"]),
    Route("/booths/{booth_id:int}/products/{product_id:int}/delete", delete_product, methods=["POST"]),
    Route("/booths/{booth_id:int}/catalog", import_catalog, methods=["POST"]),
    Route("/booths/{booth_id:int}/catalog/imports/{import_id:int}", import_page, methods=["GET"]),
]
