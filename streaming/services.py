"""Broadcast rules: creating streams, who manages them, going live and ending, keys, registrations.

Status machine (:class:`~streaming.models.StreamStatus`)::

    scheduled --go_live--> live --end--> ended --reopen (its managers)--> scheduled
        \\-----------------end (cancelled)---^

* :func:`go_live` is accepted while *scheduled* and while already *live*: an encoder that drops
  without a WHIP ``DELETE`` leaves the stream live, and publishing again resumes it (the WHIP layer
  decides whether a second publisher is a conflict, since only it knows who is connected).
* :func:`end` is idempotent; whoever manages a stream can :func:`reopen` it to go live again.

Who may do what is :mod:`streaming.access`' question (which asks :mod:`expo.permissions`).

Services own their transactions: each mutating call commits, writes an audit record in the same
transaction, and (given a bus) announces status changes on the stream's channel afterwards.
Mutating services reload the row inside their own session and change only their own columns, so a
stale ``Stream`` object in the caller's hand never overwrites figures (``peak_viewers``) that the
audience tracker raised in the meantime.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth
from booths.services import booth_role
from expo import audit
from expo.accounts.models import User
from expo.bus import Bus
from expo.config import Settings
from expo.db import utcnow
from expo.errors import Conflict, Invalid, NotFound, Unauthorized
from expo.expos.models import Expo
from expo.permissions import may_manage_broadcast, require, standing
from streaming.access import require_manager, require_presenter
from streaming.models import Recording, Stream, StreamRegistration, StreamStatus, Visibility

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
KEY_BYTES = 32
"""Random bytes in a stream key: ``token_urlsafe(32)`` is 43 URL-safe characters."""


def channel(stream_id: int) -> str:
    """The bus channel carrying a stream's live events (viewers, status, chat)."""
    return f"stream:{stream_id}"


@dataclass(frozen=True)
class StreamUrls:
    """Absolute URLs of a stream, built from the configured public URL."""

    whip_url: str
    whep_url: str
    hls_url: str
    page_url: str


def stream_urls(settings: Settings, stream: Stream) -> StreamUrls:
    """The contract's URLs for ``stream`` (WHIP ingest, WHEP and HLS playback, the watch page)."""
    sid = stored_id(stream)
    return StreamUrls(
        whip_url=settings.url(f"/api/streams/{sid}/whip"),
        whep_url=settings.url(f"/api/streams/{sid}/whep"),
        hls_url=settings.url(f"/live/{sid}/index.m3u8"),
        page_url=settings.url(f"/watch/{sid}"),
    )


def new_key() -> str:
    """A fresh stream key (the WHIP bearer token): 43 URL-safe characters, the first a letter.

    A key starting with ``-`` reads as an option to command-line encoders that take it as an
    argument, so such draws (about one in five, with ``_`` and digits) are drawn again.
    """
    while True:
        key = secrets.token_urlsafe(KEY_BYTES)
        if key[0].isascii() and key[0].isalpha():
            return key


def key_matches(stream: Stream, presented: str) -> bool:
    """Whether ``presented`` is the stream's current key, compared in constant time."""
    return hmac.compare_digest(stream.key.encode(), presented.encode())


# Validation ---------------------------------------------------------------------------------------


