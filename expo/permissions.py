"""May this user do this? The one rule of the platform, asked by every service, page, API route and
WebSocket channel; no other module looks at roles.

Two kinds of role answer it:

* **Account roles** (:class:`~expo.accounts.models.Role`) say what kind of account someone has: a
  platform ``admin`` (created from the command line) sees and manages every expo; an ``organizer``
  may create expos; an ``exhibitor`` may apply for booths; a ``visitor`` watches and registers.
* **Team roles** (:class:`TeamRole`) say what someone may do in one expo. An expo is run by its
  team (like pretix's organizer teams): each member holds one team role, a named set of
  :class:`Perm`. Whoever creates an expo owns it. An organizer who is not on an expo's team may do
  nothing to it and reads no more of it than a visitor does.

Booth staff (owner or staff of one booth) edit that booth, and the owner of a broadcast or room
manages it, whatever their team role. Domains hand those facts in (``staff=``, ``owner_id=``,
``booth_staff=``, ``staffs_a_booth=``); the rules that weigh them are here.

:func:`standing` reads what one user may do in one expo; the ``may_*`` functions answer one
question each, and :func:`require` turns a "no" into the right error (401 signed out, else 403).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection

from expo.accounts.models import Role, User
from expo.auth import require_signed_in
from expo.errors import N_, Forbidden, Unauthorized
from expo.expos.models import ExpoMember


class Perm(enum.StrEnum):
    """One thing a team member may do in their expo."""

    CHANGE_EXPO = "expo.change"  # title, dates, languages, banner, halls and categories
    MANAGE_TEAM = "team.manage"  # invite, change and remove members
    MANAGE_BOOTHS = "booths.manage"  # approve, reject, place and edit any booth and its products
    MANAGE_BROADCASTS = "broadcasts.manage"  # every broadcast and room, their keys included
    MANAGE_REGISTRATION = "registration.manage"  # the form, registrations and the outbox
    MANAGE_AGENDA = "agenda.manage"  # programs, their seats and attendance
    CHECK_IN = "checkin"  # check visitors in at the desk
    MODERATE = "chat.moderate"  # delete, mute, ban and slow chat in every broadcast
    VIEW_DASHBOARD = "dashboard.view"  # live and historical figures, audience exports


class TeamRole(enum.StrEnum):
    """A named set of permissions a member of an expo's team holds (:data:`ROLE_PERMISSIONS`)."""

    OWNER = "owner"
    ORGANIZER = "organizer"
    CHECKIN = "checkin"
    MODERATOR = "moderator"


class BoothRole(enum.StrEnum):
    """Booth-scoped roles: both edit the booth, owners also manage its staff."""

    OWNER = "owner"
    STAFF = "staff"


ALL_PERMISSIONS = frozenset(Perm)
ROLE_PERMISSIONS: dict[TeamRole, frozenset[Perm]] = {
    TeamRole.OWNER: ALL_PERMISSIONS,
    TeamRole.ORGANIZER: ALL_PERMISSIONS - {Perm.MANAGE_TEAM},
    TeamRole.CHECKIN: frozenset({Perm.CHECK_IN}),
    TeamRole.MODERATOR: frozenset({Perm.MODERATE}),
}
NO_PERMISSIONS: frozenset[Perm] = frozenset()


# Account roles -------------------------------------------------------------------------------------------


def _active(user: User | None) -> bool:
    return user is not None and user.is_active


def is_admin(user: User | None) -> bool:
    """A platform administrator: every permission in every expo."""
    return _active(user) and user is not None and user.role == Role.ADMIN.value


def has_role(user: User | None, *roles: Role) -> bool:
    """``user`` has one of these account roles; an administrator counts as an organizer."""
    if not _active(user) or user is None:
        return False
    role = Role(user.role)
    return role in roles or (role is Role.ADMIN and Role.ORGANIZER in roles)


SELF_SERVICE_ROLES = (Role.VISITOR, Role.EXHIBITOR)
"""Accounts anyone may open by signing up; organizers and administrators are made by administrators."""


def may_sign_up_as(role: str) -> bool:
    return role in {r.value for r in SELF_SERVICE_ROLES}


def may_create_expo(user: User | None) -> bool:
    return has_role(user, Role.ORGANIZER)


def may_manage_accounts(user: User | None) -> bool:
    """Creating, listing and disabling accounts across the platform is the administrators' job."""
    return is_admin(user)


def may_apply_for_booth(user: User | None) -> bool:
    return has_role(user, Role.EXHIBITOR)


def may_run_broadcasts(user: User | None) -> bool:
    """Accounts that may own broadcasts and rooms at all (where is :func:`may_present`'s question)."""
    return has_role(user, Role.ORGANIZER, Role.EXHIBITOR)


async def require_user(conn: HTTPConnection, roles: Sequence[Role] | None = None) -> User:
    """The signed-in user of an API request, with one of ``roles`` when given (CSRF-checked when
    the cookie authenticates)."""
    user = await require_signed_in(conn)
    if roles is not None and not has_role(user, *roles):
        raise Forbidden("Your account is not allowed to do this.", code="auth.forbidden")
    return user


async def require_page_user(conn: HTTPConnection, roles: Sequence[Role] | None = None) -> User:
    """The signed-in user of a page, with one of ``roles`` when given.

    Signed out: :class:`Unauthorized`, which the error boundary turns into a redirect to
    ``/login?next=<this page>``. Wrong role: :class:`Forbidden`, shown as the 403 error page.
    """
    user = await require_signed_in(conn, page=True)
    if roles is not None and not has_role(user, *roles):
        raise Forbidden(N_("Your account is not allowed to do this."), code="auth.forbidden")
    return user


