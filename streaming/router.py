"""The media router: forwards publishers' encoded media to WebRTC subscribers, never decoding.

aiortc's default path decodes every received track and encodes it again for every sender, which
costs a fifth of a core per viewer. Here the publisher's receiver hands its reassembled encoded
frames to a :class:`~streaming.publication.Publication` (see :mod:`streaming.receiver`), which
packetises each frame once and has every viewer's :class:`~streaming.forwarder.RtpForwarder` write
the packets to that viewer's socket beneath its ``RTCRtpSender`` (see :mod:`streaming.tracks`).

A broadcast is one stream with an audio and a video publication and many subscribers; a room is
many streams (one per participant) in one router, each participant subscribing to the others.

Typical use, in a WHIP handler::

    await pc.setRemoteDescription(offer)
    publications = [router.publish(t, stream_id=broadcast_id) for t in pc.getTransceivers()]

and in a WHEP handler, before ``setRemoteDescription(viewer_offer)``::

    for publication in router.publications(broadcast_id):
        publication.attach(viewer_pc)
"""

from __future__ import annotations

from typing import Any

from aiortc import RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from expo.errors import Conflict, NotFound
from streaming.publication import Publication, Upstream

DEFAULT_KEYFRAME_INTERVAL = 0.5
RELAYED_KEYFRAME_INTERVAL = 0.05  # see MediaRouter.publish_relayed
DEFAULT_MAX_VIDEO_FRAMES = 60  # two seconds at 30 fps
DEFAULT_MAX_AUDIO_FRAMES = 100  # two seconds of 20 ms Opus frames


class MediaRouter:
    """Owns every publication of one process; created in the app lifespan, closed on shutdown.

    States: ``open`` and ``closed`` (after :meth:`close`: every publication closed, every task
    cancelled and awaited, :meth:`publish` refused). Events: a track is published; a publication
    ends when its publisher stops (it stays listed, in state ``"ended"``, until closed).

    :param keyframe_interval: the least time between two keyframe requests (PLI) sent to one
        publisher, however many viewers ask.
    :param max_video_frames: per-subscriber queue bound for video; a subscriber that falls this
        far behind drops its backlog and resumes on the next keyframe.
    :param max_audio_frames: per-subscriber queue bound for audio; the oldest frames are dropped.
    """

    def __init__(
        self,
        *,
        keyframe_interval: float = DEFAULT_KEYFRAME_INTERVAL,
        max_video_frames: int = DEFAULT_MAX_VIDEO_FRAMES,
        max_audio_frames: int = DEFAULT_MAX_AUDIO_FRAMES,
    ) -> None:
        self._keyframe_interval = keyframe_interval
        self._max_video_frames = max_video_frames
        self._max_audio_frames = max_audio_frames
        self._publications: dict[str, Publication] = {}
        self.closed = False

    def publish(self, transceiver: RTCRtpTransceiver, *, stream_id: str = "") -> Publication:
        """Forward what ``transceiver`` receives instead of decoding it.

        Call it right after ``setRemoteDescription`` of the publisher's offer, before media
        flows, so that aiortc's decoder never starts. ``stream_id`` groups the publications of
        one broadcast or one room participant.
        """
        if self.closed:
            raise Conflict("The media router is shutting down.", code="stream.router_closed")
        return self._add(Publication.from_transceiver(transceiver, **self._options(stream_id)))

    def publish_relayed(
        self, kind: str, codec: RTCRtpCodecParameters, upstream: Upstream, *, stream_id: str
    ) -> Publication:
        """A publication fed by a relay link from the process that holds the publisher (see
        :mod:`streaming.relay`): the link calls its ``deliver`` and ``stop_receiving``, and
        ``upstream`` takes its keyframe requests. Subscribers attach to it as to any other.

        Its keyframe requests go upstream merged over :data:`RELAYED_KEYFRAME_INTERVAL` only:
        the publication at the other end of the link (or the on-air switch's source) holds them
        to ``keyframe_interval`` for the publisher. Held back on both sides, a relayed viewer
        could wait for up to two intervals where a viewer of the origin waits for one."""
        if self.closed:
            raise Conflict("The media router is shutting down.", code="stream.router_closed")
        options = self._options(stream_id)
        options["keyframe_interval"] = min(self._keyframe_interval, RELAYED_KEYFRAME_INTERVAL)
        return self._add(Publication(kind, upstream, codec=codec, **options))

    def _options(self, stream_id: str) -> dict[str, Any]:
        return {
            "stream_id": stream_id,
            "keyframe_interval": self._keyframe_interval,
            "max_video_frames": self._max_video_frames,
            "max_audio_frames": self._max_audio_frames,
        }

    def _add(self, publication: Publication) -> Publication:
        self._publications[publication.id] = publication
        return publication

    def publications(self, stream_id: str | None = None) -> list[Publication]:
        """The publications not yet closed, all of them or those of one stream."""
        return [p for p in self._publications.values() if stream_id is None or p.stream_id == stream_id]

    def get(self, publication_id: str) -> Publication:
        """The publication with this id."""
        try:
            return self._publications[publication_id]
        except KeyError:
            raise NotFound("No such stream track.", code="stream.track_not_found") from None

    async def unpublish(self, publication: Publication) -> None:
        """Close ``publication`` and forget it."""
        self._publications.pop(publication.id, None)
        await publication.close()

    async def close(self) -> None:
        """Close every publication; their subscribers end and their tasks are awaited."""
        self.closed = True
        publications, self._publications = list(self._publications.values()), {}
        for publication in publications:
            await publication.close()
