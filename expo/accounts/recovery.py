"""Changing one's password and e-mail address, and getting back into an account by e-mail.

* :func:`change_password` and :func:`change_email` need the current password; a new password
  signs every other session of the account out.
* :func:`request_reset` e-mails a one-time link (valid :data:`RESET_LIFETIME`) when the address
  belongs to an active account and says nothing either way, so the form cannot be used to learn
  who has an account. :func:`reset_password` sets the new password from that link, uses it up
  and signs every session out.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import AuthToken, PasswordReset, TokenKind, User
from expo.accounts.passwords import MAX_LENGTH, hash_password, verify_password
from expo.accounts.services import Client, check_password, hash_token, normalise_email
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound
from expo.i18n import translations
from expo.mail.outbox import enqueue

RESET_LIFETIME = timedelta(hours=1)
_UNKNOWN = Client()  # a call without a request (tests, the command line)


async def _check_current(user: User, password: str) -> None:
    if not await verify_password(user.password_hash, password[:MAX_LENGTH]):
        raise Invalid(N_("Your current password is not right."), code="account.wrong_password")


async def _sign_out(session: AsyncSession, user_id: int, keep: AuthToken | None = None) -> None:
    """Revoke the account's login sessions (all but ``keep``); its API tokens stay."""
    query = (
        update(AuthToken)
        .where(
            col(AuthToken.user_id) == user_id,
            col(AuthToken.kind) == TokenKind.SESSION.value,
            col(AuthToken.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if keep is not None:
        query = query.where(col(AuthToken.id) != keep.id)
    await session.exec(query)


async def change_password(
    session: AsyncSession,
    user: User,
    current: str,
    new: str,
    *,
    keep: AuthToken | None = None,
    client: Client = _UNKNOWN,
) -> User:
    """Set a new password; every other session of the account is signed out."""
    await _check_current(user, current)
    check_password(new)
    user = await session.merge(user)
    user.password_hash = await hash_password(new)
    session.add(user)
    assert user.id is not None
    await _sign_out(session, user.id, keep)
    audit.record(
        session, "account.password_changed", actor_id=user.id, target=f"user:{user.id}", ip=client.ip
    )
    await session.commit()
    return user


async def change_email(
    session: AsyncSession, user: User, email: str, password: str, *, client: Client = _UNKNOWN
) -> User:
    """Move the account to another address (its password confirms it is the owner asking)."""
    await _check_current(user, password)
    address = normalise_email(email)
    taken = (await session.exec(select(User.id).where(User.email == address, User.id != user.id))).first()
    if taken is not None:
        raise Conflict(N_("An account with this e-mail already exists."), code="account.email_taken")
    user = await session.merge(user)
    if user.email != address:
        audit.record(
            session, "account.email_changed", actor_id=user.id, target=f"user:{user.id}", ip=client.ip
        )
        user.email = address
        session.add(user)
        await session.commit()
    return user


async def request_reset(
    session: AsyncSession, email: str, settings: Settings, client: Client = _UNKNOWN
) -> None:
    """E-mail a reset link if ``email`` is an active account's address; silent otherwise."""
    try:
        address = normalise_email(email)
    except Invalid:
        return
    user = (await session.exec(select(User).where(User.email == address))).first()
    if user is None or not user.is_active or user.id is None:
        return
    raw = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(user_id=user.id, token_hash=hash_token(raw), expires_at=utcnow() + RESET_LIFETIME)
    )
    text = translations(user.locale or settings.default_locale).gettext
    await enqueue(
        session,
        to=user.email,
        subject=text(N_("Choose a new password")),
        body=text(
            N_(
                "Hello %(name)s,\n\nsomeone (we hope you) asked to choose a new password for your account. "
                "The link works once, within an hour:\n%(url)s\n\n"
                "If it was not you, ignore this message: your password stays as it is.\n"
            )
        )
        % {"name": user.name, "url": settings.url(f"/password/reset/{raw}")},
        user_id=user.id,
    )
    audit.record(session, "account.reset_requested", actor_id=user.id, target=f"user:{user.id}", ip=client.ip)
    await session.commit()


async def find_reset(session: AsyncSession, raw: str) -> PasswordReset:
    """The live reset behind a link, or :class:`NotFound` (``account.unknown_reset``)."""
    row = (
        await session.exec(select(PasswordReset).where(PasswordReset.token_hash == hash_token(raw)))
    ).first()
    if (
        row is None
        or row.used_at is not None
        or row.expires_at.replace(tzinfo=None) < utcnow().replace(tzinfo=None)
    ):
        raise NotFound(
            N_("This link is unknown, used or expired. Ask for a new one."), code="account.unknown_reset"
        )
    return row


async def reset_password(session: AsyncSession, raw: str, new: str, client: Client = _UNKNOWN) -> User:
    """Set the password from a reset link, use the link up, and sign every session out."""
    row = await find_reset(session, raw)
    check_password(new)
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise NotFound(
            N_("This link is unknown, used or expired. Ask for a new one."), code="account.unknown_reset"
        )
    user.password_hash = await hash_password(new)
    row.used_at = utcnow()
    session.add_all([user, row])
    await _sign_out(session, row.user_id)
    audit.record(session, "account.password_reset", actor_id=user.id, target=f"user:{user.id}", ip=client.ip)
    await session.commit()
    return user