def check_translations(expo: Expo, translations: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    """A broadcast's title and description in the expo's other languages, as stored (no empty text)."""
    stored: dict[str, Any] = {}
    for lang, text in (translations or {}).items():
        if lang not in expo.language_list:
            raise Invalid(f"This expo does not use the language {lang!r}.", code="stream.invalid_languages")
        kept = {k: v.strip() for k, v in text.items() if k in ("title", "description") and v.strip()}
        if len(kept.get("title", "")) > TITLE_MAX or len(kept.get("description", "")) > 5000:
            raise Invalid("A translated title or description is too long.", code="stream.invalid_title")
        if kept:
            stored[lang] = kept
    return stored


def check_title(title: str) -> str:
    """The title stripped, if it has 1 to 200 characters."""
    title = title.strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise Invalid(f"A stream title has 1 to {TITLE_MAX} characters.", code="stream.invalid_title")
    return title


def check_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX:
        raise Invalid(
            f"A description has at most {DESCRIPTION_MAX} characters.", code="stream.invalid_description"
        )
    return description


def as_utc(moment: datetime | None) -> datetime | None:
    """Aware UTC; a naive time is taken to be UTC already (what API clients usually mean)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _check_schedule(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise Invalid("The planned end must come after the start.", code="stream.invalid_schedule")


def stored_id(stream: Stream) -> int:
    """The id of a stream row that has been stored (an unsaved one is a programming error)."""
    assert stream.id is not None, "the stream has not been stored yet"
    return stream.id


# Reading and permissions --------------------------------------------------------------------------


async def get_stream(session: AsyncSession, stream_id: int) -> Stream:
    """The stream, freshly read, or :class:`NotFound` (``stream.unknown``)."""
    query = select(Stream).where(Stream.id == stream_id).execution_options(populate_existing=True)
    stream = (await session.exec(query)).first()
    if stream is None:
        raise NotFound(f"There is no stream {stream_id}.", code="stream.unknown")
    return stream


async def live_stream_ids(session: AsyncSession) -> list[int]:
    """Ids of every stream marked *live* in the store, whichever expo and process."""
    found = await session.exec(select(Stream.id).where(Stream.status == StreamStatus.LIVE.value))
    return [stream_id for stream_id in found.all() if stream_id is not None]


async def list_streams(session: AsyncSession, expo: Expo, status: StreamStatus | None = None) -> list[Stream]:
    """An expo's streams, soonest first (unscheduled ones by creation), optionally of one status."""
    query = select(Stream).where(Stream.expo_id == expo.id)
    if status is not None:
        query = query.where(Stream.status == status.value)
    query = query.order_by(col(Stream.scheduled_start).is_(None), col(Stream.scheduled_start), col(Stream.id))
    return list((await session.exec(query)).all())


def can_watch(user: User | None, stream: Stream) -> bool:
    """Public streams are open to everyone; ``registered`` ones to signed-in users."""
    if Visibility(stream.visibility) is Visibility.PUBLIC:
        return True
    return user is not None and user.is_active


def require_watcher(user: User | None, stream: Stream) -> None:
    """:class:`Unauthorized` when ``user`` may not watch ``stream`` (see :func:`can_watch`)."""
    if not can_watch(user, stream):
        raise Unauthorized("Sign in to watch this broadcast.", code="stream.sign_in_to_watch")


# Creating and changing ----------------------------------------------------------------------------


async def create_stream(
    session: AsyncSession,
    *,
    expo: Expo,
    title: str,
    owner: User | None,
    description: str = "",
    booth_id: int | None = None,
    visibility: Visibility = Visibility.PUBLIC,
    scheduled_start: datetime | None = None,
    planned_end: datetime | None = None,
    translations: dict[str, dict[str, str]] | None = None,
) -> Stream:
    """Create a scheduled stream with a fresh key. ``owner`` is ``None`` for command-line streams.

    An owner must be allowed to present in the expo (:func:`require_presenter`), and presenting
    for a booth needs its staff or the expo's broadcast managers.
    """
    if owner is not None:
        await require_presenter(session, owner, expo, "stream.forbidden")
    if booth_id is not None:
        await _check_booth(session, expo, booth_id, owner)
    scheduled_start, planned_end = as_utc(scheduled_start), as_utc(planned_end)
    _check_schedule(scheduled_start, planned_end)
    assert expo.id is not None
    stream = Stream(
        expo_id=expo.id,
        booth_id=booth_id,
        owner_id=owner.id if owner is not None else None,
        title=check_title(title),
        description=check_description(description),
        visibility=Visibility(visibility).value,
        key=new_key(),
        scheduled_start=scheduled_start,
        planned_end=planned_end,
        translations=check_translations(expo, translations),
    )
    session.add(stream)
    await session.flush()
    audit.record(
        session,
        "stream.created",
        actor_id=stream.owner_id,
        target=f"stream:{stream.id}",
        expo=expo.slug,
        title=stream.title,
    )
    await session.commit()
    return stream


async def _check_booth(session: AsyncSession, expo: Expo, booth_id: int, owner: User | None) -> None:
    booth = await session.get(Booth, booth_id)
    if booth is None or booth.expo_id != expo.id:
        raise Invalid(f"There is no booth {booth_id} in this expo.", code="stream.unknown_booth")
    if owner is None:
        return
    st = await standing(session, owner, booth.expo_id)
    staff = await booth_role(session, booth_id, owner) is not None
    # The booth presents it, nobody owns it yet: its staff and the broadcast managers may.
    allowed = may_manage_broadcast(st, owner_id=None, booth_staff=staff)
    require(allowed, owner, "You can only present broadcasts for your own booth.", "stream.forbidden")


async def update_stream(
    session: AsyncSession,
    stream: Stream,
    *,
    actor: User | None = None,
    title: str | None = None,
    description: str | None = None,
    visibility: Visibility | None = None,
    scheduled_start: datetime | None = None,
    planned_end: datetime | None = None,
) -> Stream:
    """Change the given fields (``None`` leaves a field as it is). A new ``planned_end`` goes
    through :func:`extend`'s rules; the start can only move while the stream is scheduled."""
    row = await get_stream(session, stored_id(stream))
    if title is not None:
        row.title = check_title(title)
    if description is not None:
        row.description = check_description(description)
    if visibility is not None:
        row.visibility = Visibility(visibility).value
    if scheduled_start is not None:
        if row.status != StreamStatus.SCHEDULED:
            raise Conflict("The start can only move before the stream goes live.", code="stream.started")
        row.scheduled_start = as_utc(scheduled_start)
        _check_schedule(row.scheduled_start, row.planned_end)
    if planned_end is not None:
        _set_planned_end(session, row, planned_end, actor)
    session.add(row)
    await session.commit()
    return row


def _set_planned_end(session: AsyncSession, row: Stream, planned_end: datetime, actor: User | None) -> None:
    if row.status == StreamStatus.ENDED:
        raise Conflict("The stream has ended.", code="stream.ended")
    end = as_utc(planned_end)
    _check_schedule(row.started_at or row.scheduled_start, end)
    before = row.planned_end
    row.planned_end = end
    audit.record(
        session,
        "stream.extended",
        actor_id=actor.id if actor else None,
        target=f"stream:{row.id}",
        before=before,
        after=end,
    )


async def extend(
    session: AsyncSession, stream: Stream, planned_end: datetime, *, actor: User | None = None
) -> Stream:
    """Move the planned end (broadcasts run over); audited with the old and new times."""
    row = await get_stream(session, stored_id(stream))
    _set_planned_end(session, row, planned_end, actor)
    session.add(row)
    await session.commit()
    return row


async def regenerate_key(
    session: AsyncSession, stream: Stream, *, actor: User | None = None, ip: str | None = None
) -> Stream:
    """Replace the stream key; the old one stops matching at once. Audited (without the key)."""
    row = await get_stream(session, stored_id(stream))
    row.key = new_key()
    session.add(row)
    audit.record(
        session,
        "stream.key_regenerated",
        actor_id=actor.id if actor else None,
        target=f"stream:{row.id}",
        ip=ip,
    )
    await session.commit()
    return row


async def go_live(
    session: AsyncSession, stream: Stream, *, actor: User | None = None, bus: Bus | None = None
) -> Stream:
    """Mark the stream live (from *scheduled*, or again while *live* after an encoder drop).

    ``started_at`` keeps the first start. An ended stream raises :class:`Conflict`
    (``stream.ended``). Announces ``{"kind": "status", "status": "live"}`` on ``bus``.
    """
    row = await get_stream(session, stored_id(stream))
    if row.status == StreamStatus.ENDED:
        raise Conflict("The stream has ended; an organizer of its expo can reopen it.", code="stream.ended")
    resumed = row.status == StreamStatus.LIVE
    row.status = StreamStatus.LIVE.value
    row.started_at = row.started_at or utcnow()
    session.add(row)
    audit.record(
        session,
        "stream.resumed" if resumed else "stream.live",
        actor_id=actor.id if actor else None,
        target=f"stream:{row.id}",
    )
    await session.commit()
    await _announce(bus, row)
    return row


async def end(
    session: AsyncSession, stream: Stream, *, actor: User | None = None, bus: Bus | None = None
) -> Stream:
    """End the stream (or cancel a scheduled one). Idempotent: ending an ended stream changes nothing."""
    row = await get_stream(session, stored_id(stream))
    if row.status == StreamStatus.ENDED:
        return row
    row.status = StreamStatus.ENDED.value
    row.ended_at = utcnow()
    session.add(row)
    audit.record(session, "stream.ended", actor_id=actor.id if actor else None, target=f"stream:{row.id}")
    await session.commit()
    await _announce(bus, row)
    return row


async def reopen(session: AsyncSession, stream: Stream, *, actor: User, bus: Bus | None = None) -> Stream:
    """Put an ended stream back to *scheduled* so it can go live again: whoever manages it (its
    owner, its booth's staff, the expo's broadcast managers) may, to resume after a stop."""
    row = await get_stream(session, stored_id(stream))
    await require_manager(session, actor, row)
    if row.status != StreamStatus.ENDED:
        raise Conflict("Only an ended stream can be reopened.", code="stream.not_ended")
    row.status = StreamStatus.SCHEDULED.value
    row.ended_at = None
    session.add(row)
    audit.record(session, "stream.reopened", actor_id=actor.id, target=f"stream:{row.id}")
    await session.commit()
    await _announce(bus, row)
    return row


async def _announce(bus: Bus | None, stream: Stream) -> None:
    if bus is not None:
        event = {"kind": "status", "status": stream.status}
        # After the commit: a bus outage loses the event (pages see the status on reload), not the change.
        await bus.try_publish(channel(stored_id(stream)), json.dumps(event))


# Registrations ------------------------------------------------------------------------------------


async def register(session: AsyncSession, stream: Stream, user: User) -> bool:
    """Register ``user`` for the broadcast; True if this call added the registration.

    Idempotent and race-safe: the insert skips an existing (stream, user) row in the store itself
    (``ON CONFLICT DO NOTHING``), so concurrent requests can never count one person twice.
    """
    row = await get_stream(session, stored_id(stream))
    if row.status == StreamStatus.ENDED:
        raise Conflict("The stream has ended.", code="stream.ended")
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(StreamRegistration)
        .values(stream_id=row.id, user_id=user.id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["stream_id", "user_id"])
    )
    result = await session.exec(statement)
    await session.commit()
    return bool(result.rowcount)


