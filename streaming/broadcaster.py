"""The demo's synthetic broadcaster: a test pattern with a clock and a tone, published over WHIP.

It takes the path a real encoder takes: an aiortc peer connection whose SDP offer (H.264 first)
is POSTed to ``/api/streams/{id}/whip`` with the stream key, the answer applied, and the session
``DELETE``\\ d on stop. If the server goes away or refuses (restarting, another publisher still
connected), it tries again with exponential backoff.

The picture is drawn without fonts or numpy: moving colour bars and the wall-clock time in
seven-segment digits, written into the frame's planes row by row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import threading
import time
from fractions import Fraction
from urllib.parse import urljoin

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from streaming.codecs import preferred_codecs

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 640, 360
SAMPLE_RATE = 48000
TONE_HZ = 400  # 120 samples a period: a 20 ms frame holds exactly 8, so one frame repeats cleanly
AUDIO_SAMPLES = 960
MAX_BACKOFF = 30.0

# Seven segments per digit: a (top), b (top right), c (bottom right), d (bottom), e (bottom left),
# f (top left), g (middle).
_SEGMENTS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg",
    "5": "acdfg", "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg",
}  # fmt: skip
_BAR_LUMA = (235, 210, 170, 145, 106, 81, 41, 16)  # the classic colour bars' luma, white to black
_BAR_U = (128, 16, 166, 54, 202, 90, 240, 128)
_BAR_V = (128, 146, 16, 34, 222, 240, 110, 128)


def _bar_row(values: tuple[int, ...], width: int, shift: int) -> bytes:
    bar = width // len(values) or 1
    row = bytearray(values[((x + shift) // bar) % len(values)] for x in range(width))
    return bytes(row)


def clock_rectangles(
    text: str, x: int, y: int, digit_w: int, digit_h: int
) -> list[tuple[int, int, int, int]]:
    """The rectangles ``(x, y, w, h)`` that draw ``text`` (digits and colons) as seven segments."""
    rects: list[tuple[int, int, int, int]] = []
    t = max(2, digit_w // 5)  # stroke thickness
    half = digit_h // 2
    for char in text:
        if char == ":":
            rects += [(x + t, y + half // 2, t, t), (x + t, y + half + half // 2, t, t)]
            x += 3 * t
            continue
        for segment in _SEGMENTS.get(char, ""):
            rects.append(
                {
                    "a": (x, y, digit_w, t),
                    "b": (x + digit_w - t, y, t, half),
                    "c": (x + digit_w - t, y + half, t, half),
                    "d": (x, y + digit_h - t, digit_w, t),
                    "e": (x, y + half, t, half),
                    "f": (x, y, t, half),
                    "g": (x, y + half - t // 2, digit_w, t),
                }[segment]
            )
        x += digit_w + 2 * t
    return rects


class ClockPattern(VideoStreamTrack):
    """Moving colour bars with the time of day (HH:MM:SS) and a frame counter, at 30 fps."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.frames = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = self.draw(time.strftime("%H:%M:%S"), self.frames)
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame

    def draw(self, clock: str, counter: int) -> av.VideoFrame:
        """One frame: bars shifted by ``counter``, ``clock`` and ``counter`` in digits."""
        w, h = self.width, self.height
        frame = av.VideoFrame(w, h, "yuv420p")
        luma, u_plane, v_plane = frame.planes
        shift = counter * 4
        luma_row = _bar_row(_BAR_LUMA, luma.line_size, shift)
        y_data = bytearray(luma_row * h)
        chroma_h = h // 2
        u_data = bytearray(_bar_row(_BAR_U, u_plane.line_size, shift // 2) * chroma_h)
        v_data = bytearray(_bar_row(_BAR_V, v_plane.line_size, shift // 2) * chroma_h)
        # A dark band behind the digits keeps them readable over any bar.
        band_y, band_h = h // 3, h // 3
        stride = luma.line_size
        for row in range(band_y, band_y + band_h):
            y_data[row * stride : row * stride + w] = b"\x10" * w
        for row in range(band_y // 2, (band_y + band_h) // 2):
            u_data[row * u_plane.line_size : row * u_plane.line_size + w // 2] = b"\x80" * (w // 2)
            v_data[row * v_plane.line_size : row * v_plane.line_size + w // 2] = b"\x80" * (w // 2)
        digit_h = band_h * 2 // 3
        digit_w = digit_h // 2
        text = f"{clock}"
        for x, y, rw, rh in clock_rectangles(text, w // 10, band_y + band_h // 6, digit_w, digit_h):
            for row in range(max(0, y), min(h, y + rh)):
                start = row * stride + max(0, x)
                y_data[start : start + max(0, min(rw, w - x))] = b"\xeb" * max(0, min(rw, w - x))
        small = h // 12
        counter_text = f"{counter % 100000:05d}"
        for x, y, rw, rh in clock_rectangles(counter_text, w // 10, h - 2 * small, small // 2, small):
            for row in range(y, min(h, y + rh)):
                y_data[row * stride + x : row * stride + x + rw] = b"\xeb" * rw
        luma.update(bytes(y_data))
        u_plane.update(bytes(u_data))
        v_plane.update(bytes(v_data))
        return frame


class Tone(AudioStreamTrack):
    """A continuous sine tone, 20 ms mono frames at 48 kHz."""

    def __init__(self, frequency: int = TONE_HZ, level: float = 0.2) -> None:
        super().__init__()
        peak = level * 32767
        step = 2 * math.pi * frequency / SAMPLE_RATE
        samples = [int(peak * math.sin(step * i)) for i in range(AUDIO_SAMPLES)]
        self._chunk = struct.pack(f"<{AUDIO_SAMPLES}h", *samples)
        self._pts = 0
        self._epoch: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._epoch is None:
            self._epoch = time.monotonic()
        else:
            self._pts += AUDIO_SAMPLES
            await asyncio.sleep(max(0.0, self._epoch + self._pts / SAMPLE_RATE - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._chunk)
        frame.pts, frame.sample_rate, frame.time_base = self._pts, SAMPLE_RATE, Fraction(1, SAMPLE_RATE)
        return frame


class WhipRefused(Exception):
    """The WHIP endpoint answered something other than 201 (``status``: its HTTP status)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"WHIP endpoint answered {status}: {body[:200]}")
        self.status = status


class Broadcaster:
    """Publishes a :class:`ClockPattern` and a :class:`Tone` to a WHIP endpoint until stopped.

    States (:attr:`state`): ``"idle"``, ``"connecting"`` (offer sent), ``"live"`` (connected),
    ``"waiting"`` (backing off after a refusal or a lost connection: 0.5 s, doubling up to
    ``max_backoff``) and ``"stopped"``. :attr:`connections` counts the times it went live.

    :param whip_url: the stream's WHIP endpoint.
    :param key: the stream key, sent as bearer token on POST and DELETE.
    """

    def __init__(
        self,
        whip_url: str,
        key: str,
        *,
        configuration: RTCConfiguration | None = None,
        max_backoff: float = MAX_BACKOFF,
        width: int = WIDTH,
        height: int = HEIGHT,
    ) -> None:
        self.whip_url = whip_url
        self.key = key
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        self.max_backoff = max_backoff
        self.size = (width, height)
        self.state = "idle"
        self.connections = 0
        self.location: str | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start publishing in a task of the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="demo-broadcaster")

    async def stop(self) -> None:
        """Stop: the WHIP session is DELETEd (ending the broadcast), the task awaited."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.state = "stopped"

    async def _run(self) -> None:
        backoff = 0.5
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(timeout=15, headers=headers) as http:
            while True:
                before = self.connections
                try:
                    await self._publish_once(http)
                except (httpx.HTTPError, WhipRefused, OSError, ValueError) as exc:
                    self.last_error = str(exc)
                    logger.info("demo broadcaster: %s; retrying in %.1f s", exc, backoff)
                if self.connections > before:
                    backoff = 0.5  # it was live: the next attempt is a fresh start
                self.state = "waiting"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _publish_once(self, http: httpx.AsyncClient) -> None:
        """One WHIP session: returns when the connection is lost; DELETEs it when cancelled."""
        pc = RTCPeerConnection(self.configuration)
        lost = asyncio.Event()
        location: str | None = None

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState == "connected":
                self.state = "live"
                self.connections += 1
            elif pc.connectionState in ("failed", "closed"):
                lost.set()

        try:
            video = pc.addTransceiver(ClockPattern(*self.size), direction="sendonly")
            video.setCodecPreferences(preferred_codecs("video"))  # H.264 first: HLS needs no re-encode
            audio = pc.addTransceiver(Tone(), direction="sendonly")
            audio.setCodecPreferences(preferred_codecs("audio"))
            await pc.setLocalDescription(await pc.createOffer())
            self.state = "connecting"
            response = await http.post(
                self.whip_url, content=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
            )
            if response.status_code != 201:
                raise WhipRefused(response.status_code, response.text)
            location = urljoin(self.whip_url, response.headers["location"])
            self.location = location
            await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
            await lost.wait()
            logger.info("demo broadcaster: connection lost")
        except asyncio.CancelledError:
            if location is not None:
                with contextlib.suppress(httpx.HTTPError):  # the server may be gone already
                    await http.delete(location)
            raise
        finally:
            self.location = None
            await pc.close()


class BroadcasterThread:
    """A :class:`Broadcaster` on its own event loop in a thread, for ``expo demo``.

    The server runs on the main thread (uvicorn), so the demo's encoder gets a loop of its own and
    reaches the server over HTTP exactly like an outside encoder would.
    """

    def __init__(self, whip_url: str, key: str, *, max_backoff: float = MAX_BACKOFF) -> None:
        self.broadcaster = Broadcaster(whip_url, key, max_backoff=max_backoff)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="demo-broadcaster", daemon=True)

    def start(self) -> None:
        """Start publishing (retrying with backoff until the server answers)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broadcaster (DELETE if the server is still there) and join the thread."""
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.broadcaster.stop(), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self.broadcaster.start)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
