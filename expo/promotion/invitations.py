"""Online invitation letters: the organizer sends investors, listed in a CSV file, a personal letter
each through the outbox, and follows how far each got.

Each letter carries a link of its own, ``/expos/{slug}/invest/invited/{token}``: the token is the
invitation's id signed with the platform's secret (:func:`expo.security.sign`), so it cannot be
guessed or altered, and a changed one is refused. Following it greets the investor by name on the
promotion site and records **opened**; signing up or signing in through it records
**registered** with the account; a project filed from that account records **filed**
(:func:`mark_invitation`, which project filing calls). Each moment is written once, the first
time, and the funnel only moves forward.

Who invites: the expo's team with :attr:`~expo.permissions.Perm.CHANGE_EXPO`, who run its
promotion site. An address is invited once per expo: a second invitation is refused, as the
second of two organizers sending the same list at once is.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, Invalid, NotFound
from expo.expos.models import Expo
from expo.i18n import localized
from expo.mail.letters import Letters
from expo.promotion.invitations_csv import Invitee, Problem, Reading, read_invitees
from expo.promotion.models import PromotionInvitation, PromotionSite
from expo.security import sign, unsign

PURPOSE = "promotion-invitation"
LIST_LIMIT = 5000


class Stage(enum.StrEnum):
    """How far an invitation got, in order."""

    SENT = "sent"
    OPENED = "opened"
    REGISTERED = "registered"
    FILED = "filed"


STAGE_NAMES = {
    Stage.SENT: N_("Sent"),
    Stage.OPENED: N_("Opened"),
    Stage.REGISTERED: N_("Registered"),
    Stage.FILED: N_("Filed a project"),
}
_MOMENT = {Stage.OPENED: "opened_at", Stage.REGISTERED: "registered_at", Stage.FILED: "filed_at"}


def stage_of(invitation: PromotionInvitation) -> Stage:
    """The furthest stage the invitation reached."""
    for stage in (Stage.FILED, Stage.REGISTERED, Stage.OPENED):
        if getattr(invitation, _MOMENT[stage]) is not None:
            return stage
    return Stage.SENT


class InvitationsInvalid(Invalid):
    """The file cannot be sent as it is; ``details`` lists ``{"line", "message"}`` per problem."""

    code = "invitation.invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        where = f"line {first.line}: " if first.line else ""
        more = f" ({len(problems)} problems)" if len(problems) > 1 else ""
        super().__init__(
            f"{where}{'; '.join(first.reasons)}{more}; nothing was sent.",
            details=[p.as_dict() for p in problems],
        )
        self.problems = list(problems)


# Links ---------------------------------------------------------------------------------------------------


def token_for(secret: str, invitation: PromotionInvitation) -> str:
    return sign(secret, PURPOSE, {"e": invitation.expo_id, "i": invitation.id})


def link_for(slug: str, secret: str, invitation: PromotionInvitation) -> str:
    return f"/expos/{slug}/invest/invited/{token_for(secret, invitation)}"


async def by_token(session: AsyncSession, expo: Expo, secret: str, token: str) -> PromotionInvitation:
    """The invitation a link names, or :class:`NotFound` for a forged, altered or foreign link."""
    data = unsign(secret, PURPOSE, token) if len(token) <= 200 else None
    invitation_id = data.get("i") if isinstance(data, dict) and data.get("e") == expo.id else None
    invitation = (
        await session.get(PromotionInvitation, invitation_id) if isinstance(invitation_id, int) else None
    )
    if invitation is None or invitation.expo_id != expo.id:
        raise NotFound(N_("This invitation link is not valid."), code="invitation.unknown")
    return invitation


# Reading a list ------------------------------------------------------------------------------------------


async def invited_addresses(session: AsyncSession, expo: Expo, emails: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(emails), 500):  # keeps each IN list well under the stores' limits
        chunk = list(emails[start : start + 500])
        query = select(PromotionInvitation.email).where(
            PromotionInvitation.expo_id == expo.id, col(PromotionInvitation.email).in_(chunk)
        )
        found.update((await session.exec(query)).all())
    return found


async def preview(session: AsyncSession, expo: Expo, data: bytes) -> Reading:
    """The file's rows checked, addresses this expo invited already among the problems."""
    reading = read_invitees(data)
    if not reading.invitees:
        return reading
    taken = await invited_addresses(session, expo, [i.email for i in reading.invitees])
    if taken:
        for invitee in reading.invitees:
            if invitee.email in taken:
                reading.problems.append(Problem(invitee.line, (f"{invitee.email} was invited already",)))
        reading.invitees = [i for i in reading.invitees if i.email not in taken]
        reading.problems.sort(key=lambda p: p.line)
    return reading


# Sending -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    invitations: list[PromotionInvitation]
    skipped: list[Problem]


