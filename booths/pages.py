"""Visitor pages of the expo floor: the floor with search, booth pages, product pages, stored media,
favourites, and the inquiry and business-card forms.

Everything here is readable without JavaScript. Text from exhibitors is rendered through Jinja's
autoescaping only (never ``|safe``), so a description with ``<script>`` shows as text.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from booths import analytics, favourites, floor, leads, media, search, services
from booths.mail import BoothMailer
from booths.models import Booth, Category, FavouriteKind, Hall, Product
from expo import uploads
from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import N_, BadRequest, ExpoError, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.inputs import parse_id
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.i18n import country_choices
from expo.permissions import require_page_user
from expo.showcase import LiveListings

MEDIA_CACHE = "public, max-age=31536000, immutable"  # names are content hashes: they never change


def query_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise BadRequest(N_("A filter value is not valid."), code="floor.invalid_filter")
    return int(raw)


def view_helpers(locale: str) -> dict[str, Any]:
    """Template helpers bound to the reader's language."""
    return {
        "loc": partial(floor.localized, locale=locale),
        "price": partial(floor.price_range, locale=locale),
        "number": partial(floor.number, locale=locale),
        "country_name": partial(floor.country_name, locale=locale),
    }


async def _expo(session: AsyncSession, request: Request) -> Expo:
    return await expos.get_expo(session, request.path_params["slug"])


def booth_url(expo: Expo, booth_id: int) -> str:
    return f"/expos/{expo.slug}/booths/{booth_id}"


async def expos_index(request: Request) -> Response:
    """``/expos``: every expo, each a link to its floor."""
    locale = await page_locale(request)
    user = await current_user(request)
    listings = platform(request).get(LiveListings)
    async with platform(request).db.session() as session:
        expos = await floor.list_expos(session)
        live = await listings.live_now(session, user, locale=locale)
        coming = await listings.coming_up(session, user, locale=locale)
    return await render(request, "floor_index.html", {"expos": expos, "live": live, "coming": coming})


async def expo_floor(request: Request) -> Response:
    """``/expos/{slug}``: halls, the category tree, booth cards, and search with filters."""
    locale = await page_locale(request)
    q = request.query_params.get("q", "").strip()[:200]
    category_id, hall_id = query_int(request, "category"), query_int(request, "hall")
    page = query_int(request, "page") or 1
    country_raw = request.query_params.get("country", "").strip()
    user = await current_user(request)
    listings = platform(request).get(LiveListings)
    async with platform(request).db.session() as session:
        expo = await _expo(session, request)
        assert expo.id is not None
        live = await listings.live_now(session, user, expo_id=expo.id, locale=locale)
        coming = await listings.coming_up(session, user, expo_id=expo.id, locale=locale)
        halls = await services.list_halls(session, expo)
        categories = await services.list_categories(session, expo)
        if category_id is not None:
            await services.get_category(session, expo, category_id)
        if hall_id is not None:
            await services.get_hall(session, expo, hall_id)
        country = services.check_country(country_raw) if country_raw else None
        context: dict[str, Any] = {}
        if q:
            filters = search.Filters(category_id=category_id, hall_id=hall_id, country=country)
            found = await search.search(session, expo, q, filters=filters, page=page, lang=locale)
            owners = await floor.booths_by_id(session, {h.booth_id for h in found.items})
            context.update(
                hits=found.items, owners=owners, total=found.total, page_count=floor.pages(found.total)
            )
        elif category_id is not None:
            ids = floor.subtree(categories, category_id)
            total, products = await floor.browse_products(session, expo, ids, page)
            images = await media.first_images(session, [p.id for p, _ in products if p.id])
            context.update(products=products, images=images, total=total)
            context["page_count"] = floor.pages(total, floor.BROWSE_PAGE_SIZE)
        else:
            total, booths = await floor.browse_booths(
                session, expo, hall_id=hall_id, country=country, page=page
            )
            context.update(booths=booths, total=total, page_count=floor.pages(total, floor.BROWSE_PAGE_SIZE))
            shown = {b.id for b in booths if b.id is not None}
            context["live_booths"] = await listings.live_booths(session, user, expo.id, shown)
    kept = {"q": q, "category": category_id, "hall": hall_id, "country": country}
    query = urlencode({name: value for name, value in kept.items() if value})
    context.update(
        here=f"/expos/{expo.slug}?" + (query + "&" if query else ""),
        expo=expo,
        live=live,
        coming=coming,
        halls=halls,
        hall_names={h.id: floor.localized(h, "name", locale) for h in halls},
        tree=floor.category_tree(categories),
        q=q,
        category_id=category_id,
        hall_id=hall_id,
        country=country,
        countries=[code for code, _name in country_choices(locale)],  # by name, as its reader reads
        page=page,
        **view_helpers(locale),
    )
    return await render(request, "floor.html", context)


