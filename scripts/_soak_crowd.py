"""The audience of scripts/soak.py: everybody who comes and goes around one live broadcast.

    _soak_crowd.py '{"base": URL, "stream_id": N, "booth_id": N, "slug": S, "tokens": [...],
                     "viewers": 6}'

It runs in its own process, so that its event loop (busy with WebRTC) delays neither the soak's
samples nor its ``/healthz`` probe. Every second it prints its :class:`Tally` as one JSON line;
SIGTERM stops everyone (awaited) and prints the final tally.

:class:`Crowd` runs, until :meth:`Crowd.stop`:

* WHEP viewers (real aiortc peers) joining every few seconds while fewer than ``viewers`` watch,
  each staying 5-25 s; one in four leaves without ``DELETE`` (closes its connection, as a crashed
  browser would). Their frames are counted, never decoded (streaming.receiver's tap), so that
  the clients do not take the cores the server is measured on.
* HLS players: the multivariant playlist, then the media playlist every 2 s and each new segment,
  for 20-60 s each, then a new player (a new viewer token).
* Watch-page visitors: a fresh client (no cookies) loads the watch page, heartbeats, leaves; and
  the floor, a booth page and a search between them.
* Chat: the demo's visitor and exhibitor post a line in turn every few seconds (the limit is 5 per
  10 s per person).
* Page sockets: ``/ws`` subscribers to the broadcast's channel, staying 5-30 s; one in three drops
  its TCP connection without a close frame.

Every HTTP answer is counted in :attr:`Tally.requests`; an unexpected one in :attr:`Tally.errors`
by a short reason (``"whep 500"``), so that the soak can show what went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.codecs import preferred_codecs
from streaming.receiver import EncodedFrameTap, install_tap

LOOPBACK = RTCConfiguration(iceServers=[])
SDP = {"Content-Type": "application/sdp"}


@dataclass(frozen=True)
class Target:
    """Where the crowd goes: the server, the live broadcast, a booth, and two logins' tokens."""

    base: str
    stream_id: int
    booth_id: int
    slug: str
    tokens: tuple[str, ...]


@dataclass
class Tally:
    """What the crowd did so far (it only grows) and who is there now."""

    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    whep_joined: int = 0
    whep_now: int = 0
    hls_now: int = 0
    ws_now: int = 0
    chat_lines: int = 0

    def answer(self, what: str, response: httpx.Response, *expected: int) -> bool:
        self.requests += 1
        if response.status_code in (expected or (200,)):
            return True
        self.errors[f"{what} {response.status_code}"] += 1
        return False

    def failed(self, what: str, exc: BaseException) -> None:
        self.errors[f"{what} {type(exc).__name__}"] += 1

    def line(self) -> str:
        """This tally as one JSON line (``asdict`` would turn the Counter's items into keys)."""
        return json.dumps({**asdict(self), "errors": dict(self.errors)})


