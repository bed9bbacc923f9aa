"""Screen sharing in a telepresence room: a participant's screen beside their camera.

A shared screen is a sending connection of its own (one video track, published on the router as
``room:{room}:{participant}:screen``), not a renegotiation of the camera's: starting or stopping
it touches nobody else's connection, and a page that cannot share still publishes its camera as
before. Everyone hears ``{"type": "screen", "participant": {...}}``: ``participant["screen"]``
names the shared screen, or is ``None`` once it stopped (their button, the browser's own "Stop
sharing", or the connection dropping). Each viewer receives it on one more receiving connection,
kept among their subscriptions under :func:`~streaming.room_participants.screen_key`.

One screen per participant (409 ``room.already_sharing``); a screen is not a person, so the
room's capacity is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib

from expo.errors import Conflict, NotFound
from streaming.room_participants import Participant, screen_key
from streaming.rooms import RoomPlane
from streaming.whip import PublisherSession


async def share(plane: RoomPlane, participant: Participant, offer: str) -> str:
    """Take the participant's screen (an SDP offer that sends video); the answer."""
    participant.require_inside()
    if participant.screen is not None and not participant.screen.ended.is_set():
        raise Conflict("You are already sharing your screen.", code="room.already_sharing")
    media_id = f"room:{participant.room_id}:{participant.id}:screen"
    session, answer = await plane.accept_sending(participant, media_id, offer)
    previous, participant.screen = participant.screen, session
    if previous is not None:
        await plane.close_publisher(previous)
    session.tasks.append(plane.spawn(_supervise(plane, participant, session)))
    await _announce(plane, participant)
    return answer


async def stop(plane: RoomPlane, participant: Participant) -> None:
    """Stop sharing (404 ``room.not_sharing`` if they were not); everyone hears ``screen``."""
    session, participant.screen = participant.screen, None
    if session is None:
        raise NotFound("You are not sharing your screen.", code="room.not_sharing")
    await plane.close_publisher(session)
    await _announce(plane, participant)


async def watch(plane: RoomPlane, participant: Participant, other_id: str, offer: str) -> str:
    """Receive ``other_id``'s shared screen (an offer that receives video); the answer. 404 for
    nobody, 409 ``room.not_sharing``. A previous subscription to the same screen is replaced."""
    screen = plane.other(participant, other_id).screen
    publications = [p for p in screen.publications if p.state == "live"] if screen else []
    if screen is None or screen.ended.is_set() or not publications:
        raise Conflict("That participant is not sharing a screen.", code="room.not_sharing")
    return await plane.receive(participant, screen_key(other_id), publications, offer)


async def unwatch(plane: RoomPlane, participant: Participant, other_id: str) -> None:
    """Stop receiving ``other_id``'s screen (404 ``room.no_subscription`` if not receiving it)."""
    await plane.unsubscribe(participant, screen_key(other_id))


async def _supervise(plane: RoomPlane, participant: Participant, session: PublisherSession) -> None:
    """The share ends when its connection fails, closes or never connects (the browser's own
    "Stop sharing" ends the track, and the page then stops the connection)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(plane.media.connect_timeout):
            await session.connected.wait()
        await session.ended.wait()
    if participant.screen is session:
        participant.screen = None
        await plane.close_publisher(session)
        await _announce(plane, participant)


async def _announce(plane: RoomPlane, participant: Participant) -> None:
    await plane.announce(participant.room_id, {"type": "screen", "participant": participant.public()})