async def unregister(session: AsyncSession, stream: Stream, user: User) -> bool:
    """Withdraw ``user``'s registration; True if there was one."""
    statement = delete(StreamRegistration).where(
        col(StreamRegistration.stream_id) == stored_id(stream), col(StreamRegistration.user_id) == user.id
    )
    result = await session.exec(statement)
    await session.commit()
    return bool(result.rowcount)


async def is_registered(session: AsyncSession, stream: Stream, user: User) -> bool:
    query = select(StreamRegistration.id).where(
        StreamRegistration.stream_id == stored_id(stream), StreamRegistration.user_id == user.id
    )
    return (await session.exec(query)).first() is not None


async def count_registrations(session: AsyncSession, stream_id: int) -> int:
    query = (
        select(func.count()).select_from(StreamRegistration).where(StreamRegistration.stream_id == stream_id)
    )
    return int((await session.exec(query)).one())


async def registered_streams(session: AsyncSession, user: User) -> list[Stream]:
    """The broadcasts ``user`` registered for that have not ended, soonest first (their agenda)."""
    query = (
        select(Stream)
        .join(StreamRegistration, col(StreamRegistration.stream_id) == col(Stream.id))
        .where(StreamRegistration.user_id == user.id, Stream.status != StreamStatus.ENDED.value)
        .order_by(col(Stream.scheduled_start).asc(), col(Stream.id).asc())
    )
    return list((await session.exec(query)).all())


async def latest_recording(session: AsyncSession, stream_id: int) -> Recording | None:
    """The stream's newest finished recording (its replay), if any."""
    query = (
        select(Recording)
        .where(Recording.stream_id == stream_id, col(Recording.ended_at).is_not(None))
        .order_by(col(Recording.id).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()
