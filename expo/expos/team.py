"""An expo's team: its members and their roles, and invitations by e-mail.

The owners (and platform administrators) manage the team: they invite people by e-mail (the
letter carries an accept link, :func:`invite`), change a member's role and remove members. Anyone
may leave a team. An expo always keeps at least one owner: the last one can neither leave, be
removed nor step down (``team.last_owner``). Every change is audited.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.accounts.services import hash_token
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound
from expo.expos.models import Expo, ExpoMember, TeamInvite
from expo.mail.letters import Letters
from expo.permissions import ROLE_PERMISSIONS, Perm, TeamRole, require_permission

INVITE_LIFETIME = timedelta(days=14)
MAX_MEMBERS = 500


def check_role(role: str) -> TeamRole:
    try:
        return TeamRole(role)
    except ValueError:
        raise Invalid(
            f"A team role is one of {', '.join(r.value for r in TeamRole)}.", code="team.invalid_role"
        ) from None


async def list_members(session: AsyncSession, expo: Expo) -> list[tuple[ExpoMember, User]]:
    """The team, owners first, then by name."""
    order = {role.value: i for i, role in enumerate(TeamRole)}
    query = (
        select(ExpoMember, User)
        .join(User, col(User.id) == col(ExpoMember.user_id))
        .where(ExpoMember.expo_id == expo.id)
    )
    rows = list((await session.exec(query)).all())
    return sorted(rows, key=lambda row: (order.get(row[0].role, 99), row[1].name.lower(), row[1].id or 0))


async def list_invites(session: AsyncSession, expo: Expo) -> list[TeamInvite]:
    query = select(TeamInvite).where(TeamInvite.expo_id == expo.id).order_by(col(TeamInvite.created_at))
    return list((await session.exec(query)).all())


async def members_with(session: AsyncSession, expo_id: int, perm: Perm) -> list[User]:
    """The active members of an expo's team whose role grants ``perm`` (whom to tell about it)."""
    roles = [role.value for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
    query = (
        select(User)
        .join(ExpoMember, col(ExpoMember.user_id) == col(User.id))
        .where(ExpoMember.expo_id == expo_id, col(ExpoMember.role).in_(roles), col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return list((await session.exec(query)).all())


async def _require_team_manager(session: AsyncSession, expo: Expo, actor: User) -> None:
    assert expo.id is not None
    message = N_("Only this expo's owners manage its team.")
    await require_permission(session, actor, expo.id, Perm.MANAGE_TEAM, message, "team.forbidden")


async def _owners(session: AsyncSession, expo_id: int) -> int:
    query = select(func.count()).where(ExpoMember.expo_id == expo_id, ExpoMember.role == TeamRole.OWNER.value)
    return int((await session.exec(query)).one())


async def _member(session: AsyncSession, expo: Expo, user_id: int) -> ExpoMember:
    assert expo.id is not None
    member = await session.get(ExpoMember, (expo.id, user_id))
    if member is None:
        raise NotFound("This user is not on the expo's team.", code="team.unknown_member")
    return member


async def invite(
    session: AsyncSession, expo: Expo, email: str, role: TeamRole, actor: User, letters: Letters
) -> TeamInvite:
    """Invite ``email`` to the team as ``role`` and write them a letter with the accept link.

    Inviting the same address again replaces the earlier invitation (and its link).
    """
    await _require_team_manager(session, expo, actor)
    assert expo.id is not None
    address = email.strip().lower()
    if "@" not in address or len(address) > 254:
        raise Invalid("Enter an e-mail address.", code="team.invalid_email")
    existing = (await session.exec(select(User).where(func.lower(User.email) == address))).first()
    if existing is not None and await session.get(ExpoMember, (expo.id, existing.id)) is not None:
        raise Conflict("This person is on the team already.", code="team.member_exists")
    count = (await session.exec(select(func.count()).where(ExpoMember.expo_id == expo.id))).one()
    if int(count) >= MAX_MEMBERS:
        raise Conflict(f"A team has at most {MAX_MEMBERS} members.", code="team.full")
    await session.exec(
        delete(TeamInvite).where(col(TeamInvite.expo_id) == expo.id, col(TeamInvite.email) == address)
    )
    raw = secrets.token_urlsafe(32)
    row = TeamInvite(
        expo_id=expo.id,
        email=address,
        role=role.value,
        token_hash=hash_token(raw),
        invited_by=actor.id,
        expires_at=utcnow() + INVITE_LIFETIME,
    )
    session.add(row)
    await session.flush()
    await letters.send_to(
        session,
        address,
        existing.locale if existing is not None else None,
        expo,
        N_("You are invited to the team of %(expo)s"),
        N_(
            "Hello,\n\n%(inviter)s invites you to the team of %(expo)s as %(role)s. "
            "Sign in or create an account with this address, then accept:\n%(url)s\n\n"
            "The link works for 14 days.\n"
        ),
        user_id=existing.id if existing is not None else None,
        inviter=actor.name,
        role=role.value,
        url=letters.settings.url(f"/team/invites/{raw}"),
    )
    audit.record(
        session, "team.invited", actor_id=actor.id, target=f"expo:{expo.id}", email=address, role=role.value
    )
    await session.commit()
    return row


async def find_invite(session: AsyncSession, raw: str) -> TeamInvite:
    """The live invitation behind an accept link, or :class:`NotFound` (``team.unknown_invite``)."""
    row = (await session.exec(select(TeamInvite).where(TeamInvite.token_hash == hash_token(raw)))).first()
    if row is None or row.expires_at.replace(tzinfo=None) < utcnow().replace(tzinfo=None):
        raise NotFound("This invitation is unknown, used or expired.", code="team.unknown_invite")
    return row


async def accept_invite(session: AsyncSession, raw: str, user: User) -> Expo:
    """Put ``user`` on the team the invitation names; it must have been sent to their address."""
    row = await find_invite(session, raw)
    if user.email.strip().lower() != row.email:
        raise Forbidden(
            N_("This invitation was sent to another e-mail address."), code="team.invite_other_address"
        )
    assert user.id is not None
    expo = await session.get(Expo, row.expo_id)
    assert expo is not None
    if await session.get(ExpoMember, (row.expo_id, user.id)) is None:
        session.add(ExpoMember(expo_id=row.expo_id, user_id=user.id, role=row.role))
    await session.delete(row)
    audit.record(session, "team.joined", actor_id=user.id, target=f"expo:{row.expo_id}", role=row.role)
    await session.commit()
    return expo


async def withdraw_invite(session: AsyncSession, expo: Expo, invite_id: int, actor: User) -> None:
    await _require_team_manager(session, expo, actor)
    row = await session.get(TeamInvite, invite_id)
    if row is None or row.expo_id != expo.id:
        raise NotFound("This expo has no such invitation.", code="team.unknown_invite")
    audit.record(
        session, "team.invite_withdrawn", actor_id=actor.id, target=f"expo:{expo.id}", email=row.email
    )
    await session.delete(row)
    await session.commit()


async def change_role(
    session: AsyncSession, expo: Expo, user_id: int, role: TeamRole, actor: User
) -> ExpoMember:
    await _require_team_manager(session, expo, actor)
    assert expo.id is not None
    member = await _member(session, expo, user_id)
    if (
        member.role == TeamRole.OWNER.value
        and role is not TeamRole.OWNER
        and await _owners(session, expo.id) <= 1
    ):
        raise Conflict("An expo keeps at least one owner.", code="team.last_owner")
    before, member.role = member.role, role.value
    session.add(member)
    audit.record(
        session,
        "team.role_changed",
        actor_id=actor.id,
        target=f"expo:{expo.id}",
        user=user_id,
        before=before,
        after=role.value,
    )
    await session.commit()
    return member


async def remove_member(session: AsyncSession, expo: Expo, user_id: int, actor: User) -> None:
    """Take someone off the team; owners remove anyone, and anyone may leave."""
    if actor.id != user_id:
        await _require_team_manager(session, expo, actor)
    assert expo.id is not None
    member = await _member(session, expo, user_id)
    if member.role == TeamRole.OWNER.value and await _owners(session, expo.id) <= 1:
        raise Conflict("An expo keeps at least one owner.", code="team.last_owner")
    await session.delete(member)
    audit.record(session, "team.removed", actor_id=actor.id, target=f"expo:{expo.id}", user=user_id)
    await session.commit()


async def add_member(
    session: AsyncSession, expo: Expo, user: User, role: TeamRole, actor: User | None
) -> None:
    """Put an existing account on the team at once (the command line, the demo, administrators)."""
    if actor is not None:
        await _require_team_manager(session, expo, actor)
    assert expo.id is not None and user.id is not None
    member = await session.get(ExpoMember, (expo.id, user.id))
    if member is None:
        session.add(ExpoMember(expo_id=expo.id, user_id=user.id, role=role.value))
    else:
        member.role = role.value
        session.add(member)
    audit.record(
        session,
        "team.added",
        actor_id=actor.id if actor else None,
        target=f"expo:{expo.id}",
        user=user.id,
        role=role.value,
    )
    await session.commit()