# Standing in one expo ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """What ``user`` may do in the expo ``expo_id``: their team role there and its permissions
    (every permission for a platform administrator, none for anyone off the team)."""

    user: User | None
    expo_id: int
    team_role: TeamRole | None
    perms: frozenset[Perm]

    def has(self, perm: Perm) -> bool:
        return perm in self.perms

    @property
    def on_team(self) -> bool:
        """A member of the team or an administrator: may read the expo's back office."""
        return bool(self.perms)

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


async def standing(session: AsyncSession, user: User | None, expo_id: int) -> Standing:
    """``user``'s standing in the expo ``expo_id``, read from its team."""
    if not _active(user) or user is None or user.id is None:
        return Standing(None if user is None else user, expo_id, None, NO_PERMISSIONS)
    if is_admin(user):
        return Standing(user, expo_id, None, ALL_PERMISSIONS)
    member = await session.get(ExpoMember, (expo_id, user.id))
    if member is None:
        return Standing(user, expo_id, None, NO_PERMISSIONS)
    role = TeamRole(member.role)
    return Standing(user, expo_id, role, ROLE_PERMISSIONS[role])


def require(allowed: bool, user: User | None, message: str, code: str) -> None:
    """Nothing when ``allowed``; else :class:`Unauthorized` for a signed-out user (who may be
    allowed once signed in) and :class:`Forbidden` (``code``) for everyone else."""
    if allowed:
        return
    if user is None:
        raise Unauthorized(N_("Sign in first."), code="auth.required")
    raise Forbidden(message, code=code)


async def require_permission(
    session: AsyncSession, user: User | None, expo_id: int, perm: Perm, message: str, code: str
) -> Standing:
    """``user``'s standing in the expo when it holds ``perm``; else :func:`require`'s error."""
    st = await standing(session, user, expo_id)
    require(st.has(perm), user, message, code)
    return st


# Booths --------------------------------------------------------------------------------------------------


def may_edit_booth(st: Standing, staff: BoothRole | None) -> bool:
    """The booth's own staff and the expo's booth managers edit a booth and its products."""
    return st.has(Perm.MANAGE_BOOTHS) or (staff is not None and _active(st.user))


def may_manage_booth_staff(st: Standing, staff: BoothRole | None) -> bool:
    return st.has(Perm.MANAGE_BOOTHS) or (staff is BoothRole.OWNER and _active(st.user))


def may_see_booth(st: Standing, *, approved: bool, staff: BoothRole | None) -> bool:
    """Approved booths are public; a pending or rejected one shows only to its staff and managers."""
    return approved or may_edit_booth(st, staff)


# Broadcasts and rooms ------------------------------------------------------------------------------------


def owns(st: Standing, owner_id: int | None) -> bool:
    return _active(st.user) and owner_id is not None and owner_id == st.user_id


def may_manage_broadcast(st: Standing, *, owner_id: int | None, booth_staff: bool = False) -> bool:
    """A broadcast or room is managed (edited, ended, re-keyed, its key read) by its owner, the
    staff of the booth that presents it, and the expo's broadcast managers."""
    return st.has(Perm.MANAGE_BROADCASTS) or owns(st, owner_id) or (booth_staff and _active(st.user))


def may_present(st: Standing, *, staffs_a_booth: bool) -> bool:
    """May add a broadcast or room to this expo: its broadcast managers, and exhibitors on the
    staff of one of its booths. Nobody else puts things into an expo."""
    if st.has(Perm.MANAGE_BROADCASTS):
        return True
    return staffs_a_booth and has_role(st.user, Role.EXHIBITOR)


def may_moderate(st: Standing, *, manages: bool) -> bool:
    """Chat moderation: whoever manages the broadcast, and the expo's moderators."""
    return manages or st.has(Perm.MODERATE)


# The expo's investment bureau: the team members who run its promotion site (they change the
# expo) also work its project pipeline, answer its consulting questions and send its invitations.
BUREAU = Perm.CHANGE_EXPO


def may_run_promotion(st: Standing) -> bool:
    """The bureau: moves filed projects, answers questions, invites investors."""
    return st.has(BUREAU)


def may_follow_investor_case(st: Standing, investor_id: int | None) -> bool:
    """An investor's filed project or consulting thread is seen (and continued) by that investor
    and by the bureau, nobody else."""
    return may_run_promotion(st) or owns(st, investor_id)


# The bureau's departments ("Land planning", "Tax bureau") work on the projects circulated to them.
# Their members need not be on the expo's team: a department gives access to its projects only, and
# a member's lists hold only what was sent to their own departments.


def may_work_on_project(st: Standing, *, with_my_department: bool) -> bool:
    """A project is worked on (read, commented) by the bureau and by the members of a department
    it was circulated to (``with_my_department``), nobody else of the back office."""
    return may_run_promotion(st) or (with_my_department and _active(st.user))


def may_work_on_step(st: Standing, *, in_its_department: bool) -> bool:
    """A department's step of a project (accept, hand over, mark done) is taken by that
    department's members, and by the bureau, who may act for any department."""
    return may_run_promotion(st) or (in_its_department and _active(st.user))


def may_read_department_desk(user: User | None, *, departments: int) -> bool:
    """ "My department's projects" is read by whoever works in at least one department."""
    return _active(user) and departments > 0
