"""Take encoded frames out of an aiortc ``RTCRtpReceiver`` before they reach its decoder.

aiortc's receiver depacketises RTP, sends NACKs, reassembles frames in its jitter buffer and then
hands each complete frame to a decoder thread through a ``queue.Queue``. Everything up to that
queue is what a forwarding server wants (loss repair towards the publisher, RTCP reports); the
decoding after it is what it must not pay for. :class:`EncodedFrameTap` takes the place of that
queue: frames are given to a callback on the event loop instead, and the decoder thread is told to
exit before it ever creates a decoder.

This relies on two attributes of aiortc 1.16's receiver (checked in :func:`install_tap`, which
fails loudly if a later aiortc renames them) rather than on a copy of its code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

logger = logging.getLogger(__name__)

_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"

FrameHandler = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class EncodedFrameTap:
    """Stands in for a receiver's decoder queue and passes encoded frames to ``on_frame``.

    Only the two methods aiortc calls exist: ``put`` (from the event loop, with ``(codec, frame)``
    or ``None`` when the receiver stops) and ``get`` (from the decoder thread).

    :param on_frame: called on the event loop with each complete encoded frame.
    :param on_end: called once when the receiver stops (RTCP BYE, disconnect, ``stop()``).
    """

    def __init__(self, on_frame: FrameHandler, on_end: Callable[[], None]) -> None:
        self._on_frame = on_frame
        self._on_end = on_end
        self.ended = False
        self.frames = 0
        self.decoder_thread_released = False

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            if not self.ended:
                self.ended = True
                self._on_end()
            return
        if self.ended:
            return
        self.frames += 1
        codec, frame = item
        try:
            self._on_frame(codec, frame)
        except Exception:
            # This runs inside aiortc's RTP handling: an exception here would end the whole
            # DTLS transport's receive loop, so one bad frame must only be logged.
            logger.exception("encoded frame handler failed")

    def get(self) -> None:
        """Called by the decoder thread: ``None`` makes it exit before creating a decoder."""
        self.decoder_thread_released = True
        return None


def install_tap(receiver: RTCRtpReceiver, tap: EncodedFrameTap) -> None:
    """Route ``receiver``'s encoded frames to ``tap`` instead of its decoder.

    Best called before the connection starts receiving (right after ``setRemoteDescription``):
    then the decoder thread exits at once. If the receiver already runs, its decoder thread is
    released, having decoded only the frames queued before this call.
    """
    previous: Any = getattr(receiver, _QUEUE_ATTR, None)
    if previous is None or not hasattr(receiver, _THREAD_ATTR):
        raise RuntimeError("this aiortc version's RTCRtpReceiver has no decoder queue to tap")
    if isinstance(previous, EncodedFrameTap):
        raise ValueError("this receiver is already routed")
    setattr(receiver, _QUEUE_ATTR, tap)
    if getattr(receiver, _THREAD_ATTR) is not None:
        # The thread is blocked on the old queue; the sentinel lets it finish.
        previous.put(None)
