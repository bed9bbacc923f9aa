"""The e-mails of booth applications, in each recipient's language (see :mod:`expo.mail.letters`)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStatus
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