async def _booth_in(session: AsyncSession, request: Request, user: User | None) -> tuple[Expo, Booth]:
    expo = await _expo(session, request)
    booth = await services.get_booth(session, path_int(request, "booth_id"), user)
    if booth.expo_id != expo.id:
        raise NotFound(N_("There is nothing at this address."), code="booth.unknown")
    return expo, booth


async def booth_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """``/expos/{slug}/booths/{id}``: the booth's profile, products, media and contact forms."""
    user = await current_user(request)
    locale = await page_locale(request)
    page = query_int(request, "page") or 1
    p = platform(request)
    async with p.db.session() as session:
        expo, booth = await _booth_in(session, request, user)
        assert booth.id is not None
        total, products = await services.list_products(session, booth, page=page)
        files = await media.list_media(session, booth)
        images = await media.first_images(session, [x.id for x in products if x.id])
        hall = await session.get(Hall, booth.hall_id) if booth.hall_id else None
        favourite = await favourites.is_favourite(session, user, FavouriteKind.BOOTH, booth.id)
        card = await leads.visitor_card(session, user) if user is not None else None
        editor = await services.may_edit(session, booth, user)
        showcase = await p.get(LiveListings).for_booth(session, user, booth.id, locale=locale)
        if request.method == "GET" and status == 200:
            address = request.client.host if request.client else ""
            key = analytics.visitor_key(user, address, request.headers.get("user-agent", ""), p.secret)
            await analytics.record_view(session, booth, user, key)
    context: dict[str, Any] = {
        "expo": expo,
        "booth": booth,
        "hall": hall,
        "products": products,
        "product_total": total,
        "page": page,
        "page_count": floor.pages(total),
        "images": images,
        "files": files,
        "favourite": favourite,
        "card": card,
        "editor": editor,
        "showcase": showcase,
        "card_fields": leads.CARD_FIELDS,
        "back_to": booth_url(expo, booth.id),
        **view_helpers(locale),
    }
    context.update(extra or {})
    return await render(request, "booth.html", context, status=status)


async def booth_redirect(request: Request) -> Response:
    """``/booths/{id}``: short links (the watch page's) go to the booth's canonical address."""
    booth_id = path_int(request, "booth_id")
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, booth_id, await current_user(request))
        expo = await session.get(Expo, booth.expo_id)
    assert expo is not None
    return redirect(booth_url(expo, booth_id), status=301)


async def _product_in(
    session: AsyncSession, request: Request, user: User | None
) -> tuple[Expo, Product, Booth]:
    expo = await _expo(session, request)
    product, booth = await services.get_product(session, path_int(request, "product_id"), user)
    if product.expo_id != expo.id:
        raise NotFound(N_("There is nothing at this address."), code="product.unknown")
    return expo, product, booth


async def product_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """``/expos/{slug}/products/{id}``: images, description, price range, MOQ, category, inquiry."""
    user = await current_user(request)
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        expo, product, booth = await _product_in(session, request, user)
        assert product.id is not None
        category = await session.get(Category, product.category_id) if product.category_id else None
        images = await media.list_media(session, booth, product.id)
        favourite = await favourites.is_favourite(session, user, FavouriteKind.PRODUCT, product.id)
    context: dict[str, Any] = {
        "expo": expo,
        "product": product,
        "booth": booth,
        "category": category,
        "images": images,
        "favourite": favourite,
        "back_to": f"/expos/{expo.slug}/products/{product.id}",
        **view_helpers(locale),
    }
    context.update(extra or {})
    return await render(request, "product.html", context, status=status)


async def serve_media(request: Request) -> Response:
    """``/media/{name}``: a stored upload with its real type, never sniffed, cached for good."""
    name = request.path_params["name"]
    path = uploads.media_path(platform(request).settings, name)
    content_type = uploads.CONTENT_TYPES[name.rsplit(".", 1)[1]]
    headers = {
        "Cache-Control": MEDIA_CACHE,
        "X-Content-Type-Options": "nosniff",
        # Opened directly, a file is a document of its own: give it no script, no forms, no plugins.
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    }
    if content_type == "application/pdf":
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return FileResponse(path, media_type=content_type, headers=headers)


# Forms -----------------------------------------------------------------------------------------------------


