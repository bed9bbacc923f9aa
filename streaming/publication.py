"""One published track and the subscribers its encoded frames are forwarded to.

Where the frames come from is pluggable: a publisher's ``RTCRtpTransceiver`` in this process
(:meth:`Publication.from_transceiver`, keyframe requests go out as RTCP PLI) or a relay link from
the process that holds the publisher (:mod:`streaming.relay`, keyframe requests go back over the
link). Either way subscribers attach the same, and never know which.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
import uuid
from typing import Any, Protocol

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from expo.errors import Conflict
from streaming.codecs import capability_for, is_keyframe
from streaming.forwarder import OutgoingFrame, Outlet, RtpForwarder, send_to_all
from streaming.receiver import EncodedFrameTap, install_tap
from streaming.tracks import EncodedRelayTrack, SharedPacketizer

logger = logging.getLogger(__name__)

_RTX_SSRC_ATTR = "_RTCRtpReceiver__rtx_ssrc"


class Upstream(Protocol):
    """Where a publication's keyframe requests go: the publisher's receiver, or a relay link."""

    async def request_keyframe(self) -> bool:
        """Ask the source for a keyframe now; ``False`` if there is nobody to ask yet."""
        ...


class Sink(Protocol):
    """Something other than a viewer's track that takes every frame (a relay link's sender)."""

    def push(self, frame: OutgoingFrame) -> bool:
        """Take one frame; returns whether a keyframe is wanted to go on."""
        ...

    def end(self) -> None:
        """The publication ended: nothing more will come."""
        ...


class ReceiverUpstream:
    """Keyframe requests as RTCP PLI to the publisher whose ``RTCRtpReceiver`` feeds a publication."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self._receiver = receiver

    async def request_keyframe(self) -> bool:
        ssrc = self._media_ssrc()
        if ssrc is None:
            return False  # nothing received yet: the first frame of a stream is a keyframe anyway
        await self._receiver._send_rtcp_pli(ssrc)
        return True

    def _media_ssrc(self) -> int | None:
        # The PLI must name the publisher's media SSRC (its sender is looked up by it), not the
        # RTX SSRC that also shows up among the receiver's sources after a retransmission.
        rtx: Any = getattr(self._receiver, _RTX_SSRC_ATTR, {})
        sources = [s for s in self._receiver.getSynchronizationSources() if s.source not in rtx]
        if not sources:
            return None
        return int(max(sources, key=lambda s: s.timestamp).source)


