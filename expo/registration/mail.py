"""The e-mails registration sends, in each recipient's language (see :mod:`expo.mail.letters`)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.errors import N_
from expo.expos.models import Expo
from expo.mail.letters import Letters
from expo.registration.badges import show_short_code
from expo.registration.models import Registration, RegistrationStatus


class Mailer(Letters):
    """The e-mails of registration: received, decided and cancelled."""

    def status_url(self, expo: Expo) -> str:
        return self.settings.url(f"/expos/{expo.slug}/register")

    async def registered(
        self, session: AsyncSession, expo: Expo, user: User, registration: Registration
    ) -> None:
        if registration.status == RegistrationStatus.APPROVED.value:
            subject = N_("You are registered for %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nyou are registered for %(expo)s. Your badge, with the QR code to show "
                "at the entrance, is here:\n%(url)s\n\nYour check-in code: %(code)s\n"
            )
            url = self.settings.url(f"/expos/{expo.slug}/badge")
        else:
            subject = N_("We received your registration for %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nthank you for registering for %(expo)s. The organizers review each "
                "registration; we will write again when they have decided. Your registration:\n%(url)s\n"
            )
            url = self.status_url(expo)
        code = show_short_code(registration.short_code)
        await self.send(session, user, expo, subject, body, url=url, code=code)

    async def decided(
        self, session: AsyncSession, expo: Expo, user: User, registration: Registration
    ) -> None:
        if registration.status == RegistrationStatus.APPROVED.value:
            subject = N_("Your registration for %(expo)s is approved")
            body = N_(
                "Hello %(name)s,\n\nyour registration for %(expo)s is approved. Your badge, with the QR "
                "code to show at the entrance, is here:\n%(url)s\n\nYour check-in code: %(code)s\n"
            )
            url = self.settings.url(f"/expos/{expo.slug}/badge")
        else:
            subject = N_("Your registration for %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nwe are sorry: the organizers of %(expo)s could not accept your "
                "registration.\n%(url)s\n"
            )
            url = self.status_url(expo)
        code = show_short_code(registration.short_code)
        await self.send(session, user, expo, subject, body, url=url, code=code)

    async def cancelled(
        self, session: AsyncSession, expo: Expo, user: User, registration: Registration
    ) -> None:
        subject = N_("Your registration for %(expo)s is cancelled")
        body = N_(
            "Hello %(name)s,\n\nyour registration for %(expo)s is cancelled, as you asked. You can "
            "register again while registration is open:\n%(url)s\n"
        )
        await self.send(session, user, expo, subject, body, url=self.status_url(expo))
