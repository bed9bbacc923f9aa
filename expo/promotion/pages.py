"""The public promotion site of an expo, in the visitor's language (English text where no Chinese
was written):

- ``/expos/{slug}/invest``: the letter to investors, the promotional film and the six modules;
- ``/expos/{slug}/invest/{module}``: one module's sections;
- ``/expos/{slug}/invest/subtitles/{lang}.vtt``: the film's subtitles, for its ``<track>``;
- ``/expos/{slug}/invest/sitemap.xml``: the site's pages for search engines (one address per page:
  the language is the visitor's, not the URL's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.auth import current_user, platform
from expo.errors import N_, NotFound
from expo.expos import services as expos
from expo.http.pages import render
from expo.permissions import Perm, standing
from expo.promotion import services as promo

VTT_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def view_helpers() -> dict[str, Any]:
    return {"paragraphs": promo.paragraphs, "modules": promo.MODULES, "other": promo.OTHER}


async def site_page(request: Request) -> Response:
    """``/expos/{slug}/invest``: the letter, the film and the modules."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        site = await promo.site_of(session, expo)
        counts: dict[str, int] = {}
        for section in await promo.sections(session, expo):
            counts[section.module] = counts.get(section.module, 0) + 1
        editor = (await standing(session, await current_user(request), expo.id or 0)).has(Perm.CHANGE_EXPO)
    context = {"expo": expo, "site": site, "counts": counts, "editor": editor, **view_helpers()}
    return await render(request, "promotion/site.html", context)


async def module_page(request: Request) -> Response:
    """``/expos/{slug}/invest/{module}``: one module's sections."""
    key = request.path_params["module"]
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        module = promo.module(key)
        shown = await promo.sections(session, expo, key)
        editor = (await standing(session, await current_user(request), expo.id or 0)).has(Perm.CHANGE_EXPO)
    context = {"expo": expo, "module": module, "sections": shown, "editor": editor, **view_helpers()}
    return await render(request, "promotion/module.html", context)


async def subtitles(request: Request) -> Response:
    """``/expos/{slug}/invest/subtitles/{lang}.vtt``: WebVTT text, checked when it was uploaded."""
    field = promo.SUBTITLE_SLOTS.get(f"subtitles_{request.path_params['lang']}")
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        site = await promo.find_site(session, expo)
    text = getattr(site, field) if site is not None and field is not None else ""
    if not text:
        raise NotFound(N_("There is nothing at this address."), code="promotion.no_subtitles")
    return Response(text, media_type="text/vtt; charset=utf-8", headers=VTT_HEADERS)


def _lastmod(moments: list[datetime]) -> str:
    return f"<lastmod>{max(moments).date().isoformat()}</lastmod>" if moments else ""


async def sitemap(request: Request) -> Response:
    """``/expos/{slug}/invest/sitemap.xml``: the letter page and the six module pages."""
    settings = platform(request).settings
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        site = await promo.find_site(session, expo)
        changed: dict[str, list[datetime]] = {}
        for section in await promo.sections(session, expo):
            changed.setdefault(section.module, []).append(section.updated_at)
    home, *modules = promo.page_paths(expo.slug)
    entries = [(home, _lastmod([site.updated_at] if site else []))]
    entries += [
        (path, _lastmod(changed.get(m.key, []))) for path, m in zip(modules, promo.MODULES, strict=True)
    ]
    urls = "".join(f"<url><loc>{escape(settings.url(path))}</loc>{mod}</url>" for path, mod in entries)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    )
    return Response(body, media_type="application/xml")


ROUTES: list[BaseRoute] = [
    Route("/expos/{slug}/invest", site_page, methods=["GET"]),
    # Before the module pages: "sitemap.xml" is not a module.
    Route("/expos/{slug}/invest/sitemap.xml", sitemap, methods=["GET"]),
    Route("/expos/{slug}/invest/subtitles/{lang}.vtt", subtitles, methods=["GET"]),
    Route("/expos/{slug}/invest/{module}", module_page, methods=["GET"]),
]
