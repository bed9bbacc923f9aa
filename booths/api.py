"""Expo floor API: search, reading halls, categories, booths and products, and writing them.

Reads are public for approved booths (their staff and organizers also see pending ones). Writes
need a signed-in user; :mod:`booths.services` decides who may do what (401 signed out, 403 not
allowed, 404 for a booth the user may not even see). Text comes back as stored: whoever renders
it as HTML escapes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request

from booths import search, services
from booths.mail import BoothMailer
from booths.models import Booth, BoothStatus, Category, Hall, Product
from booths.services import BoothFields, CategoryFields, HallFields, Placement, ProductFields
from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import Unauthorized
from expo.expos import services as expos
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import Id
from expo.permissions import BoothRole, Perm

TAGS = ["expo floor"]


# Output shapes ---------------------------------------------------------------------------------------------


class HallOut(Schema):
    id: int
    name: str
    description: str
    translations: dict[str, Any]
    position: int

    @classmethod
    def of(cls, hall: Hall) -> HallOut:
        assert hall.id is not None
        return cls(
            id=hall.id,
            name=hall.name,
            description=hall.description,
            translations=hall.translations,
            position=hall.position,
        )


class HallList(Schema):
    items: list[HallOut]


class CategoryOut(Schema):
    id: int
    parent_id: int | None
    name: str
    translations: dict[str, Any]
    position: int

    @classmethod
    def of(cls, category: Category) -> CategoryOut:
        assert category.id is not None
        return cls(
            id=category.id,
            parent_id=category.parent_id,
            name=category.name,
            translations=category.translations,
            position=category.position,
        )


class CategoryList(Schema):
    items: list[CategoryOut] = Field(
        description="Every category, parents before children; build the tree by parent_id."
    )


class BoothOut(Schema):
    id: int
    expo_id: int
    hall_id: int | None
    number: str | None
    tier: str
    name: str
    tagline: str
    description: str
    translations: dict[str, Any]
    country: str | None
    contact_name: str
    contact_email: str
    contact_phone: str
    website: str
    links: list[dict[str, Any]]
    logo_path: str | None
    banner_path: str | None
    status: str
    updated_at: datetime

    @classmethod
    def of(cls, booth: Booth) -> BoothOut:
        data = booth.model_dump(exclude={"created_at"})
        return cls.model_validate(data)


class BoothList(Schema):
    total: int
    items: list[BoothOut]


class ProductOut(Schema):
    id: int
    booth_id: int
    expo_id: int
    category_id: int | None
    name: str
    description: str
    translations: dict[str, Any]
    price_min: int | None = Field(description="hundredths of the currency unit")
    price_max: int | None = Field(description="hundredths of the currency unit")
    currency: str | None
    moq: int | None
    tags: list[str]
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls.model_validate(product.model_dump(exclude={"created_at"}))


class ProductList(Schema):
    total: int
    items: list[ProductOut]


class SearchQuery(Schema):
    q: str = Field(max_length=200)
    category: Id | None = None
    hall: Id | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    page: int = Field(default=1, ge=1, le=search.MAX_PAGE)
    lang: str | None = Field(default=None, max_length=16)


class SearchItem(Schema):
    kind: Literal["booth", "product"]
    id: int
    name: str
    booth_id: int
    url: str


class SearchOut(Schema):
    total: int
    items: list[SearchItem]


class PageQuery(Schema):
    page: int = Field(default=1, ge=1, le=100000)


class BoothListQuery(PageQuery):
    hall: Id | None = None
    status: Literal["approved", "pending", "rejected"] = "approved"


class DeleteQuery(Schema):
    move_to: str | None = Field(
        default=None,
        pattern=r"^([1-9][0-9]{0,9}|none)$",
        description="where what is filed there goes: another one's id, or `none`; "
        "without it, deleting one in use answers 409 with the count",
    )


class BoothCreateIn(BoothFields):
    placement: Placement | None = None


class StatusIn(Schema):
    status: Literal["approved", "rejected", "pending"]


class StaffIn(Schema):
    email: str = Field(max_length=254)
    role: Literal["owner", "staff"] = "staff"


class StaffOut(Schema):
    user_id: int
    email: str
    name: str
    role: str


class StaffList(Schema):
    items: list[StaffOut]


# Handlers ---------------------------------------------------------------------------------------------------


async def search_floor(request: Request, query: SearchQuery) -> SearchOut:
    """Search booths and products: every word must match (the last one as a prefix), best first."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        if query.category is not None:
            await services.get_category(session, expo, query.category)
        if query.hall is not None:
            await services.get_hall(session, expo, query.hall)
        filters = search.Filters(category_id=query.category, hall_id=query.hall, country=query.country)
        found = await search.search(session, expo, query.q, filters=filters, page=query.page, lang=query.lang)
    items = [
        SearchItem(kind=h.kind, id=h.id, name=h.name, booth_id=h.booth_id, url=h.url) for h in found.items
    ]
    return SearchOut(total=found.total, items=items)