async def send(
    session: AsyncSession,
    expo: Expo,
    data: bytes,
    actor: User,
    letters: InvitationLetters,
    secret: str,
    *,
    good_rows_only: bool = False,
) -> Sent:
    """Invite everyone the file lists, a letter each, in one transaction: all or nothing.

    A file with problems is refused (:class:`InvitationsInvalid`, nothing sent) unless
    ``good_rows_only``, when the good rows are sent and the problems returned.
    """
    reading = await preview(session, expo, data)
    if reading.problems and (not good_rows_only or not reading.invitees):
        raise InvitationsInvalid(reading.problems)
    assert expo.id is not None
    site = (await session.exec(select(PromotionSite).where(PromotionSite.expo_id == expo.id))).first()
    now = utcnow()
    made = [_invitation(expo.id, invitee, now) for invitee in reading.invitees]
    session.add_all(made)
    try:
        await session.flush()
    except IntegrityError:
        # Another organizer invited one of these addresses meanwhile: the unique index decides.
        await session.rollback()
        problem = Problem(0, ("some of these addresses were invited meanwhile; preview the file again",))
        raise InvitationsInvalid([problem]) from None
    for invitation in made:
        await letters.invitation(session, expo, site, invitation, link_for(expo.slug, secret, invitation))
    audit.record(session, "invitation.sent", actor_id=actor.id, target=f"expo:{expo.id}", count=len(made))
    await session.commit()
    return Sent(made, reading.problems)


def _invitation(expo_id: int, invitee: Invitee, now: datetime) -> PromotionInvitation:
    return PromotionInvitation(
        expo_id=expo_id,
        email=invitee.email,
        name=invitee.name,
        company=invitee.company,
        language=invitee.language,
        sent_at=now,
    )


# The funnel ----------------------------------------------------------------------------------------------


def advance(invitation: PromotionInvitation, stage: Stage, user: User | None = None) -> bool:
    """Record that ``invitation`` reached ``stage`` (and the stages before it) now, unless it did
    before; with ``user``, the account it registered. Whether anything changed."""
    order = [Stage.OPENED, Stage.REGISTERED, Stage.FILED]
    now = utcnow()
    changed = False
    for step in order[: order.index(stage) + 1]:
        if getattr(invitation, _MOMENT[step]) is None:
            setattr(invitation, _MOMENT[step], now)
            changed = True
    if user is not None and invitation.user_id is None and stage is not Stage.OPENED:
        invitation.user_id = user.id
        changed = True
    return changed


async def open_invitation(session: AsyncSession, invitation: PromotionInvitation, user: User | None) -> None:
    """The investor followed their link: opened, and registered when they are signed in."""
    stage = Stage.REGISTERED if user is not None else Stage.OPENED
    if advance(invitation, stage, user):
        session.add(invitation)
        await session.commit()


async def mark_invitation(session: AsyncSession, expo_id: int, user_id: int, stage: str) -> bool:
    """Record that the account ``user_id`` reached ``stage`` (``"filed"``: filed a project) on the
    invitation it registered through in the expo, if any. Added to the caller's transaction (the
    caller commits, with the change it reports); whether an invitation moved.

    Project filing calls ``mark_invitation(session, expo_id, user_id, "filed")``.
    """
    wanted = Stage(stage)
    if wanted is Stage.SENT:
        return False
    query = select(PromotionInvitation).where(
        PromotionInvitation.expo_id == expo_id, PromotionInvitation.user_id == user_id
    )
    moved = False
    for invitation in (await session.exec(query)).all():
        if advance(invitation, wanted):
            session.add(invitation)
            moved = True
    return moved


async def invitations(session: AsyncSession, expo: Expo) -> list[PromotionInvitation]:
    query = (
        select(PromotionInvitation)
        .where(PromotionInvitation.expo_id == expo.id)
        .order_by(col(PromotionInvitation.sent_at).desc(), col(PromotionInvitation.id).desc())
    )
    return list((await session.exec(query.limit(LIST_LIMIT))).all())


def funnel(found: Sequence[PromotionInvitation]) -> dict[Stage, int]:
    """How many invitations reached each stage (an opened one counts as sent too)."""
    reached = [stage_of(i) for i in found]
    order = list(Stage)
    return {stage: sum(1 for r in reached if order.index(r) >= order.index(stage)) for stage in Stage}


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "name",
    "email",
    "company",
    "language",
    "stage",
    "sent_at",
    "opened_at",
    "registered_at",
    "filed_at",
)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def funnel_csv(found: Sequence[PromotionInvitation]) -> str:
    """The funnel per invitation as CSV (UTC times), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for i in found:
        row = [i.name, i.email, i.company, i.language, stage_of(i).value]
        writer.writerow([_cell(v) for v in [*row, i.sent_at, i.opened_at, i.registered_at, i.filed_at]])
    return out.getvalue()


# Letters -------------------------------------------------------------------------------------------------


class InvitationLetters(Letters):
    """The invitation letter, in the language the organizer's list gives for each investor."""

    async def invitation(
        self,
        session: AsyncSession,
        expo: Expo,
        site: PromotionSite | None,
        invitation: PromotionInvitation,
        link: str,
    ) -> None:
        locale = invitation.language
        letter = localized(site, "letter_body", locale) if site is not None else ""
        subject = N_("%(name)s, you are invited to %(event)s")
        body = N_(
            "Dear %(name)s,\n\n%(event)s invites %(company)s to discover what it offers investors."
            "\n\n%(letter)s\n\nYour personal invitation:\n%(url)s\n"
        )
        await self.send_to(
            session,
            invitation.email,
            locale,
            expo,
            subject,
            body,
            name=invitation.name,
            event=localized(expo, "title", locale),
            company=invitation.company or self.text(locale, N_("you")),
            letter=letter,
            url=self.settings.url(link),
        )
