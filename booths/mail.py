"""The e-mails of booths, in each recipient's language (see :mod:`expo.mail.letters`): applications
and their outcome, a new lead for the booth's staff, and the booth's reply to a lead's visitor."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStatus, Lead, LeadKind
from booths.services import list_staff
from expo.accounts.models import User
from expo.errors import N_
from expo.expos.models import Expo
from expo.expos.team import members_with
from expo.mail.letters import Letters
from expo.permissions import Perm


class BoothMailer(Letters):
    async def application_received(self, session: AsyncSession, expo: Expo, booth: Booth) -> None:
        """Tell the expo's booth managers that an exhibitor applied for a booth."""
        assert expo.id is not None
        for organizer in await members_with(session, expo.id, Perm.MANAGE_BOOTHS):
            subject = N_("New exhibitor application: %(booth)s")
            body = N_(
                "Hello %(name)s,\n\n%(booth)s applied for a booth at %(expo)s. "
                "Review the application:\n%(url)s\n"
            )
            url = self.settings.url(f"/organizer/expos/{expo.slug}#applications")
            await self.send(session, organizer, expo, subject, body, booth=booth.name, url=url)

    async def application_decided(
        self, session: AsyncSession, expo: Expo, booth: Booth, applicant: User
    ) -> None:
        """Tell the applicant (the booth's owner) what the organizers decided."""
        if booth.status == BoothStatus.APPROVED.value:
            subject = N_("Your booth %(booth)s at %(expo)s is approved")
            body = N_(
                "Hello %(name)s,\n\nyour application for the booth %(booth)s at %(expo)s is approved. "
                "Fill in your booth and products:\n%(url)s\n"
            )
        else:
            subject = N_("Your booth application at %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nwe are sorry: the organizers of %(expo)s did not accept the booth "
                "%(booth)s.\n%(url)s\n"
            )
        url = self.settings.url(f"/booths/{booth.id}/edit")
        await self.send(session, applicant, expo, subject, body, booth=booth.name, url=url)

    async def to_staff(
        self, session: AsyncSession, expo: Expo, booth: Booth, subject: str, body: str, **params: object
    ) -> None:
        """Queue one letter to each active member of the booth's staff, each in their own language."""
        for _, member in await list_staff(session, booth):
            if member.is_active:
                await self.send(session, member, expo, subject, body, booth=booth.name, **params)

    async def new_lead(self, session: AsyncSession, expo: Expo, booth: Booth, lead: Lead) -> None:
        """Tell the booth's staff that a visitor sent an inquiry or left a business card."""
        if lead.kind == LeadKind.INQUIRY.value:
            subject = N_("New inquiry at %(booth)s from %(visitor)s")
            body = N_(
                "Hello %(name)s,\n\n%(visitor)s sent %(booth)s a message at %(expo)s:\n\n%(inquiry)s\n\n"
                "Read and answer it:\n%(url)s\n"
            )
        else:
            subject = N_("New business card at %(booth)s")
            body = N_(
                "Hello %(name)s,\n\na visitor left a business card at %(booth)s at %(expo)s.\n\n"
                "See it in your leads:\n%(url)s\n"
            )
        visitor = str(lead.card.get("name") or lead.card.get("email") or "")
        url = self.settings.url(f"/booths/{booth.id}/leads/{lead.id}")
        await self.to_staff(
            session, expo, booth, subject, body, visitor=visitor, inquiry=lead.message, url=url
        )

    async def lead_replied(
        self, session: AsyncSession, expo: Expo, booth: Booth, visitor: User, reply: str
    ) -> None:
        """Send the booth's reply to the visitor who left the lead."""
        subject = N_("%(booth)s replied to your message")
        body = N_(
            "Hello %(name)s,\n\n%(booth)s replied to you at %(expo)s:\n\n%(reply)s\n\n"
            "Your messages to exhibitors:\n%(url)s\n"
        )
        url = self.settings.url("/my/messages")
        await self.send(session, visitor, expo, subject, body, booth=booth.name, reply=reply, url=url)
