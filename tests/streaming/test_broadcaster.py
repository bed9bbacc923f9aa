"""The demo's synthetic broadcaster, publishing over WHIP to the real server as `expo demo` runs it."""

from __future__ import annotations

import time
from pathlib import Path

import av
import httpx
from aiortc import RTCPeerConnection

from expo.db import Database
from expo.demo import DEMO_BROADCAST, seed_demo
from streaming import services
from streaming.broadcaster import BroadcasterThread, ClockPattern, clock_rectangles
from streaming.models import StreamStatus
from streaming.plane import MediaPlane
from tests.conftest import LiveServer, create_schema
from tests.streaming.test_whip_whep import first_frames, new_stream, play, until


def band_luma(frame: av.VideoFrame) -> tuple[int, int]:
    """Darkest and brightest luma in the middle third, where the clock is drawn."""
    plane = frame.planes[0]
    data = bytes(plane)
    rows = range(frame.height * 2 // 5, frame.height * 3 // 5)
    values = [
        b for row in rows for b in data[row * plane.line_size : row * plane.line_size + frame.width // 2]
    ]
    return min(values), max(values)


def test_the_clock_is_drawn_in_seven_segments() -> None:
    pattern = ClockPattern(320, 180)
    eights, ones = pattern.draw("88:88:88", 0), pattern.draw("11:11:11", 0)
    assert bytes(eights.planes[0]) != bytes(ones.planes[0])
    # An 8 lights all seven segments of a digit, a 1 two of them.
    assert len(clock_rectangles("8", 0, 0, 20, 40)) == 7 and len(clock_rectangles("1", 0, 0, 20, 40)) == 2
    # The bars move from one frame to the next.
    assert bytes(pattern.draw("00:00:00", 1).planes[0]) != bytes(pattern.draw("00:00:00", 2).planes[0])


async def test_the_demo_broadcaster_goes_live_over_whip_reconnects_and_ends_on_stop(
    live_server: LiveServer,
) -> None:
    stream_id, key = new_stream(live_server)
    plane = live_server.app.state.platform.get(MediaPlane)
    thread = BroadcasterThread(f"{live_server.url}/api/streams/{stream_id}/whip", key, max_backoff=1.0)
    thread.start()
    viewers: list[RTCPeerConnection] = []
    try:
        await until(lambda: thread.broadcaster.state == "live" and stream_id in plane.publishers, timeout=20)
        async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
            assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "live"
            viewer = await play(http, stream_id)
            viewers.append(viewer.pc)
            assert viewer.response.status_code == 201
            started = time.monotonic()
            frames = await first_frames(viewer, "video", 10, timeout=20)
            elapsed = (time.monotonic() - started) * 1000
            print(f"\nDemo broadcast: first decoded frame {elapsed:.0f} ms after the WHEP POST")
            assert (frames[-1].width, frames[-1].height) == (640, 360)
            darkest, brightest = band_luma(frames[-1])
            assert darkest < 40 and brightest > 200  # white digits on the dark band
            audio = await first_frames(viewer, "audio", 3)
            assert audio[0].sample_rate == 48000

            # The server drops the encoder's connection (as a restart would): it comes back.
            session = plane.publishers[stream_id]
            live_server.call(session.pc.close())
            await until(
                lambda: (
                    thread.broadcaster.connections >= 2
                    and stream_id in plane.publishers
                    and plane.publishers[stream_id] is not session
                ),
                timeout=20,
            )
            again = await play(http, stream_id)
            viewers.append(again.pc)
            await first_frames(again, "video", 1, timeout=20)

            # Stopping the broadcaster DELETEs its session: the broadcast ends.
            thread.stop()
            assert thread.broadcaster.state == "stopped"
            assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "ended"
    finally:
        thread.stop()
        for pc in viewers:
            await pc.close()


async def test_the_demo_has_a_broadcast_that_can_always_go_live_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    await create_schema(url)
    db = Database(url)
    try:
        first = await seed_demo(db)
        assert first.broadcast.title == DEMO_BROADCAST and first.broadcast.expo_id == first.expo.id
        async with db.session() as session:
            await services.end(session, first.broadcast)
        # Running the demo again reopens it (same stream, same key) for the broadcaster.
        second = await seed_demo(db)
        assert second.broadcast.id == first.broadcast.id and second.broadcast.key == first.broadcast.key
        assert second.broadcast.status == StreamStatus.SCHEDULED
    finally:
        await db.dispose()
