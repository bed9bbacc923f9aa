"""Account API: log in and out, who am I, API tokens, sign-up, organizer-created users."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field
from starlette.requests import Request

from expo.accounts import recovery, services
from expo.accounts.models import AuthToken, Role, TokenKind, User
from expo.auth import current_token, forget_auth, platform
from expo.errors import Unauthorized
from expo.http.api import Endpoint, Schema, path_int


class LoginIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    name: str = Field(default="API login", max_length=100, description="Label for the issued token.")


class TokenOut(Schema):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown once.")
    id: int
    user_id: int
    role: str


class SignupIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=120)
    role: Literal["visitor", "exhibitor"] = "visitor"
    locale: Literal["en", "zh_Hans"] | None = None


class UserCreateIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=120)
    role: Literal["admin", "organizer", "exhibitor", "visitor"]


class UserOut(Schema):
    id: int
    email: str
    name: str
    role: str
    locale: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        assert user.id is not None
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            locale=user.locale,
            created_at=user.created_at,
        )


class TokenCreateIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenInfo(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, token: AuthToken) -> TokenInfo:
        assert token.id is not None
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
        )


class TokenList(Schema):
    items: list[TokenInfo]


def client_of(request: Request) -> services.Client:
    return services.Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def login(request: Request, body: LoginIn) -> TokenOut:
    """Exchange e-mail and password for an API token (rate limited per e-mail and per address)."""
    p = platform(request)
    client = client_of(request)
    email_key = body.email.strip().lower()[:254]
    await p.login_by_email.check(email_key)
    await p.login_by_ip.check(client.ip or "-")
    async with p.db.session() as session:
        try:
            user = await services.authenticate(session, body.email, body.password, client)
        except Unauthorized:
            # Only failures count: a NAT full of people signing in correctly is not an attack.
            await p.login_by_email.hit(email_key)
            await p.login_by_ip.hit(client.ip or "-")
            raise
        raw, token = await services.issue_token(session, user, TokenKind.API, name=body.name, client=client)
    assert token.id is not None and user.id is not None
    return TokenOut(token=raw, id=token.id, user_id=user.id, role=user.role)


async def logout(request: Request, user: User) -> None:
    """Revoke the token (or session) this request was made with."""
    token = current_token(request)
    if token is not None:
        async with platform(request).db.session() as session:
            token = await session.merge(token)
            await services.revoke_token(session, token, user, client_of(request))
        await forget_auth(request, token=token)


async def count_signup(request: Request) -> None:
    """Count a sign-up attempt from the request's address; :class:`~expo.errors.RateLimited` (429
    with ``Retry-After``) over the allowance.

    Every attempt counts, not only failures as for login: creating accounts in bulk is the abuse.
    The allowance per address (:attr:`~expo.platform.Platform.signup_by_ip`) is the login one
    (``login_attempts`` x 5 per ``login_window_seconds``), roomy enough for a venue behind one NAT.
    """
    await platform(request).signup_by_ip.hit(client_of(request).ip or "-")


async def signup(request: Request, body: SignupIn) -> UserOut:
    """Create a visitor or exhibitor account (rate limited per address). Organizer accounts are
    created by organizers."""
    await count_signup(request)
    async with platform(request).db.session() as session:
        user = await services.create_user(
            session,
            email=body.email,
            password=body.password,
            name=body.name,
            role=body.role,
            locale=body.locale,
            client=client_of(request),
        )
    return UserOut.of(user)


async def me(request: Request, user: User) -> UserOut:
    """The signed-in user."""
    return UserOut.of(user)


class PasswordChangeIn(Schema):
    current: str = Field(max_length=1024)
    new: str = Field(max_length=1024)


async def change_password(request: Request, body: PasswordChangeIn, user: User) -> None:
    """Change your password; your other sessions are signed out (API tokens keep working)."""
    async with platform(request).db.session() as session:
        await recovery.change_password(
            session, user, body.current, body.new, keep=current_token(request), client=client_of(request)
        )
    await forget_auth(request, user=user)


async def create_user(request: Request, body: UserCreateIn, user: User) -> UserOut:
    """Create an account of any role (platform administrators only)."""
    async with platform(request).db.session() as session:
        created = await services.create_user(
            session,
            email=body.email,
            password=body.password,
            name=body.name,
            role=body.role,
            actor_id=user.id,
            client=client_of(request),
        )
    return UserOut.of(created)


async def list_tokens(request: Request, user: User) -> TokenList:
    """Your API tokens that are still valid (secrets are never shown again)."""
    async with platform(request).db.session() as session:
        tokens = await services.list_tokens(session, user)
    return TokenList(items=[TokenInfo.of(t) for t in tokens])


async def create_token(request: Request, body: TokenCreateIn, user: User) -> TokenOut:
    """Create a named API token, for scripts and integrations."""
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    async with platform(request).db.session() as session:
        raw, token = await services.issue_token(
            session, user, TokenKind.API, name=body.name, lifetime=lifetime, client=client_of(request)
        )
    assert token.id is not None and user.id is not None
    return TokenOut(token=raw, id=token.id, user_id=user.id, role=user.role)


async def revoke_token(request: Request, user: User) -> None:
    """Revoke one of your API tokens."""
    token_id = path_int(request, "token_id")
    async with platform(request).db.session() as session:
        token = await services.get_own_token(session, user, token_id)
        await services.revoke_token(session, token, user, client_of(request))
    await forget_auth(request, token=token)


ROUTES = [
    Endpoint("/api/auth/login", login, method="POST", body=LoginIn, response=TokenOut, tags=["auth"]),
    Endpoint("/api/auth/logout", logout, method="POST", auth="user", status=204, tags=["auth"]),
    Endpoint(
        "/api/auth/signup", signup, method="POST", body=SignupIn, response=UserOut, status=201, tags=["auth"]
    ),
    Endpoint("/api/me", me, auth="user", response=UserOut, tags=["auth"]),
    Endpoint(
        "/api/me/password",
        change_password,
        method="POST",
        body=PasswordChangeIn,
        auth="user",
        status=204,
        tags=["auth"],
    ),
    Endpoint("/api/auth/tokens", list_tokens, auth="user", response=TokenList, tags=["auth"]),
    Endpoint(
        "/api/auth/tokens",
        create_token,
        method="POST",
        body=TokenCreateIn,
        auth="user",
        response=TokenOut,
        status=201,
        tags=["auth"],
    ),
    Endpoint(
        "/api/auth/tokens/{token_id:int}",
        revoke_token,
        method="DELETE",
        auth="user",
        status=204,
        tags=["auth"],
    ),
    Endpoint(
        "/api/users",
        create_user,
        method="POST",
        body=UserCreateIn,
        auth=[Role.ADMIN],
        response=UserOut,
        status=201,
        tags=["auth"],
    ),
]
