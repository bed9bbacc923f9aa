"""Letters: e-mails written in each recipient's language and queued in the caller's transaction.

A domain's mailer subclasses :class:`Letters` and writes one method per message; each method calls
:meth:`Letters.send`, which translates subject and body with the recipient's locale and queues them
with :func:`expo.mail.outbox.enqueue`, so a message is committed (or rolled back) with the change it
reports. Links are absolute, built from ``public_url``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.config import Settings
from expo.expos.models import Expo
from expo.i18n import translations
from expo.mail.outbox import enqueue


@dataclass(frozen=True)
class Letters:
    settings: Settings

    def text(self, locale: str | None, message: str, **params: object) -> str:
        return translations(locale or self.settings.default_locale).gettext(message) % params

    async def send(
        self, session: AsyncSession, user: User, expo: Expo, subject: str, body: str, **params: object
    ) -> None:
        """Queue ``subject`` and ``body`` (gettext ids with ``%(name)s`` parameters) to ``user``."""
        await self.send_to(
            session,
            user.email,
            user.locale,
            expo,
            subject,
            body,
            user_id=user.id,
            name=user.name or user.email,
            **params,
        )

    async def send_to(
        self,
        session: AsyncSession,
        address: str,
        locale: str | None,
        expo: Expo,
        subject: str,
        body: str,
        *,
        user_id: int | None = None,
        **params: object,
    ) -> None:
        """Queue a letter to an address that may have no account yet (an invitation)."""
        params = {"expo": expo.title, "name": address, **params}
        await enqueue(
            session,
            to=address,
            subject=self.text(locale, subject, **params),
            body=self.text(locale, body, **params),
            expo_id=expo.id,
            user_id=user_id,
        )