class Crowd:
    """Starts every kind of visitor on :meth:`start`; :meth:`stop` cancels and awaits them all."""

    def __init__(self, target: Target, *, viewers: int = 6, hls: int = 2, sockets: int = 8) -> None:
        self.target = target
        self.viewers, self.hls, self.sockets = viewers, hls, sockets
        self.tally = Tally()
        self.http = httpx.AsyncClient(base_url=target.base, timeout=20)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(
                self._keep(self.viewers, lambda: self.tally.whep_now, self._whep, (1.0, 3.0))
            ),
            asyncio.create_task(self._keep(self.hls, lambda: self.tally.hls_now, self._hls, (1.0, 4.0))),
            asyncio.create_task(
                self._keep(self.sockets, lambda: self.tally.ws_now, self._socket, (0.5, 2.0))
            ),
            asyncio.create_task(self._chat()),
            asyncio.create_task(self._pages()),
        ]

    async def stop(self, timeout: float = 15.0) -> None:
        """Cancel everyone and wait (at most ``timeout`` s: a peer whose server has gone may
        take long to close) for them to finish."""
        tasks = [*self._loops, *self._tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.http.aclose()

    async def _keep(self, size: int, now: object, visit: object, pause: tuple[float, float]) -> None:
        """Start ``visit()`` whenever fewer than ``size`` are there, one every ``pause`` seconds."""
        assert callable(now) and callable(visit)
        while True:
            if now() < size:
                task = asyncio.create_task(visit())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(random.uniform(*pause))

    async def _whep(self) -> None:
        tally, url = self.tally, f"{self.target.base}/api/streams/{self.target.stream_id}/whep"
        pc = RTCPeerConnection(LOOPBACK)
        tally.whep_now += 1
        try:
            pc.addTransceiver("video", direction="recvonly").setCodecPreferences(preferred_codecs("video"))
            pc.addTransceiver("audio", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            response = await self.http.post(url, content=pc.localDescription.sdp, headers=SDP)
            if not tally.answer("whep", response, 201):
                return
            tally.whep_joined += 1
            await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
            video = EncodedFrameTap(lambda codec, frame: None, lambda: None)
            for transceiver in pc.getTransceivers():
                tap = (
                    video if transceiver.kind == "video" else EncodedFrameTap(lambda c, f: None, lambda: None)
                )
                install_tap(transceiver.receiver, tap)
            await asyncio.sleep(random.uniform(5, 25))
            if video.frames == 0:
                tally.errors["whep no video"] += 1
            if random.random() >= 0.25:  # the others just vanish
                tally.answer(
                    "whep delete", await self.http.delete(urljoin(url, response.headers["location"]))
                )
        except (httpx.HTTPError, OSError) as exc:
            tally.failed("whep", exc)
        finally:
            tally.whep_now -= 1
            await pc.close()

    async def _hls(self) -> None:
        tally = self.tally
        tally.hls_now += 1
        try:
            index = await self.http.get(f"/live/{self.target.stream_id}/index.m3u8")
            if not tally.answer("hls index", index):
                return
            media = urljoin(str(index.url), _uris(index.text)[-1])
            seen: set[str] = set()
            deadline = asyncio.get_running_loop().time() + random.uniform(20, 60)
            while asyncio.get_running_loop().time() < deadline:
                playlist = await self.http.get(media)
                if tally.answer("hls playlist", playlist):
                    segments = [u for u in _uris(playlist.text) if u.count(".") == 1]  # not the parts
                    for uri in segments[-1:]:
                        if uri not in seen:
                            seen.add(uri)
                            tally.answer("hls segment", await self.http.get(urljoin(media, uri)))
                await asyncio.sleep(2)
        except httpx.HTTPError as exc:
            tally.failed("hls", exc)
        finally:
            tally.hls_now -= 1

    async def _chat(self) -> None:
        """Each login posts a line in turn, one every 3-5 s in all."""
        n = 0
        while True:
            token = self.target.tokens[n % len(self.target.tokens)]
            n += 1
            try:
                response = await self.http.post(
                    f"/api/streams/{self.target.stream_id}/chat",
                    json={"body": f"soak line {n}"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                if self.tally.answer("chat", response, 201):
                    self.tally.chat_lines += 1
            except httpx.HTTPError as exc:
                self.tally.failed("chat", exc)
            await asyncio.sleep(random.uniform(3, 5))

    async def _pages(self) -> None:
        """A visitor with a fresh browser every 1-2 s: the watch page (heartbeat, leave) or the
        floor, a booth and a search."""
        t, tally = self.target, self.tally
        while True:
            try:
                async with httpx.AsyncClient(base_url=t.base, timeout=20) as browser:
                    if random.random() < 0.5:
                        tally.answer("watch page", await browser.get(f"/watch/{t.stream_id}"))
                        tally.answer("heartbeat", await browser.post(f"/api/streams/{t.stream_id}/heartbeat"))
                        tally.answer("chat history", await browser.get(f"/api/streams/{t.stream_id}/chat"))
                        tally.answer(
                            "leave", await browser.post(f"/api/streams/{t.stream_id}/leave"), 200, 204
                        )
                    else:
                        tally.answer("floor", await browser.get(f"/expos/{t.slug}"))
                        tally.answer("booth page", await browser.get(f"/expos/{t.slug}/booths/{t.booth_id}"))
                        tally.answer("search", await browser.get(f"/api/expos/{t.slug}/search?q=led"))
                        tally.answer("stats", await browser.get(f"/api/streams/{t.stream_id}/stats"))
            except httpx.HTTPError as exc:
                tally.failed("pages", exc)
            await asyncio.sleep(random.uniform(1, 2))

    async def _socket(self) -> None:
        tally = self.tally
        ws_url = self.target.base.replace("http", "ws", 1) + "/ws"
        channel = f"stream:{self.target.stream_id}"
        tally.ws_now += 1
        try:
            async with connect(ws_url, open_timeout=20) as ws:
                await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
                async with asyncio.timeout(20):
                    while json.loads(await ws.recv()).get("type") != "subscribed":
                        pass
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(random.uniform(5, 30)):
                        async for _frame in ws:  # chat lines and counts, read and dropped
                            pass
                if random.random() < 1 / 3:
                    ws.transport.abort()  # gone without a close frame
        except (OSError, TimeoutError, ValueError) as exc:
            tally.failed("ws", exc)
        except Exception as exc:  # websockets' ConnectionClosed and handshake errors
            tally.failed("ws", exc)
        finally:
            tally.ws_now -= 1


def _uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


async def main(spec: dict[str, object]) -> None:
    viewers = int(spec.pop("viewers"))  # type: ignore[call-overload]
    spec["tokens"] = tuple(spec["tokens"])  # type: ignore[arg-type]
    crowd = Crowd(Target(**spec), viewers=viewers)  # type: ignore[arg-type]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    crowd.start()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                await stop.wait()
        print(crowd.tally.line(), flush=True)
    await crowd.stop()
    print(crowd.tally.line(), flush=True)
    # Without waiting for asyncio.run's clean-up: a thread of a peer that never connected
    # must not keep the load running after the soak ended.
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
