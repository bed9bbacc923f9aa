"""uvicorn's WebSocket protocol with one addition for fan-out: writing a prepared frame at once.

A chat line or a viewer-count change goes to every page watching a broadcast: 10,000 sockets in one
process. Through ASGI each delivery is a task switch to the socket's sender, a ``websocket.send``
message through Starlette and uvicorn, and a frame built by the ``websockets`` protocol for that one
socket: about 35 µs of CPU, a third of a second for the last of 10,000 pages. Yet every socket
gets the very same bytes: an unmasked, uncompressed text frame.

:class:`FanoutWebSocketProtocol` is uvicorn's sans-I/O protocol (the one ``expo serve`` already
used) that also offers the ASGI extension ``expo.write_frame`` in each connection's scope: a plain
function taking frame bytes made once by :func:`text_frame`, writing them to the socket now and
returning ``True``, or returning ``False`` when the frame must go the ordinary way (the handshake
is not complete, a close frame was sent, the client is gone, or the socket's write buffer is full
and uvicorn has paused writing). Callers keep their ordinary send path for ``False`` and for
servers without the extension, and must not use the extension while an ordinary send of theirs is
still queued or in flight, so frames keep their order.

Writing around the ``websockets`` protocol object is sound because on the sending side it only
tracks fragmentation (uvicorn never fragments) and the close handshake (checked here); an
uncompressed message is valid even when per-message deflate was negotiated (RFC 7692, section 6).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request

WRITE_FRAME = "expo.write_frame"


def text_frame(text: str) -> bytes:
    """``text`` as one complete, unmasked, uncompressed server-to-client WebSocket frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol plus the ``expo.write_frame`` ASGI extension."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the upgrade was accepted and the scope exists
            extensions: dict[str, object] = self.scope["extensions"]  # type: ignore[assignment]
            extensions[WRITE_FRAME] = self.write_frame

    def write_frame(self, frame: bytes) -> bool:
        """Write ``frame`` (from :func:`text_frame`) now; ``False``: send it the ordinary way."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True


def uvicorn_websocket_options() -> dict[str, Any]:
    """How expo's sockets are served (``uvicorn.Config`` keywords), for ``expo serve`` and tests."""
    # Realtime frames are small JSON events sent to thousands of sockets at once: per-message
    # deflate would compress each one again for every socket (nearly 3x the CPU of a delivery)
    # and keep a zlib context per socket, to save a few dozen bytes.
    return {"ws": FanoutWebSocketProtocol, "ws_per_message_deflate": False}
