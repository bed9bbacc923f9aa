"""Account rules: sign-up, login, tokens. Services own their transactions and audit records."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import AuthToken, Role, TokenKind, User
from expo.accounts.passwords import MAX_LENGTH, MIN_LENGTH, hash_password, needs_rehash, verify_password
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound, Unauthorized

# Deliberately simple: one "@", a dot in the domain, no spaces. Real validation is the
# confirmation e-mail; this only catches typos.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
TOKEN_PREFIX = {TokenKind.SESSION: "ses_", TokenKind.API: "exp_"}
_EMAIL_TAKEN = N_("An account with this e-mail already exists.")


@dataclass(frozen=True)
class Client:
    """Where a request came from, for audit records and rate limits."""

    ip: str | None = None
    user_agent: str | None = None


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise Invalid(N_("Enter a valid e-mail address."), code="account.invalid_email")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(f"Passwords need at least {MIN_LENGTH} characters.", code="account.weak_password")
    if len(password) > MAX_LENGTH:
        raise Invalid(f"Passwords can have at most {MAX_LENGTH} characters.", code="account.invalid_password")


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(
            N_("Role must be organizer, exhibitor or visitor."), code="account.invalid_role"
        ) from None


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(raw.encode()).hexdigest()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: Role | str = Role.VISITOR,
    name: str = "",
    locale: str | None = None,
    actor_id: int | None = None,
    client: Client = Client(),
) -> User:
    """Create and commit a user; a taken e-mail is a 409, whatever its case."""
    email = normalise_email(email)
    role = parse_role(str(role))
    check_password(password)
    name = name.strip() or email.split("@", 1)[0]
    if len(name) > 120:
        raise Invalid(N_("Names can have at most 120 characters."), code="account.invalid_name")
    if (await session.exec(select(User.id).where(User.email == email))).first() is not None:
        raise Conflict(_EMAIL_TAKEN, code="account.email_taken")
    user = User(
        email=email, name=name, role=role.value, locale=locale, password_hash=await hash_password(password)
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # Two sign-ups for one e-mail at once: the unique index decides, the loser gets a 409.
        await session.rollback()
        raise Conflict(_EMAIL_TAKEN, code="account.email_taken") from None
    audit.record(
        session,
        "account.created",
        actor_id=actor_id or user.id,
        target=f"user:{user.id}",
        ip=client.ip,
        role=role.value,
    )
    await session.commit()
    return user


async def authenticate(session: AsyncSession, email: str, password: str, client: Client = Client()) -> User:
    """The user for these credentials, or :class:`Unauthorized` (same answer for every failure)."""
    try:
        email = normalise_email(email)
    except Invalid:
        email = ""
    user = (await session.exec(select(User).where(User.email == email))).first() if email else None
    ok = await verify_password(user.password_hash if user else None, password[:MAX_LENGTH])
    if user is None or not ok or not user.is_active:
        audit.record(
            session, "auth.login_failed", actor_id=user.id if user else None, target=email[:200], ip=client.ip
        )
        await session.commit()
        raise Unauthorized(N_("Wrong e-mail or password."), code="auth.bad_credentials")
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    # Committed with the session or token the caller issues next (see issue_token).
    audit.record(session, "auth.login", actor_id=user.id, target=f"user:{user.id}", ip=client.ip)
    return user


async def issue_token(
    session: AsyncSession,
    user: User,
    kind: TokenKind,
    *,
    name: str = "",
    lifetime: timedelta | None = None,
    client: Client = Client(),
) -> tuple[str, AuthToken]:
    """Create a token, commit, and return ``(raw secret, row)``: the secret is never stored."""
    assert user.id is not None
    raw = TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)
    token = AuthToken(
        user_id=user.id,
        kind=kind.value,
        name=name[:100],
        token_hash=hash_token(raw),
        prefix=raw[:10],
        expires_at=utcnow() + lifetime if lifetime else None,
        ip=client.ip,
        user_agent=(client.user_agent or "")[:300] or None,
    )
    session.add(token)
    # The login itself is audited by authenticate(); this records what it was exchanged for.
    action = "auth.session_created" if kind is TokenKind.SESSION else "auth.token_created"
    audit.record(
        session, action, actor_id=user.id, target=f"user:{user.id}", ip=client.ip, kind=kind.value, name=name
    )
    await session.commit()
    return raw, token


async def resolve_token(session: AsyncSession, raw: str, kind: TokenKind) -> tuple[User, AuthToken] | None:
    """The live user and token behind ``raw``, or ``None`` if unknown, expired, revoked or disabled."""
    if not raw.startswith(TOKEN_PREFIX[kind]) or len(raw) > 100:
        return None
    query = (
        select(User, AuthToken)
        .join(AuthToken, col(AuthToken.user_id) == col(User.id))
        .where(AuthToken.token_hash == hash_token(raw), AuthToken.kind == kind.value)
    )
    row = (await session.exec(query)).first()
    if row is None:
        return None
    user, token = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if not user.is_active:
        return None
    return user, token


async def revoke_token(
    session: AsyncSession, token: AuthToken, actor: User, client: Client = Client()
) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        action = "auth.logout" if token.kind == TokenKind.SESSION else "auth.token_revoked"
        audit.record(session, action, actor_id=actor.id, target=f"token:{token.id}", ip=client.ip)
        await session.commit()


async def list_tokens(session: AsyncSession, user: User) -> list[AuthToken]:
    query = (
        select(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.kind == TokenKind.API.value)
        .where(col(AuthToken.revoked_at).is_(None))
        .order_by(col(AuthToken.id).desc())
    )
    return list((await session.exec(query)).all())


async def get_own_token(session: AsyncSession, user: User, token_id: int) -> AuthToken:
    token = await session.get(AuthToken, token_id)
    if (
        token is None
        or token.user_id != user.id
        or token.kind != TokenKind.API.value
        or token.revoked_at is not None
    ):
        raise NotFound(N_("No such token."), code="auth.unknown_token")
    return token


def token_needs_touch(token: AuthToken) -> bool:
    """Use is recorded at most once a minute (see :class:`expo.accounts.authcache.TokenUse`)."""
    return token.last_used_at is None or utcnow() - token.last_used_at > timedelta(minutes=1)


async def update_profile(
    session: AsyncSession, user: User, *, name: str, locale: str | None, client: Client = Client()
) -> User:
    """Change the display name and language (``None``: follow the browser); commit and return the user."""
    # Imported here: expo.i18n reads the catalogs' directory, which services otherwise never need.
    from expo.i18n import LOCALES

    name = name.strip()
    if not name:
        raise Invalid(N_("Enter a name."), code="account.invalid_name")
    if len(name) > 120:
        raise Invalid(N_("Names can have at most 120 characters."), code="account.invalid_name")
    if locale is not None and locale not in LOCALES:
        raise Invalid(N_("Choose a language from the list."), code="account.invalid_locale")
    user = await session.merge(user)
    changed = sorted(k for k, v in (("name", name), ("locale", locale)) if getattr(user, k) != v)
    if changed:
        user.name = name
        user.locale = locale
        session.add(user)
        audit.record(
            session,
            "account.updated",
            actor_id=user.id,
            target=f"user:{user.id}",
            ip=client.ip,
            fields=changed,
        )
        await session.commit()
    return user


async def count_by_role(session: AsyncSession) -> dict[str, int]:
    """How many accounts each role has (roles without accounts are absent)."""
    rows = await session.exec(select(User.role, func.count(col(User.id))).group_by(User.role))
    return {role: int(count) for role, count in rows.all()}


async def users_by_id(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    """The users with these ids, for showing names next to ids (audit events, leads)."""
    if not ids:
        return {}
    users = (await session.exec(select(User).where(col(User.id).in_(ids)))).all()
    return {user.id: user for user in users if user.id is not None}
