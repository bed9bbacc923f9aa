"""Links to the places an account works in that the core does not know of, for its account page and
header (a department's desk: "My department's projects").

The account page sits in the core, below the domains that know where someone works, so it asks this
small interface; a domain implements it and the app's assembly adds it to the platform
(``platform.add(links, kind=WorkLinks)``). Pages reach it with ``platform(request).get(WorkLinks)``.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User

NavLink = tuple[str, str]  # (path, gettext message id of its label)


class WorkLinks:
    """The header links of ``user``'s places of work; none here. Each costs at most one indexed
    query: it is asked on the pages that draw them (the account page, the domain's own)."""

    async def links(self, session: AsyncSession, user: User) -> list[NavLink]:
        return []
