"""The e-mails of a project's circulation: the members of a department hear, in their own
language, that a project was assigned or handed over to it, what to do and by when. Queued
through the outbox in the caller's transaction (:class:`expo.mail.letters.Letters`)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.errors import N_
from expo.expos.models import Expo
from expo.i18n import localized
from expo.mail.letters import Letters
from expo.promotion import departments
from expo.promotion.models import PromotionCirculation, PromotionDepartment, PromotionProject


def desk_url(slug: str, project_id: int | None) -> str:
    """The project's page for its departments."""
    return f"/expos/{slug}/departments/projects/{project_id}"


class CirculationLetters(Letters):
    """The e-mails of the circulation, in each recipient's language."""

    async def assigned(
        self,
        session: AsyncSession,
        expo: Expo,
        project: PromotionProject,
        step: PromotionCirculation,
        department: PromotionDepartment,
        *,
        handed_over: bool = False,
    ) -> None:
        """Tell the department's members that a project came to them, and what to do."""
        subject = (
            N_("%(project)s was handed over to %(department)s")
            if handed_over
            else N_("%(project)s was assigned to %(department)s")
        )
        text = N_(
            "Hello %(name)s,\n\nthe project %(project)s of %(expo)s is now with %(department)s.\n\n"
            "What to do: %(task)s\nDue: %(due)s\n\nOpen it:\n%(url)s\n"
        )
        await self._to_members(session, expo, project, step, subject, text, department)

    async def overdue(
        self, session: AsyncSession, expo: Expo, project: PromotionProject, step: PromotionCirculation
    ) -> None:
        """Remind the department's members of a step whose due date passed while it is open."""
        subject = N_("Overdue: %(project)s was due with %(department)s on %(due)s")
        text = N_(
            "Hello %(name)s,\n\nthe project %(project)s of %(expo)s was due with %(department)s on "
            "%(due)s and is still open.\n\nWhat to do: %(task)s\n\nFinish it or hand it over:\n%(url)s\n"
        )
        await self._to_members(session, expo, project, step, subject, text)

    async def _to_members(
        self,
        session: AsyncSession,
        expo: Expo,
        project: PromotionProject,
        step: PromotionCirculation,
        subject: str,
        text: str,
        department: PromotionDepartment | None = None,
    ) -> None:
        """Send a letter about ``step`` to each member of its department, in their language."""
        department = department or await departments.department_of(session, expo, step.department_id)
        url = self.settings.url(desk_url(expo.slug, project.id))
        due = step.due_date.isoformat() if step.due_date else "—"
        for member in await departments.members(session, step.department_id):
            locale = member.locale or self.settings.default_locale
            await self.send(
                session,
                member,
                expo,
                subject,
                text,
                project=project.company,
                department=localized(department, "name", locale),
                task=step.note,
                due=due,
                url=url,
            )
