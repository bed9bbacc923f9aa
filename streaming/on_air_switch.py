"""A broadcast fed by a room: one participant's encoded media at a time, switched at keyframes.

A room on air (see :mod:`streaming.on_air`) is a broadcast without a WHIP publisher. Its two
publications (audio and video, under the broadcast's stream id, so that WHEP viewers, relay
links to other processes and the HLS packager find them as they find a WHIP publisher's) are fed
here with the frames of one participant's own publications, taken as a :class:`Sink` of each.

Switching to another participant happens at the new feed's next keyframe (one is asked for at
once): until then the old feed goes on, so viewers never see a picture that cannot be decoded.
Audio switches with the video. Nothing is decoded or re-encoded; what is rewritten is the RTP
timestamp, so that viewers (whose sequence numbers each :class:`~streaming.forwarder.RtpForwarder`
numbers on its own anyway) and the HLS muxer see one continuous stream: within a feed the
timestamps advance as the participant's did, and across a switch by the wall-clock time between
the last frame of the old feed and the first of the new one.
"""

from __future__ import annotations

import asyncio
import logging

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from expo.errors import Conflict
from streaming.forwarder import OutgoingFrame
from streaming.publication import Publication
from streaming.router import MediaRouter

logger = logging.getLogger(__name__)

_WRAP = 1 << 32


def default_codec(kind: str) -> RTCRtpCodecParameters:
    """The codec an on-air publication offers its viewers before its first frame: H.264 (what
    HLS can carry and what room pages send) for video, Opus for audio."""
    mime = "video/h264" if kind == "video" else "audio/opus"
    capability = next(c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower() == mime)
    return RTCRtpCodecParameters(
        mimeType=capability.mimeType,
        clockRate=capability.clockRate,
        channels=capability.channels,
        parameters=dict(capability.parameters),
    )


def can_feed(publication: Publication) -> bool:
    """Whether a participant's publication can go on air: H.264 video (HLS carries nothing else
    and viewers negotiated it) or Opus audio."""
    codec = publication.codec
    if codec is None:
        return False
    return codec.mimeType.lower() == ("video/h264" if publication.kind == "video" else "audio/opus")


class _Input:
    """One participant's publication of one kind, taken as a sink of its frames.

    ``pending`` while its video waits for a keyframe (it delivers nothing yet), then ``active``.
    """

    def __init__(self, switch: OnAirSwitch, source: Publication) -> None:
        self.switch = switch
        self.source = source
        self.kind = source.kind
        self.active = False
        self.ended = False

    def push(self, frame: OutgoingFrame) -> bool:
        """A frame of the participant: delivered when this input is on air; returns whether a
        keyframe is wanted (a pending video input waits for one)."""
        return self.switch._frame(self, frame)

    def end(self) -> None:
        """The participant's publication ended (they left, or reconnected)."""
        self.ended = True
        self.switch._input_ended(self)


class _Timeline:
    """Rewrites one kind's RTP timestamps into one continuous, increasing timeline."""

    def __init__(self, clock_rate: int, loop: asyncio.AbstractEventLoop) -> None:
        self._clock_rate = clock_rate
        self._loop = loop
        self._out = 0
        self._last_in: int | None = None
        self._last_time: float | None = None

    def restart(self) -> None:
        """The next frame comes from another feed: it follows the last one by the time elapsed."""
        self._last_in = None

    def rewrite(self, timestamp: int) -> int:
        now = self._loop.time()
        if self._last_in is None:
            elapsed = 0.0 if self._last_time is None else now - self._last_time
            step = max(1, round(elapsed * self._clock_rate)) if self._last_time is not None else 0
        else:
            step = (timestamp - self._last_in) % _WRAP
            if step >= _WRAP // 2:
                step = 0  # a frame older than the last one (reordered): never go backwards
        self._out = (self._out + step) % _WRAP
        self._last_in, self._last_time = timestamp, now
        return self._out


