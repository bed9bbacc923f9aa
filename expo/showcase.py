"""What is on now and next, for the pages that show it: the home page, the visitor's home, the floor,
booth pages.

Those pages sit in the core and in ``booths``, below the broadcasts they list, so they ask this
small interface; the streaming domain implements it and the app's assembly adds it to the platform
(``platform.add(listings, kind=LiveListings)``). Pages reach it with
``platform(request).get(LiveListings)``. Every method lists only what ``user`` may watch or join,
as the platform's rule for broadcasts says; each strip costs one query (plus the live viewer
counts, read from the realtime bus).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User

STRIP_LIMIT = 6
"""How many broadcasts a "Live now" or "Coming up" strip shows at most."""


class ListingKind(enum.StrEnum):
    BROADCAST = "broadcast"
    ROOM = "room"


@dataclass(frozen=True, slots=True)
class Listing:
    """One broadcast or room as a page lists it: its title in the reader's language, where it
    belongs (expo, booth), the page that opens it, and for a live broadcast its viewers now."""

    kind: ListingKind
    id: int
    title: str
    url: str
    expo_slug: str
    expo_title: str
    timezone: str
    live: bool
    starts_at: datetime | None = None  # scheduled start, UTC
    booth_id: int | None = None
    booth_name: str = ""
    live_viewers: int | None = None

    @property
    def booth_url(self) -> str | None:
        return f"/expos/{self.expo_slug}/booths/{self.booth_id}" if self.booth_id is not None else None

    @property
    def local_start(self) -> datetime | None:
        """The scheduled start in the expo's timezone (UTC when the zone is unknown here)."""
        if self.starts_at is None:
            return None
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        start = self.starts_at if self.starts_at.tzinfo else self.starts_at.replace(tzinfo=UTC)
        return start.astimezone(zone)


@dataclass(frozen=True, slots=True)
class BoothShowcase:
    """A booth's own broadcast (live now, else the next one) and its open "meet us now" room."""

    broadcast: Listing | None = None
    room: Listing | None = None


class LiveListings:
    """Live and upcoming broadcasts, and booths' open rooms, as the reader may see them.

    ``expo_id`` narrows a list to one expo (``None``: every expo, for the platform's home page),
    ``booth_id`` to one booth; ``locale`` chooses the titles' language.

    A plain base class rather than an ABC, so that ``platform.get(LiveListings)`` type-checks; the
    streaming domain's subclass implements every method.
    """

    async def live_now(
        self,
        session: AsyncSession,
        user: User | None,
        *,
        expo_id: int | None = None,
        locale: str,
        limit: int = STRIP_LIMIT,
    ) -> list[Listing]:
        """Broadcasts live now, most recently started first, with their live viewer counts."""
        raise NotImplementedError

    async def coming_up(
        self,
        session: AsyncSession,
        user: User | None,
        *,
        expo_id: int | None = None,
        locale: str,
        limit: int = STRIP_LIMIT,
    ) -> list[Listing]:
        """Scheduled broadcasts that have not started nor ended, soonest first."""
        raise NotImplementedError

    async def for_booth(
        self, session: AsyncSession, user: User | None, booth_id: int, *, locale: str
    ) -> BoothShowcase:
        """The booth's live (else next) broadcast and its open room, if any."""
        raise NotImplementedError

    async def live_booths(
        self, session: AsyncSession, user: User | None, expo_id: int, booth_ids: set[int]
    ) -> set[int]:
        """Which of ``booth_ids`` present a broadcast that is live now (one query)."""
        raise NotImplementedError