async def send_inquiry(request: Request) -> Response:
    """The "contact exhibitor" form of a booth or product page."""
    form = await read_form(request)
    user = await require_page_user(request)
    product_raw = form_str(form, "product_id", max_length=12)
    product_id = parse_id(product_raw)
    message = form_str(form, "message", max_length=leads.MAX_MESSAGE)
    async with platform(request).db.session() as session:
        expo, booth = await _booth_in(session, request, user)
        try:
            mailer = BoothMailer(platform(request).settings)
            await leads.send_inquiry(session, booth, user, message, product_id, mailer)
        except ExpoError as exc:
            return await _failed(request, exc, product_id, {"message": message})
    assert booth.id is not None
    target = f"/expos/{expo.slug}/products/{product_id}" if product_id else booth_url(expo, booth.id)
    response = redirect(target + "#contact")
    flash(response, request, N_("Your message was sent to the exhibitor."), "success")
    return response


async def _failed(
    request: Request, error: ExpoError, product_id: int | None, values: dict[str, str]
) -> Response:
    extra = {"form_error": error.message, "form_values": values}
    if product_id is not None:
        request.path_params["product_id"] = product_id
        return await product_page(request, extra, status=error.status)
    return await booth_page(request, extra, status=error.status)


async def exchange_card(request: Request) -> Response:
    """The "exchange business card" form: the visitor ticks what to share."""
    form = await read_form(request)
    user = await require_page_user(request)
    share = [v for v in form.getlist("share") if isinstance(v, str)][: len(leads.CARD_FIELDS)]
    values = {name: form_str(form, name, max_length=200) for name in ("company", "job_title", "phone")}
    async with platform(request).db.session() as session:
        expo, booth = await _booth_in(session, request, user)
        try:
            mailer = BoothMailer(platform(request).settings)
            await leads.exchange_card(session, booth, user, share, **values, mailer=mailer)
        except ExpoError as exc:
            return await _failed(request, exc, None, values)
    assert booth.id is not None
    response = redirect(booth_url(expo, booth.id) + "#card")
    flash(response, request, N_("Your business card was left at the booth."), "success")
    return response


async def toggle_favourite(request: Request) -> Response:
    """Add or remove a booth or product from the user's favourites, then go back."""
    form = await read_form(request)
    user = await require_page_user(request)
    kind = FavouriteKind.PRODUCT if "product_id" in request.path_params else FavouriteKind.BOOTH
    target = path_int(request, "product_id" if kind is FavouriteKind.PRODUCT else "booth_id")
    on = form_str(form, "on", max_length=1) == "1"
    async with platform(request).db.session() as session:
        expo = await _expo(session, request)
        await favourites.set_favourite(session, user, kind, target, on)
    path = "products" if kind is FavouriteKind.PRODUCT else "booths"
    response = redirect(f"/expos/{expo.slug}/{path}/{target}")
    flash(response, request, N_("Added to your favourites.") if on else N_("Removed from your favourites."))
    return response


async def favourites_page(request: Request) -> Response:
    """``/favourites``: the booths and products the user bookmarked."""
    user = await require_page_user(request)
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        booths, products = await favourites.list_favourites(session, user)
        expos = {
            e.id: e
            for e in [
                await session.get(Expo, i)
                for i in {b.expo_id for b in booths} | {p.expo_id for p, _ in products}
            ]
            if e is not None
        }
    context = {"booths": booths, "products": products, "expos": expos, **view_helpers(locale)}
    return await render(request, "favourites.html", context)


ROUTES: list[BaseRoute] = [
    Route("/expos", expos_index, methods=["GET"]),
    Route("/expos/{slug}", expo_floor, methods=["GET"]),
    Route("/expos/{slug}/booths/{booth_id:int}", booth_page, methods=["GET"]),
    Route("/expos/{slug}/booths/{booth_id:int}/inquiry", send_inquiry, methods=["POST"]),
    Route("/expos/{slug}/booths/{booth_id:int}/card", exchange_card, methods=["POST"]),
    Route("/expos/{slug}/booths/{booth_id:int}/favourite", toggle_favourite, methods=["POST"]),
    Route("/expos/{slug}/products/{product_id:int}", product_page, methods=["GET"]),
    Route("/expos/{slug}/products/{product_id:int}/favourite", toggle_favourite, methods=["POST"]),
    Route("/booths/{booth_id:int}", booth_redirect, methods=["GET"]),
    Route("/media/{name}", serve_media, methods=["GET"]),
    Route("/favourites", favourites_page, methods=["GET"]),
]
