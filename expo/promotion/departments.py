"""The departments of an expo's bureau ("Land planning", "Tax bureau", "Talent office") and the
accounts that work in them.

The bureau (:data:`expo.permissions.BUREAU`) defines departments and their members; a member need
not be on the expo's team, and a department gives its members access to the projects circulated
to it and to nothing else (:func:`expo.permissions.may_work_on_project`). How projects circulate
between departments is :mod:`expo.promotion.departments_circulation`.

Every change is written to the audit log in the same transaction, against the expo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.accounts.services import normalise_email
from expo.errors import N_, Conflict, Invalid, NotFound
from expo.expos.models import Expo
from expo.permissions import may_read_department_desk, require
from expo.promotion.models import PromotionDepartment, PromotionDepartmentMember
from expo.promotion.services import FormInvalid

MAX_NAME = 120
MAX_DEPARTMENTS = 100  # per expo
MAX_MEMBERS = 200  # per department


@dataclass(frozen=True)
class Department:
    """A department as its pages show it: with its members, by name."""

    department: PromotionDepartment
    members: list[User]

    @property
    def id(self) -> int:
        return self.department.id or 0


def _target(expo: Expo) -> str:
    return f"expo:{expo.id}"


# Checking ------------------------------------------------------------------------------------------------


def check_department(values: dict[str, str]) -> tuple[str, str]:
    """(English name, Chinese name) of a department form; :class:`FormInvalid` per field."""
    errors: dict[str, str] = {}
    name = values.get("name", "").strip()
    name_zh = values.get("name_zh", "").strip()
    if not name:
        errors["name"] = N_("This is required.")
    elif len(name) > MAX_NAME:
        errors["name"] = N_("This is too long.")
    if len(name_zh) > MAX_NAME:
        errors["name_zh"] = N_("This is too long.")
    if errors:
        raise FormInvalid(errors)
    return name, name_zh


# Reading -------------------------------------------------------------------------------------------------


async def departments(session: AsyncSession, expo: Expo) -> list[PromotionDepartment]:
    """The expo's departments, by name."""
    query = select(PromotionDepartment).where(PromotionDepartment.expo_id == expo.id)
    return list((await session.exec(query.order_by(col(PromotionDepartment.name)))).all())


async def with_members(session: AsyncSession, expo: Expo) -> list[Department]:
    """The expo's departments, each with its members."""
    found = await departments(session, expo)
    query = (
        select(PromotionDepartmentMember, User)
        .join(User, col(User.id) == col(PromotionDepartmentMember.user_id))
        .where(col(PromotionDepartmentMember.department_id).in_([d.id for d in found]))
        .order_by(col(User.name), col(User.id))
    )
    members: dict[int, list[User]] = {}
    for row, user in (await session.exec(query)).all():
        members.setdefault(row.department_id, []).append(user)
    return [Department(d, members.get(d.id or 0, [])) for d in found]


async def department_of(session: AsyncSession, expo: Expo, department_id: int) -> PromotionDepartment:
    found = await session.get(PromotionDepartment, department_id)
    if found is None or found.expo_id != expo.id:
        raise NotFound(N_("This expo has no such department."), code="promotion.unknown_department")
    return found


async def member_of(session: AsyncSession, user: User | None, expo_id: int | None = None) -> set[int]:
    """The ids of the departments ``user`` works in (of one expo when ``expo_id`` is given)."""
    if user is None or user.id is None:
        return set()
    query = (
        select(PromotionDepartmentMember.department_id)
        .join(
            PromotionDepartment, col(PromotionDepartment.id) == col(PromotionDepartmentMember.department_id)
        )
        .where(PromotionDepartmentMember.user_id == user.id)
    )
    if expo_id is not None:
        query = query.where(PromotionDepartment.expo_id == expo_id)
    return set((await session.exec(query)).all())


MY_DESK = ("/my/departments", N_("My department's projects"))  # a header link: path, label


async def work_links(session: AsyncSession, user: User) -> list[tuple[str, str]]:
    """The header's link to "My department's projects" when ``user`` works in a department: for
    the pages that know their reader (the account page, the bureau's pages)."""
    return [MY_DESK] if await member_of(session, user) else []


