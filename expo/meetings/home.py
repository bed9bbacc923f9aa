"""``/exhibitor``: the exhibitor's home, which shows per booth what waits for them: new leads,
meeting requests to answer, and the booth's broadcast that is live now or comes next, each with a
link to where it is handled.

It reads leads (``booths``), meeting requests (this domain) and broadcasts (through the core's
:class:`~expo.showcase.LiveListings`), so it lives in the highest domain it reads from, as the
visitor's home lives in ``streaming``; the core's account pages only link to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import leads
from booths.models import Booth
from booths.services import booths_of
from expo.accounts.models import Role, User
from expo.auth import platform
from expo.expos.models import Expo
from expo.expos.services import list_expos, team_expos
from expo.http.pages import page_locale, render
from expo.meetings import services as meetings
from expo.permissions import require_page_user
from expo.showcase import Listing, LiveListings

MAX_LISTED_EXPOS = 100


@dataclass(frozen=True, slots=True)
class BoothAttention:
    """What waits for a booth's staff: leads none of them opened, meeting requests still to
    answer, and its broadcast live now (else the next one)."""

    booth: Booth
    expo: Expo
    new_leads: int = 0
    meeting_requests: int = 0
    broadcast: Listing | None = None


async def attention(
    session: AsyncSession, user: User, listings: LiveListings, locale: str
) -> list[BoothAttention]:
    """One entry per booth ``user`` is on the staff of, by expo and booth name."""
    booths = [b for b in await booths_of(session, user) if b.id is not None]
    ids = [b.id for b in booths if b.id is not None]
    expo_ids = {b.expo_id for b in booths}
    expos = {e.id: e for e in (await session.exec(select(Expo).where(col(Expo.id).in_(expo_ids)))).all()}
    new_leads = await leads.new_counts(session, ids)
    requests = await meetings.waiting_counts(session, ids)
    out = []
    for booth in booths:
        assert booth.id is not None
        showcase = await listings.for_booth(session, user, booth.id, locale=locale)
        out.append(
            BoothAttention(
                booth=booth,
                expo=expos[booth.expo_id],
                new_leads=new_leads.get(booth.id, 0),
                meeting_requests=requests.get(booth.id, 0),
                broadcast=showcase.broadcast,
            )
        )
    return sorted(out, key=lambda a: (a.expo.title.casefold(), a.booth.name.casefold()))


async def exhibitor_home(request: Request) -> Response:
    """The exhibitor's home: their booths with what needs attention, then the expos and tools."""
    user = await require_page_user(request, [Role.EXHIBITOR])
    locale = await page_locale(request)
    p = platform(request)
    async with p.db.session() as session:
        booths = await attention(session, user, p.get(LiveListings), locale)
        expos = await list_expos(session, MAX_LISTED_EXPOS)
        helping = await team_expos(session, user)
    context = {"booths": booths, "expos": expos, "team_expos": helping}
    return await render(request, "exhibitor.html", context)


ROUTES: list[BaseRoute] = [Route("/exhibitor", exhibitor_home, methods=["GET"])]
