"""The e-mails registration and exhibitor applications send, in each recipient's language.

Each method queues one message with :func:`expo.registration.outbox.enqueue` in the caller's
session, so it is committed (or rolled back) with the change it reports. Links are absolute,
built from ``public_url``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStatus, Expo
from expo.accounts.models import Role, User
from expo.config import Settings
from expo.errors import N_
from expo.i18n import translations
from expo.registration.models import Registration, RegistrationStatus
from expo.registration.outbox import enqueue


@dataclass(frozen=True)
class Mailer:
    settings: Settings

    def _text(self, user: User, message: str, **params: object) -> str:
        locale = user.locale or self.settings.default_locale
        return translations(locale).gettext(message) % params

    async def _send(
        self, session: AsyncSession, user: User, expo: Expo, subject: str, body: str, **params: object
    ) -> None:
        params = {"expo": expo.title, "name": user.name, **params}
        await enqueue(
            session,
            to=user.email,
            subject=self._text(user, subject, **params),
            body=self._text(user, body, **params),
            expo_id=expo.id,
            user_id=user.id,
        )

    def status_url(self, expo: Expo) -> str:
        return self.settings.url(f"/expos/{expo.slug}/register")

    async def registered(
        self, session: AsyncSession, expo: Expo, user: User, registration: Registration
    ) -> None:
        if registration.status == RegistrationStatus.APPROVED.value:
            subject = N_("You are registered for %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nyou are registered for %(expo)s. Your badge, with the QR code to show "
                "at the entrance, is here:\n%(url)s\n"
            )
            url = self.settings.url(f"/expos/{expo.slug}/badge")
        else:
            subject = N_("We received your registration for %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nthank you for registering for %(expo)s. The organizers review each "
                "registration; we will write again when they have decided. Your registration:\n%(url)s\n"
            )
            url = self.status_url(expo)
        await self._send(session, user, expo, subject, body, url=url)

    async def decided(
        self, session: AsyncSession, expo: Expo, user: User, registration: Registration
    ) -> None:
        if registration.status == RegistrationStatus.APPROVED.value:
            subject = N_("Your registration for %(expo)s is approved")
            body = N_(
                "Hello %(name)s,\n\nyour registration for %(expo)s is approved. Your badge, with the QR "
                "code to show at the entrance, is here:\n%(url)s\n"
            )
            url = self.settings.url(f"/expos/{expo.slug}/badge")
        else:
            subject = N_("Your registration for %(expo)s")
            body = N_(
                "Hello %(name)s,\n\nwe are sorry: the organizers of %(expo)s could not accept your "
                "registration.\n%(url)s\n"
            )
            url = self.status_url(expo)
        await self._send(session, user, expo, subject, body, url=url)

    async def cancelled(
        self, session: AsyncSession, expo: Expo, user: User, registration: Registration
    ) -> None:
        subject = N_("Your registration for %(expo)s is cancelled")
        body = N_(
            "Hello %(name)s,\n\nyour registration for %(expo)s is cancelled, as you asked. You can "
            "register again while registration is open:\n%(url)s\n"
        )
        await self._send(session, user, expo, subject, body, url=self.status_url(expo))

    async def application_received(self, session: AsyncSession, expo: Expo, booth: Booth) -> None:
        """Tell the expo's organizers that an exhibitor applied for a booth."""
        for organizer in await organizers_of(session, expo):
            subject = N_("New exhibitor application: %(booth)s")
            body = N_(
                "Hello %(name)s,\n\n%(booth)s applied for a booth at %(expo)s. "
                "Review the application:\n%(url)s\n"
            )
            url = self.settings.url(f"/organizer/expos/{expo.slug}#applications")
            await self._send(session, organizer, expo, subject, body, booth=booth.name, url=url)

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
        await self._send(session, applicant, expo, subject, body, booth=booth.name, url=url)


async def organizers_of(session: AsyncSession, expo: Expo) -> list[User]:
    """The expo's creator, or every active organizer for an expo created from the command line."""
    query = select(User).where(User.role == Role.ORGANIZER.value, col(User.is_active).is_(True))
    if expo.created_by is not None:
        query = query.where(User.id == expo.created_by)
    return list((await session.exec(query.order_by(col(User.id)))).all())