async def require_member(session: AsyncSession, user: User | None) -> set[int]:
    """The departments ``user`` works in, when there are any; else 401 or 403."""
    mine = await member_of(session, user)
    message = N_("You are in no department of an expo's bureau.")
    require(may_read_department_desk(user, departments=len(mine)), user, message, "promotion.no_department")
    return mine


async def members(session: AsyncSession, department_id: int) -> list[User]:
    """The active members of a department (whom to tell about a step)."""
    query = (
        select(User)
        .join(PromotionDepartmentMember, col(PromotionDepartmentMember.user_id) == col(User.id))
        .where(PromotionDepartmentMember.department_id == department_id, col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return list((await session.exec(query)).all())


# Writing -------------------------------------------------------------------------------------------------


async def _save_named(session: AsyncSession, department: PromotionDepartment) -> None:
    """Flush a new or renamed department; a name the expo has already is a field error."""
    session.add(department)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise FormInvalid({"name": N_("The expo has a department of this name already.")}) from None


async def _commit(
    session: AsyncSession, expo: Expo, event: str, actor: User, department_id: int | None, **fields: Any
) -> None:
    """Write the change's audit record against the expo and commit both."""
    audit.record(session, event, actor_id=actor.id, target=_target(expo), department=department_id, **fields)
    await session.commit()


async def create(
    session: AsyncSession, expo: Expo, values: dict[str, str], actor: User
) -> PromotionDepartment:
    """Add a department to the expo's bureau; names are unique in one expo."""
    name, name_zh = check_department(values)
    assert expo.id is not None
    if len(await departments(session, expo)) >= MAX_DEPARTMENTS:
        raise Conflict(N_("An expo has at most 100 departments."), code="promotion.too_many_departments")
    department = PromotionDepartment(expo_id=expo.id, name=name, translations=_names(name_zh))
    await _save_named(session, department)
    await _commit(session, expo, "promotion.department_created", actor, department.id)
    return department


def _names(name_zh: str) -> dict[str, dict[str, str]]:
    return {"zh_Hans": {"name": name_zh}} if name_zh else {}


async def rename(
    session: AsyncSession, expo: Expo, department: PromotionDepartment, values: dict[str, str], actor: User
) -> PromotionDepartment:
    name, name_zh = check_department(values)
    department.name = name
    department.translations = _names(name_zh)
    await _save_named(session, department)
    await _commit(session, expo, "promotion.department_renamed", actor, department.id)
    return department


async def add_member(
    session: AsyncSession, expo: Expo, department: PromotionDepartment, email: str, actor: User
) -> User:
    """Put the account with this address in the department (it must have signed up already)."""
    try:
        address = normalise_email(email)
    except Invalid:
        raise FormInvalid({"email": N_("Enter a valid e-mail address.")}) from None
    user = (await session.exec(select(User).where(User.email == address))).first()
    if user is None or user.id is None or not user.is_active:
        raise FormInvalid({"email": N_("No account uses this address; ask them to sign up first.")})
    assert department.id is not None
    if await session.get(PromotionDepartmentMember, (department.id, user.id)) is not None:
        raise FormInvalid({"email": N_("This person is in the department already.")})
    if len(await members(session, department.id)) >= MAX_MEMBERS:
        raise Conflict(N_("A department has at most 200 members."), code="promotion.too_many_members")
    session.add(PromotionDepartmentMember(department_id=department.id, user_id=user.id))
    try:
        await session.flush()
    except IntegrityError:  # added by someone else at the same moment
        await session.rollback()
        raise FormInvalid({"email": N_("This person is in the department already.")}) from None
    await _commit(session, expo, "promotion.department_member_added", actor, department.id, user=user.id)
    return user


async def remove_member(
    session: AsyncSession, expo: Expo, department: PromotionDepartment, user_id: int, actor: User
) -> None:
    """Take someone out of the department: from now on they see none of its projects."""
    assert department.id is not None
    row = await session.get(PromotionDepartmentMember, (department.id, user_id))
    if row is None:
        raise NotFound(N_("This person is not in the department."), code="promotion.unknown_member")
    await session.delete(row)
    await _commit(session, expo, "promotion.department_member_removed", actor, department.id, user=user_id)
