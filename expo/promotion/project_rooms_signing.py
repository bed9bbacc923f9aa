"""A project's cloud-signing ceremony: opened by the bureau at the "signing" stage, signed by the
bureau's signatory and the investor, and the project's signed record once complete.

Opening one makes a signing-ceremony room (:mod:`streaming.room_services`) owned by the team member
who opened it, its ceremony (:mod:`expo.signing.services`) and two named parties: the bureau's
signatory, as the team names them, and the investor's company, signed for by the investor's
account (their name as the team confirms it, their e-mail). The team uploads the contract on the
ceremony's own set-up page (``/rooms/{id}/signing``); the investor is told by e-mail, with their
signing link. A project has one ceremony at a time: another is opened only once the last one's room
was ended without completing.

When the last party signs, :func:`on_ceremony_completed` (a hook of
:class:`expo.signing.completion.Completions`, added by the app's assembly) moves the project from
"signing" to "signed" in the same transaction: a move of the pipeline's rules
(:data:`expo.promotion.projects.MOVES`), by nobody (the system), bumping the project's version,
written to its history with the ceremony's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid
from expo.expos.models import Expo
from expo.mail.letters import Letters
from expo.promotion import project_rooms, projects
from expo.promotion.models import PromotionProject
from expo.promotion.services import FormInvalid
from expo.signing import services as signing
from expo.signing.api import signing_url
from expo.signing.models import SigningCeremony
from streaming import room_services
from streaming.models import Room, RoomKind
from streaming.room_services import RoomRole

SIGNING_STAGE = "signing"
SIGNED_STAGE = "signed"


async def _current(session: AsyncSession, project: PromotionProject) -> tuple[SigningCeremony, Room] | None:
    if project.ceremony_id is None:
        return None
    ceremony = await session.get(SigningCeremony, project.ceremony_id)
    room = await session.get(Room, ceremony.room_id) if ceremony is not None else None
    return (ceremony, room) if ceremony is not None and room is not None else None


def _check(
    values: dict[str, str], investor: User, company: str
) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """The bureau's party and the investor's, checked by signing's rules: every bad field named."""
    errors: dict[str, str] = {}
    bureau = investor_party = ("", "", "")
    try:
        bureau = signing.check_party(
            values.get("party", ""), values.get("signer_name", ""), values.get("email", "")
        )
    except Invalid as exc:
        errors[str(exc.extra.get("field") or "party")] = exc.message
    try:
        investor_party = signing.check_party(company, values.get("investor_signer", ""), investor.email)
    except Invalid as exc:
        errors["investor_signer"] = exc.message
    if not errors and bureau[2] == investor_party[2]:
        errors["email"] = N_("The bureau's signatory needs an e-mail address of their own.")
    if errors:
        raise FormInvalid(errors)
    return bureau, investor_party


async def open_ceremony(
    session: AsyncSession,
    settings: Settings,
    expo: Expo,
    project: PromotionProject,
    values: dict[str, str],
    actor: User,
) -> SigningCeremony:
    """Open the project's signing ceremony with its two parties named (see the module): 409
    ``promotion.not_at_signing`` before or after the signing stage, ``promotion.ceremony_open``
    while the project has one that is not over; :class:`FormInvalid` for a bad party."""
    if project.stage != SIGNING_STAGE:
        raise Conflict(
            N_("A signing ceremony is opened when the project is at the signing stage."),
            code="promotion.not_at_signing",
        )
    current = await _current(session, project)
    if current is not None and (current[0].completed_at is not None or current[1].ended_at is None):
        raise Conflict(N_("This project has a signing ceremony already."), code="promotion.ceremony_open")
    investor = await session.get(User, project.investor_id)
    assert investor is not None  # a project goes with its investor's account
    bureau, investor_party = _check(values, investor, project.company)
    room = await room_services.add_room(
        session,
        expo=expo,
        title=project.company[: room_services.TITLE_MAX],
        owner=actor,
        kind=RoomKind.SIGNING_CEREMONY,
    )
    ceremony = await signing.ensure_ceremony(session, room, actor)
    # Of two team members opening a ceremony at once, one links it; the other's is rolled back.
    linked = await session.exec(
        update(PromotionProject)
        .where(
            col(PromotionProject.id) == project.id,
            col(PromotionProject.ceremony_id).is_(None)
            if project.ceremony_id is None
            else col(PromotionProject.ceremony_id) == project.ceremony_id,
        )
        .values(ceremony_id=ceremony.id, updated_at=utcnow())
    )
    if linked.rowcount != 1:
        await session.rollback()
        raise Conflict(N_("This project has a signing ceremony already."), code="promotion.ceremony_open")
    audit.record(
        session,
        "promotion.project_ceremony_opened",
        actor_id=actor.id,
        target=projects.target(project),
        ceremony=ceremony.id,
        room=room.id,
    )
    for party, signer_name, email in (bureau, investor_party):
        await signing.add_party(
            session, room, actor, party=party, signer_name=signer_name, email=email, commit=False
        )
    await _tell_investor(session, settings, expo, project, investor, room, ceremony)
    await session.commit()  # the room, the ceremony, its parties and the letter: all or nothing
    await session.refresh(project)
    return ceremony