class OnAirSwitch:
    """Feeds a broadcast's audio and video publications from one participant at a time.

    States: *idle* (no feed yet, or the feed left: nothing is sent, viewers stay connected),
    *on air* (a feed's frames are forwarded), *switching* (the next feed's video waits for a
    keyframe while the current one goes on), *closed* (:meth:`close`: the publications are closed
    and the feeds let go). The feed is named by an opaque ``source`` (a participant id).

    :param router: where the broadcast's publications are created.
    :param stream_id: the broadcast's id; its publications are filed under it.
    """

    def __init__(self, router: MediaRouter, stream_id: int) -> None:
        self._router = router
        self.stream_id = stream_id
        options = {"stream_id": str(stream_id)}
        self.video = router.publish_relayed("video", default_codec("video"), self, **options)
        self.audio = router.publish_relayed("audio", default_codec("audio"), _NoKeyframes(), **options)
        loop = asyncio.get_running_loop()
        self._timelines = {"video": _Timeline(90_000, loop), "audio": _Timeline(48_000, loop)}
        self._current: dict[str, _Input] = {}
        self._next: dict[str, _Input] = {}
        self.source: str | None = None  # on air now
        self.next_source: str | None = None  # waiting for its keyframe
        self.switches = 0

    @property
    def publications(self) -> list[Publication]:
        """The broadcast's publications (what a WHEP viewer attaches to)."""
        return [self.audio, self.video]

    def switch_to(self, source: str, publications: list[Publication]) -> None:
        """Put ``source``'s media on air at the next keyframe of its video (asked for now); audio
        only, at once. :class:`Conflict` ``on_air.codec`` for video that is not H.264."""
        media = {p.kind: p for p in publications if p.state == "live"}
        if "video" in media and not can_feed(media["video"]):
            raise Conflict("Only H.264 video can go on air.", code="on_air.codec")
        same = set(media) == set(self._current) and all(self._current[k].source is media[k] for k in media)
        if source == self.source and same and not self._next:
            return  # already on air, from the same publications
        self._drop(self._next)
        self.next_source = source
        for kind, publication in media.items():
            if kind == "audio" and not can_feed(publication):
                continue
            feed = _Input(self, publication)
            self._next[kind] = feed
            publication.add_sink(feed)
        if "video" not in self._next:
            self._take_next()  # nothing to wait for
        else:
            self._next["video"].source.request_keyframe()

    def clear(self) -> None:
        """Nobody on air (the feed left and no one else sends): viewers keep their connection."""
        self._drop(self._next)
        self._drop(self._current)
        self.source = self.next_source = None

    async def request_keyframe(self) -> bool:
        """A viewer (or the HLS packager) needs a keyframe: asked of the feed it will come from."""
        feed = self._next.get("video") or self._current.get("video")
        if feed is None:
            return False
        feed.source.request_keyframe()
        return True

    async def close(self) -> None:
        """Let the feeds go and close the broadcast's publications (their viewers are ended)."""
        self.clear()
        for publication in self.publications:
            await self._router.unpublish(publication)

    def _frame(self, feed: _Input, frame: OutgoingFrame) -> bool:
        if feed.active:
            self._deliver(feed, frame)
            return False
        if self._next.get(feed.kind) is not feed:
            return False  # replaced before it went on air
        if feed.kind == "video":
            if not frame.keyframe:
                return True
            self._take_next()
            self._deliver(feed, frame)
        return False  # pending audio waits for the video's keyframe: its frames are skipped

    def _take_next(self) -> None:
        self._drop(self._current)
        self._current, self._next = self._next, {}
        for feed in self._current.values():
            feed.active = True
            self._timelines[feed.kind].restart()
        self.source, self.next_source = self.next_source, None
        self.switches += 1
        logger.info("on air: stream %s now shows %s", self.stream_id, self.source)

    def _deliver(self, feed: _Input, frame: OutgoingFrame) -> None:
        codec = feed.source.codec
        target = self.video if feed.kind == "video" else self.audio
        if codec is None or target.state != "live":
            return
        timestamp = self._timelines[feed.kind].rewrite(frame.pts)
        target.deliver(codec, frame.data, timestamp, frame.keyframe)

    def _input_ended(self, feed: _Input) -> None:
        for feeds in (self._current, self._next):
            if feeds.get(feed.kind) is feed:
                del feeds[feed.kind]
        if not self._current and self.source is not None:
            self.source = None
        if not self._next:
            self.next_source = None

    @staticmethod
    def _drop(feeds: dict[str, _Input]) -> None:
        for feed in feeds.values():
            feed.source.remove_sink(feed)
        feeds.clear()


class _NoKeyframes:
    """The audio publication's upstream: audio frames are all independent."""

    async def request_keyframe(self) -> bool:
        return False