async def list_halls(request: Request) -> HallList:
    """An expo's halls, in order."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        return HallList(items=[HallOut.of(h) for h in await services.list_halls(session, expo)])


async def create_hall(request: Request, body: HallFields, user: User) -> HallOut:
    """Add a hall (organizers)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        return HallOut.of(await services.save_hall(session, expo, body, user))


async def update_hall(request: Request, body: HallFields, user: User) -> HallOut:
    """Change a hall (organizers)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        hall = await services.get_hall(session, expo, path_int(request, "hall_id"))
        return HallOut.of(await services.save_hall(session, expo, body, user, hall))


async def delete_hall(request: Request, query: DeleteQuery, user: User) -> None:
    """Remove a hall (organizers). Its booths go to the hall ``move_to``, or with ``move_to=none``
    stay without a hall; a hall with booths and no ``move_to`` is refused (409 ``hall.in_use``)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        hall = await services.get_hall(session, expo, path_int(request, "hall_id"))
        target = None
        if query.move_to and query.move_to != "none":
            target = await services.get_hall(session, expo, int(query.move_to))
        await services.delete_hall(session, hall, user, move_to=target, unplace=query.move_to == "none")


async def list_categories(request: Request) -> CategoryList:
    """An expo's category tree, as a list with parent ids."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        return CategoryList(items=[CategoryOut.of(c) for c in await services.list_categories(session, expo)])


async def create_category(request: Request, body: CategoryFields, user: User) -> CategoryOut:
    """Add a category, at the top or under ``parent_id`` (organizers)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        return CategoryOut.of(await services.save_category(session, expo, body, user))


async def update_category(request: Request, body: CategoryFields, user: User) -> CategoryOut:
    """Rename or move a category (organizers)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        category = await services.get_category(session, expo, path_int(request, "category_id"))
        return CategoryOut.of(await services.save_category(session, expo, body, user, category))


async def delete_category(request: Request, query: DeleteQuery, user: User) -> None:
    """Remove a category without subcategories (organizers; else 409 ``category.has_children``).
    Its products go to the category ``move_to``, or with ``move_to=none`` stay uncategorised; a
    category with products and no ``move_to`` is refused (409 ``category.in_use``)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        category = await services.get_category(session, expo, path_int(request, "category_id"))
        target = None
        if query.move_to and query.move_to != "none":
            target = await services.get_category(session, expo, int(query.move_to))
        await services.delete_category(
            session, expo, category, user, move_to=target, uncategorise=query.move_to == "none"
        )


async def list_booths(request: Request, query: BoothListQuery) -> BoothList:
    """An expo's approved booths, 50 a page (organizers may list pending and rejected ones)."""
    status = BoothStatus(query.status)
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        if status is not BoothStatus.APPROVED:
            user = await current_user(request)
            if user is None:
                raise Unauthorized("Sign in first.", code="auth.required")
            assert expo.id is not None
            await services.require_in_expo(session, expo.id, user, Perm.MANAGE_BOOTHS)
        total, booths = await services.list_booths(
            session, expo, hall_id=query.hall, status=status, page=query.page
        )
    return BoothList(total=total, items=[BoothOut.of(b) for b in booths])


async def create_booth(request: Request, body: BoothCreateIn, user: User) -> BoothOut:
    """Apply for a booth (exhibitors; pending until approved) or create one (organizers; approved)."""
    fields = BoothFields.model_validate(body.model_dump(exclude={"placement"}, exclude_unset=True))
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        mailer = BoothMailer(platform(request).settings)
        return BoothOut.of(await services.create_booth(session, expo, fields, user, body.placement, mailer))


async def my_booths(request: Request, user: User) -> BoothList:
    """The booths you are on the staff of, in every expo and status."""
    async with platform(request).db.session() as session:
        booths = await services.booths_of(session, user)
    return BoothList(total=len(booths), items=[BoothOut.of(b) for b in booths])


async def get_booth(request: Request) -> BoothOut:
    """A booth's profile."""
    user = await current_user(request)
    async with platform(request).db.session() as session:
        return BoothOut.of(await services.get_booth(session, path_int(request, "booth_id"), user))


async def update_booth(request: Request, body: BoothFields, user: User) -> BoothOut:
    """Edit a booth's profile (its staff, organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        return BoothOut.of(await services.update_booth(session, booth, body, user))


async def place_booth(request: Request, body: Placement, user: User) -> BoothOut:
    """Assign a booth's hall, number and tier (organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        return BoothOut.of(await services.place_booth(session, booth, body, user))