class Publication:
    """A publisher's audio or video track, forwarded encoded to any number of subscribers.

    Created by :meth:`streaming.router.MediaRouter.publish` from a publisher's transceiver (see
    :meth:`from_transceiver`: its receiver is tapped so that frames come here instead of to
    aiortc's decoder), or by a relay link (:mod:`streaming.relay`), which calls :meth:`deliver`
    with each frame the origin process sent and :meth:`stop_receiving` when the link ends.

    States: ``"live"`` (frames are forwarded), ``"ended"`` (the source stopped: subscribers were
    ended, nothing more will arrive) and ``"closed"`` (:meth:`close` ran: subscribers ended,
    keyframe-request tasks cancelled and awaited, the router forgot it).

    Events, all on the event loop: a frame arrives (pushed to every subscriber's bounded queue
    and to every sink); a subscriber or a viewer's PLI/FIR asks for a keyframe (at most one
    request per ``keyframe_interval`` seconds goes upstream); the source stops (state ``ended``).
    """

    def __init__(
        self,
        kind: str,
        upstream: Upstream,
        *,
        codec: RTCRtpCodecParameters | None,
        stream_id: str,
        keyframe_interval: float,
        max_video_frames: int,
        max_audio_frames: int,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.stream_id = stream_id
        self.kind = kind
        self.state = "live"
        self._upstream = upstream
        # What was negotiated: the best guess at the codec until the first frame says for sure.
        self._codec = codec
        self._time_base: fractions.Fraction | None = None
        self._codec_name: tuple[RTCRtpCodecParameters | None, str] = (None, "")
        self._packetizer: SharedPacketizer | None = None
        self._keyframe_interval = keyframe_interval
        self._max_frames = max_video_frames if self.kind == "video" else max_audio_frames
        self._subscribers: dict[EncodedRelayTrack, None] = {}
        # Subscribers whose frames go out with all the others' in one call (send_to_all).
        self._outlets: dict[EncodedRelayTrack, Outlet] = {}
        self._sinks: dict[Sink, None] = {}
        self._loop = asyncio.get_running_loop()
        self._last_pli = -math.inf
        self._keyframe_wanted = False
        self._pli_task: asyncio.Task[None] | None = None
        self._ended = asyncio.Event()
        self.frames_received = 0
        self.keyframes_received = 0
        self.plis_sent = 0
        self.tap: EncodedFrameTap | None = None

    @classmethod
    def from_transceiver(cls, transceiver: RTCRtpTransceiver, **options: Any) -> Publication:
        """The publication of what ``transceiver`` receives; its receiver is tapped at once."""
        codec = next((c for c in transceiver._codecs if c.name.lower() != "rtx"), None)
        publication = cls(transceiver.kind, ReceiverUpstream(transceiver.receiver), codec=codec, **options)
        publication.tap = EncodedFrameTap(publication._on_frame, publication.stop_receiving)
        install_tap(transceiver.receiver, publication.tap)
        return publication

    @property
    def codec(self) -> RTCRtpCodecParameters | None:
        """The codec the publisher sends (known once negotiated)."""
        return self._codec

    @property
    def subscribers(self) -> list[EncodedRelayTrack]:
        """The subscriber tracks currently fed by this publication."""
        return list(self._subscribers)

    def subscribe(self) -> EncodedRelayTrack:
        """A new subscriber track, to ``addTrack`` on a viewer's peer connection.

        Video starts on the next keyframe, and one is requested from the publisher so that the
        viewer does not wait for the encoder's own keyframe interval. Prefer :meth:`attach`,
        which also restricts the codec and relays the viewer's keyframe requests.
        """
        if self.state != "live":
            raise Conflict("This stream is not live.", code="stream.not_live")
        track = EncodedRelayTrack(self.kind, self, self._max_frames)
        self._subscribers[track] = None
        if self.kind == "video":
            self.request_keyframe()
        return track

    def add_sink(self, sink: Sink) -> None:
        """Push every frame from now on to ``sink`` as well (see :class:`Sink`)."""
        if self.state != "live":
            raise Conflict("This stream is not live.", code="stream.not_live")
        self._sinks[sink] = None

    def remove_sink(self, sink: Sink) -> None:
        """Stop pushing frames to ``sink``."""
        self._sinks.pop(sink, None)

    def attach(self, pc: RTCPeerConnection) -> RTCRtpSender:
        """Subscribe ``pc`` to this publication: add a send-only transceiver and return its sender.

        Call it before ``pc.setRemoteDescription(viewer_offer)`` (or before ``createOffer``): the
        transceiver is limited to the publication's codec, so negotiation picks the codec the
        frames are encoded in, or fails if the viewer cannot decode it. The subscription ends
        with the sender, or when ``pc`` closes or fails.
        """
        track = self.subscribe()
        transceiver = pc.addTransceiver(track, direction="sendonly")
        if self._codec is not None:
            transceiver.setCodecPreferences(capability_for(self._codec))
        track.bind_sender(transceiver.sender, self._codec, self._shared_packetizer())

        def release_on_close() -> None:
            # A sender that never started never stops its track: without this, a viewer whose
            # negotiation failed or who left before connecting would stay subscribed.
            if pc.connectionState in ("closed", "failed"):
                track.stop()

        pc.on("connectionstatechange", release_on_close)
        return transceiver.sender

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe; repeated requests are merged into one PLI per interval."""
        if self.kind != "video" or self.state != "live":
            return
        self._keyframe_wanted = True
        if self._pli_task is not None and not self._pli_task.done():
            return
        delay = max(0.0, self._last_pli + self._keyframe_interval - self._loop.time())
        self._pli_task = asyncio.create_task(self._send_pli(delay), name=f"publication-{self.id}-pli")

    async def wait_ended(self) -> None:
        """Return once the publisher has stopped or the publication was closed."""
        await self._ended.wait()

    async def close(self) -> None:
        """End every subscriber and cancel and await this publication's tasks. Idempotent."""
        if self.state == "closed":
            return
        self._finish()
        self.state = "closed"
        task, self._pli_task = self._pli_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _shared_packetizer(self) -> SharedPacketizer | None:
        if self._packetizer is None:  # none yet for this codec (a new codec resets it)
            codec = self._codec
            if codec is None or not SharedPacketizer.supports(codec):
                return None
            self._packetizer = SharedPacketizer(codec)
        return self._packetizer

    def _unsubscribe(self, track: EncodedRelayTrack) -> None:
        self._subscribers.pop(track, None)
        self._outlets.pop(track, None)

    def deliver(self, codec: RTCRtpCodecParameters, data: bytes, timestamp: int, keyframe: bool) -> None:
        """One encoded frame from a source other than a receiver tap (a relay link)."""
        self._forward(codec, JitterFrame(data, timestamp), keyframe)

    def stop_receiving(self) -> None:
        """The source stopped (the publisher's receiver, or the relay link): state ``ended``."""
        if self.state == "live":
            self._finish()
            self.state = "ended"

    def _on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        if self.state != "live":
            return
        keyframe = True  # every audio frame
        if self.kind == "video":
            named = self._codec_name
            if named[0] is not codec:  # aiortc computes a codec's name anew each time it is asked
                named = self._codec_name = (codec, codec.name)
            keyframe = is_keyframe(named[1], frame.data)
        self._forward(codec, frame, keyframe)

    def _forward(self, codec: RTCRtpCodecParameters, frame: JitterFrame, keyframe: bool) -> None:
        if self.state != "live":
            return
        time_base = self._time_base
        if time_base is None or (
            codec is not self._codec and (self._codec is None or codec.name != self._codec.name)
        ):
            if self._codec is None or codec.mimeType != self._codec.mimeType:
                self._packetizer = None  # senders attached from now on packetise the new codec
            self._codec = codec
            time_base = self._time_base = fractions.Fraction(1, codec.clockRate)
        self.frames_received += 1
        if keyframe and self.kind == "video":
            self.keyframes_received += 1
            self._keyframe_wanted = False
        # One frame object for all subscribers: they only read it.
        outgoing = OutgoingFrame(frame.data, frame.timestamp, time_base, keyframe)
        packetizer = self._shared_packetizer()
        if packetizer is not None and self._subscribers:
            outgoing.payloads, outgoing.timestamp = packetizer.pack_frame(outgoing)
        waiting = False
        for sink in list(self._sinks):
            waiting = sink.push(outgoing) or waiting
        outlets = self._outlets
        if outlets and not (outgoing.payloads and RtpForwarder.sends_together()):
            outlets.clear()  # frames of other payloads (a new codec), or sending together was turned off
        handled = self._send_to_outlets(outgoing) if outlets else ()
        for track in list(self._subscribers):
            if track in outlets or track in handled:
                continue
            waiting = track.push(outgoing) or waiting
            if outgoing.payloads and (outlet := track.outlet()) is not None:
                outlets[track] = outlet  # the next frames go out with the others'
        if waiting:
            # Keeps asking (throttled) while anyone waits, so a lost PLI or a publisher that
            # ignored one does not leave a viewer on a black screen until the next GOP.
            self.request_keyframe()

    def _send_to_outlets(self, outgoing: OutgoingFrame) -> set[EncodedRelayTrack]:
        """Send ``outgoing`` to every subscriber with an outlet, in one call; those it was not
        sent to lose their outlet (the caller pushes the frame to them). Returns the subscribers
        it went to only in part, which the caller must not push it to: a full socket (the rest is
        queued on the transport) or an SRTP failure (logged; they lose their outlet)."""
        outlets = self._outlets
        handled: set[EncodedRelayTrack] = set()
        for outlet, unsent, status in send_to_all(outgoing, list(outlets.values())):
            track = outlet.owner
            if unsent is None or status:
                del outlets[track]
            if unsent is None:
                continue
            handled.add(track)
            if status:
                logger.error("SRTP protect failed (%s) for a subscriber of %s", status, self.stream_id)
            elif track.forwarder is not None:
                track.forwarder.queue(unsent)  # the socket was full: the transport queues the rest
        return handled

    def _finish(self) -> None:
        self._outlets.clear()
        for track in list(self._subscribers):
            track.end()
        self._subscribers.clear()
        for sink in list(self._sinks):
            sink.end()
        self._sinks.clear()
        if self._pli_task is not None:
            self._pli_task.cancel()
        self._ended.set()

    async def _send_pli(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if not self._keyframe_wanted:
            return  # a keyframe went by while this request waited for its turn
        now = self._loop.time()
        if await self._upstream.request_keyframe():
            self._last_pli = now
            self.plis_sent += 1
