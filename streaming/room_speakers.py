"""Who is speaking in each room, read from the audio level its senders put in every RTP packet.

Browsers (and aiortc) send ``urn:ietf:params:rtp-hdrext:ssrc-audio-level`` (RFC 6464) with each
audio packet: the packet's loudness in -dBov, 0 (loudest) to 127 (silence). The server reads that
header, never the audio: nothing is decoded. :func:`meter_audio` sees each packet of a
participant's microphone as its receiver gets it and only counts it (two integer increments, no
allocation: both counters are reset long before they leave CPython's small-integer cache). That
costs a fraction of a microsecond a packet, lost in the noise beside the ~9 µs that parsing it
and entering aiortc's handler already cost (``scripts/bench_audio_level.py``), 50 times a second
per microphone.
:class:`RoomSpeakers` samples the counters a few times a second, smooths them, and decides with
hysteresis who speaks: loud enough for a while to start, quiet for a while to stop. A change is
published once per sample at most, as ``{"type": "speaking", "ids": [...]}`` on the room channel.

:meth:`RoomSpeakers.active_speaker` names the room's active speaker (the loudest of those
speaking, else the last one who spoke and is still there): what a page's speaker layout or a
room's on-air feed follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from streaming.direct_receive import RTP_HANDLER

logger = logging.getLogger(__name__)

LOUD = 50
"""A packet at most this many dB below full scale counts as voice (speech is ~ -20 to -45 dBov)."""
SAMPLE_INTERVAL = 0.25
START = 0.3  # the smoothed share of loud packets from which someone is speaking
STOP = 0.08  # ... and under which they have stopped
SMOOTHING = 0.35  # the weight of the newest sample (1: none)

Announce = Callable[[int, list[str]], Awaitable[None]]


class SpeakingMeter:
    """One participant's microphone: packets counted since the last sample, and the smoothed
    share of loud ones. Only :func:`meter_audio`'s hook writes ``packets`` and ``loud``."""

    __slots__ = ("level", "loud", "packets", "speaking")

    def __init__(self) -> None:
        self.packets = 0
        self.loud = 0
        self.level = 0.0
        self.speaking = False

    def sample(self) -> bool:
        """Fold the counts since the last sample into the level; whether they speak now."""
        share = self.loud / self.packets if self.packets else 0.0
        self.packets = self.loud = 0
        self.level += (share - self.level) * SMOOTHING
        if self.speaking:
            self.speaking = self.level >= STOP
        else:
            self.speaking = self.level >= START
        return self.speaking


def meter_audio(receiver: RTCRtpReceiver, meter: SpeakingMeter) -> None:
    """Count the audio level of every packet ``receiver`` gets, before aiortc handles it.

    A tapped receiver (:func:`streaming.receiver.install_tap`) gets each packet through its plain
    handler, which is wrapped; any other through ``_handle_rtp_packet(packet, arrival_time_ms)``,
    which the DTLS transport calls (an instance attribute of that name is found first) and whose
    coroutine the hook returns. Either way a packet costs one extra call, no extra coroutine.
    Fails loudly if a later aiortc renames the method.
    """
    name = RTP_HANDLER if hasattr(receiver, RTP_HANDLER) else "_handle_rtp_packet"
    handle = getattr(receiver, name, None)
    if handle is None:
        raise RuntimeError("this aiortc version's RTCRtpReceiver has no packet handler to meter")

    def counted(packet: RtpPacket, arrival_time_ms: int) -> Any:
        level = packet.extensions.audio_level  # (voice activity, -dBov) when the sender sends it
        if level is not None:
            meter.packets += 1
            if level[1] <= LOUD:
                meter.loud += 1
        return handle(packet, arrival_time_ms)

    setattr(receiver, name, counted)


class RoomSpeakers:
    """The speaking meters of every room of a :class:`~streaming.rooms.RoomPlane`.

    A sampling task runs while any meter exists (started by :meth:`meter`, ended when the last
    one goes, cancelled and awaited by :meth:`close`). ``announce(room_id, ids)`` is awaited
    when the set of people speaking in a room changes.
    """

    def __init__(self, announce: Announce, *, interval: float = SAMPLE_INTERVAL) -> None:
        self._announce = announce
        self.interval = interval
        self._meters: dict[int, dict[str, SpeakingMeter]] = {}
        self._speaking: dict[int, list[str]] = {}
        self._active: dict[int, str] = {}
        self._sampler: asyncio.Task[None] | None = None

    def meter(self, room_id: int, participant_id: str) -> SpeakingMeter:
        """A fresh meter for the participant's (new) microphone connection."""
        meter = SpeakingMeter()
        self._meters.setdefault(room_id, {})[participant_id] = meter
        if self._sampler is None or self._sampler.done():
            self._sampler = asyncio.create_task(self._sample(), name="room-speakers")
        return meter

    def forget(self, room_id: int, participant_id: str) -> None:
        """They left: no meter, not speaking, not the active speaker any more."""
        meters = self._meters.get(room_id, {})
        meters.pop(participant_id, None)
        if self._active.get(room_id) == participant_id:
            del self._active[room_id]
        if not meters:
            self._meters.pop(room_id, None)
            self._speaking.pop(room_id, None)
            self._active.pop(room_id, None)

    def speaking(self, room_id: int) -> list[str]:
        """Who speaks in the room now (as last announced)."""
        return list(self._speaking.get(room_id, []))

    def active_speaker(self, room_id: int) -> str | None:
        """The participant the room listens to: the loudest of those speaking, else the last
        one who spoke (while they are in the room); ``None`` before anyone has spoken."""
        return self._active.get(room_id)

    async def close(self) -> None:
        task, self._sampler = self._sampler, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._meters.clear()

    async def _sample(self) -> None:
        while self._meters:
            await asyncio.sleep(self.interval)
            await self.sample()

    async def sample(self) -> None:
        """One round of the sampling task: every meter folds in its counts, and each room whose
        set of speakers changed is announced."""
        for room_id, meters in list(self._meters.items()):
            speaking = sorted(pid for pid, meter in meters.items() if meter.sample())
            if speaking:
                self._active[room_id] = max(speaking, key=lambda pid: meters[pid].level)
            if speaking != self._speaking.get(room_id, []):
                self._speaking[room_id] = speaking
                with contextlib.suppress(Exception):  # announce logs it; the next change corrects it
                    await self._announce(room_id, speaking)