async def _tell_investor(
    session: AsyncSession,
    settings: Settings,
    expo: Expo,
    project: PromotionProject,
    investor: User,
    room: Room,
    ceremony: SigningCeremony,
) -> None:
    party = await signing.party_for(session, ceremony, user=investor)
    if party is None:
        return
    subject = N_("Signing ceremony for %(company)s")
    body = N_(
        "Hello %(name)s,\n\nthe investment bureau of %(expo)s opened the cloud-signing ceremony of "
        "%(company)s. Read and sign the contract at your signing link once the bureau has put it "
        "there:\n%(link)s\n\nThe signed record and its certificate will be on your project's page: "
        "%(url)s\n"
    )
    await Letters(settings).send(
        session,
        investor,
        expo,
        subject,
        body,
        company=project.company,
        link=signing_url(settings, room, party),
        url=settings.url(f"/expos/{expo.slug}/invest/projects/{project.id}"),
    )


async def on_ceremony_completed(session: AsyncSession, ceremony: SigningCeremony) -> None:
    """The hook: the project signed in ``ceremony`` moves from "signing" to "signed" (if it is still
    there; a project the bureau moved back meanwhile stays where it is). Never commits."""
    project = (
        await session.exec(select(PromotionProject).where(PromotionProject.ceremony_id == ceremony.id))
    ).first()
    if (
        project is None
        or project.stage != SIGNING_STAGE
        or not projects.may_move(project.stage, SIGNED_STAGE)
    ):
        return
    moved = await session.exec(
        update(PromotionProject)
        .where(
            col(PromotionProject.id) == project.id,
            col(PromotionProject.version) == project.version,
            col(PromotionProject.stage) == SIGNING_STAGE,
        )
        .values(stage=SIGNED_STAGE, version=project.version + 1, updated_at=utcnow())
    )
    if moved.rowcount == 1:
        audit.record(
            session,
            "promotion.project_moved",
            actor_id=None,
            target=projects.target(project),
            to=SIGNED_STAGE,
            ceremony=ceremony.id,
            **{"from": SIGNING_STAGE},
        )


# Reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CeremonyView:
    """A project's ceremony as its pages show it: the signing record, the certificate's links, and
    the reader's ways in (the team: the set-up page and the host link; the investor: their
    signing link), while the room is open."""

    record: signing.Record
    certificate: str
    certificate_pdf: str
    setup: str
    room_link: str
    signing_link: str

    @property
    def complete(self) -> bool:
        return self.record.ceremony.completed_at is not None

    @property
    def open(self) -> bool:
        return self.record.room.ended_at is None and not self.complete


async def ceremony_view(
    session: AsyncSession, project: PromotionProject, reader: User, *, bureau: bool
) -> CeremonyView | None:
    current = await _current(session, project)
    if current is None:
        return None
    ceremony, room = current
    record = await signing.record(session, ceremony)
    certificate = f"/signing/certificates/{ceremony.code}"
    view = CeremonyView(record, certificate, certificate + "/certificate.pdf", "", "", "")
    if not view.open:
        return view
    if bureau:
        room_link = room_services.room_path(room, RoomRole.HOST)
        return CeremonyView(
            record, certificate, view.certificate_pdf, f"/rooms/{room.id}/signing", room_link, ""
        )
    party = await signing.party_for(session, ceremony, user=reader)
    link = f"{room_services.room_path(room, RoomRole.GUEST)}&party={party.key}" if party is not None else ""
    return CeremonyView(record, certificate, view.certificate_pdf, "", "", link)


async def page_context(
    session: AsyncSession, expo: Expo, project: PromotionProject, reader: User, *, bureau: bool
) -> dict[str, Any]:
    """What a project page shows of its meetings and ceremony, and (``bureau``) the forms' defaults:
    a meeting named after the company, an hour long; the reader as the bureau's signatory and the
    investor's account name as theirs."""
    role = RoomRole.HOST if bureau else RoomRole.GUEST
    context: dict[str, Any] = {
        "meetings": await project_rooms.meeting_views(session, expo, project, role),
        "ceremony": await ceremony_view(session, project, reader, bureau=bureau),
    }
    if bureau:
        investor = await session.get(User, project.investor_id)
        context.update(
            durations=project_rooms.DURATIONS,
            meeting_values={"title": project.company, "minutes": "60"},
            ceremony_values={
                "party": expo.title,
                "signer_name": reader.name,
                "email": reader.email,
                "investor_signer": investor.name if investor is not None else "",
            },
        )
    return context