async def set_booth_status(request: Request, body: StatusIn, user: User) -> BoothOut:
    """Approve or reject a booth application (organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        mailer = BoothMailer(platform(request).settings)
        return BoothOut.of(
            await services.set_booth_status(session, booth, BoothStatus(body.status), user, mailer)
        )


async def delete_booth(request: Request, user: User) -> None:
    """Remove a booth and its products (organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        await services.delete_booth(session, booth, user)


async def list_staff(request: Request, user: User) -> StaffList:
    """A booth's staff (its staff, organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        await services.require_booth_editor(session, booth, user)
        rows = await services.list_staff(session, booth)
    return StaffList(
        items=[StaffOut(user_id=s.user_id, email=u.email, name=u.name, role=s.role) for s, u in rows]
    )


async def add_staff(request: Request, body: StaffIn, user: User) -> StaffOut:
    """Add an exhibitor account to a booth's staff by e-mail, or change its role (owners, organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        staff = await services.add_staff(session, booth, body.email, BoothRole(body.role), user)
        member = await session.get(User, staff.user_id)
    assert member is not None
    return StaffOut(user_id=staff.user_id, email=member.email, name=member.name, role=staff.role)


async def remove_staff(request: Request, user: User) -> None:
    """Remove someone from a booth's staff (owners, organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        await services.remove_staff(session, booth, path_int(request, "user_id"), user)


async def list_products(request: Request, query: PageQuery) -> ProductList:
    """A booth's products, 50 a page."""
    user = await current_user(request)
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        total, products = await services.list_products(session, booth, page=query.page)
    return ProductList(total=total, items=[ProductOut.of(p) for p in products])


async def create_product(request: Request, body: ProductFields, user: User) -> ProductOut:
    """Add a product to a booth (its staff, organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        return ProductOut.of(await services.create_product(session, booth, body, user))


async def get_product(request: Request) -> ProductOut:
    """A product."""
    user = await current_user(request)
    async with platform(request).db.session() as session:
        product, _ = await services.get_product(session, path_int(request, "product_id"), user)
    return ProductOut.of(product)


async def update_product(request: Request, body: ProductFields, user: User) -> ProductOut:
    """Edit a product (its booth's staff, organizers)."""
    async with platform(request).db.session() as session:
        product, booth = await services.get_product(session, path_int(request, "product_id"), user)
        return ProductOut.of(await services.update_product(session, product, booth, body, user))


async def delete_product(request: Request, user: User) -> None:
    """Remove a product (its booth's staff, organizers)."""
    async with platform(request).db.session() as session:
        product, booth = await services.get_product(session, path_int(request, "product_id"), user)
        await services.delete_product(session, product, booth, user)


def _write(path: str, handler: Any, method: str, **kwargs: Any) -> Endpoint:
    status = {"POST": 201, "DELETE": 204}.get(method, 200)
    return Endpoint(
        path, handler, method=method, auth="user", status=kwargs.pop("status", status), tags=TAGS, **kwargs
    )


EXPO = "/api/expos/{slug}"
BOOTH = "/api/booths/{booth_id:int}"
PRODUCT = "/api/products/{product_id:int}"

ROUTES = [
    Endpoint(f"{EXPO}/search", search_floor, query=SearchQuery, response=SearchOut, tags=TAGS),
    Endpoint(f"{EXPO}/halls", list_halls, response=HallList, tags=TAGS),
    _write(f"{EXPO}/halls", create_hall, "POST", body=HallFields, response=HallOut),
    _write(EXPO + "/halls/{hall_id:int}", update_hall, "PATCH", body=HallFields, response=HallOut),
    _write(EXPO + "/halls/{hall_id:int}", delete_hall, "DELETE", query=DeleteQuery),
    Endpoint(f"{EXPO}/categories", list_categories, response=CategoryList, tags=TAGS),
    _write(f"{EXPO}/categories", create_category, "POST", body=CategoryFields, response=CategoryOut),
    _write(
        EXPO + "/categories/{category_id:int}",
        update_category,
        "PATCH",
        body=CategoryFields,
        response=CategoryOut,
    ),
    _write(EXPO + "/categories/{category_id:int}", delete_category, "DELETE", query=DeleteQuery),
    Endpoint(f"{EXPO}/booths", list_booths, query=BoothListQuery, response=BoothList, tags=TAGS),
    _write(f"{EXPO}/booths", create_booth, "POST", body=BoothCreateIn, response=BoothOut),
    Endpoint("/api/me/booths", my_booths, auth="user", response=BoothList, tags=TAGS),
    Endpoint(BOOTH, get_booth, response=BoothOut, tags=TAGS),
    _write(BOOTH, update_booth, "PATCH", body=BoothFields, response=BoothOut),
    _write(f"{BOOTH}/placement", place_booth, "PUT", body=Placement, response=BoothOut),
    _write(f"{BOOTH}/status", set_booth_status, "PUT", body=StatusIn, response=BoothOut),
    _write(BOOTH, delete_booth, "DELETE"),
    _write(f"{BOOTH}/staff", list_staff, "GET", response=StaffList),
    _write(f"{BOOTH}/staff", add_staff, "POST", body=StaffIn, response=StaffOut, status=200),
    _write(BOOTH + "/staff/{user_id:int}", remove_staff, "DELETE"),
    Endpoint(f"{BOOTH}/products", list_products, query=PageQuery, response=ProductList, tags=TAGS),
    _write(f"{BOOTH}/products", create_product, "POST", body=ProductFields, response=ProductOut),
    Endpoint(PRODUCT, get_product, response=ProductOut, tags=TAGS),
    _write(PRODUCT, update_product, "PATCH", body=ProductFields, response=ProductOut),
    _write(PRODUCT, delete_product, "DELETE"),
]
