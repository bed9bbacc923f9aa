"""A room as its people see it, in real Chromium with fake cameras, microphones (a beep) and a fake
screen: named tiles in a grid, a ring around whoever speaks, a shared screen as a tile of its
own, mute and camera-off shown to the others, the speaker view, and a participant whose
connection drops coming back into the same tile.

With ``EXPO_TEST_SHOTS=DIR`` the room is also photographed with three people at 1280 and 390 px,
in English and Chinese."""

from __future__ import annotations

from itertools import pairwise

from playwright.async_api import Browser, Page, expect

from streaming.forwarder import OutgoingFrame
from streaming.publication import Publication
from streaming.room_participants import Participant
from streaming.rooms import RoomPlane
from streaming.whip import PublisherSession
from tests.browser.shots import shot
from tests.conftest import LiveServer
from tests.signing.test_ceremony_browser import open_page
from tests.streaming.test_e2e_browser import DEADLINE, eventually
from tests.streaming.test_rooms import new_room

WAIT = DEADLINE * 1000
PICTURE = "v => v.videoWidth || new Promise(r => v.addEventListener('resize', r, {once: true}))"
"""Resolves once a <video> shows a picture."""


class RtpTimes:
    """A sink of a publication (see ``Publication.add_sink``) noting each frame's RTP time."""

    def __init__(self) -> None:
        self.times: list[int] = []

    def push(self, frame: OutgoingFrame) -> bool:
        self.times.append(frame.packet.pts or 0)
        return False

    def end(self) -> None:
        pass

    async def last_gaps(self) -> list[int]:
        """The RTP time between each two of the last nine frames."""
        last = self.times[-9:]
        return [b - a for a, b in pairwise(last)]


async def listen(publication: Publication, sink: RtpTimes) -> None:
    publication.add_sink(sink)


async def unlisten(publication: Publication, sink: RtpTimes) -> None:
    publication.remove_sink(sink)


async def seat_publisher(seat: Participant) -> PublisherSession | None:
    return seat.publisher


async def name_myself(page: Page, name: str) -> None:
    await page.locator("#display-name").fill(name)
    await page.locator("#name-form button[type=submit]").click()
    await expect(page.locator("#name-state")).to_contain_text(name, timeout=WAIT)


async def test_tiles_show_names_speakers_screens_and_a_dropped_guest_comes_back(
    live_server: LiveServer, browser: Browser
) -> None:
    room = new_room(live_server, "Booth meeting")
    assert room.id is not None
    errors: list[str] = []
    base = live_server.url
    host = await open_page(browser, f"{base}/rooms/{room.id}?key={room.host_key}", errors)
    await expect(host.locator("#room-state")).to_have_text("Waiting for others to join.", timeout=WAIT)
    guest = await open_page(browser, f"{base}/rooms/{room.id}?key={room.guest_key}", errors)
    await name_myself(guest, "Bo Li")

    # A grid of two named tiles, each playing the other's camera.
    remote = host.locator("figure.room-tile", has=host.locator("video[data-participant]"))
    await expect(host.locator("#room-grid > figure.room-tile")).to_have_count(2, timeout=WAIT)
    await expect(remote.locator("figcaption")).to_have_text("Bo Li", timeout=WAIT)
    await expect(guest.locator("figure.room-tile figcaption").nth(1)).to_have_text("Host", timeout=WAIT)
    await expect(remote.locator("video")).to_have_js_property("paused", False, timeout=WAIT)
    participant = await remote.locator("video").get_attribute("data-participant")

    # Chromium's fake microphone beeps: the server hears the level in its packets, the tile rings.
    await expect(remote).to_have_attribute("data-speaking", "true", timeout=WAIT)

    # The guest mutes and turns the camera off: the host's tile of them says so.
    await guest.get_by_role("button", name="Mute microphone").click()
    await guest.get_by_role("button", name="Turn camera off").click()
    await expect(remote.locator(".room-muted")).to_be_visible(timeout=WAIT)
    # Muted, their microphone sends a packet every 400 ms, not every 20 ms: the server's answer
    # asked for Opus DTX. Read on the RTP clock of what reaches the server, not on the wall clock:
    # once the encoder has heard the silence, frames come 100 ms apart or more on average (Chromium
    # sends them in pairs every 400 ms), where they would come every 20 ms (960 ticks).
    plane = live_server.app.state.platform.get(RoomPlane)
    sound = RtpTimes()
    (audio,) = [
        p for p in plane.media.router.publications(f"room:{room.id}:{participant}") if p.kind == "audio"
    ]
    live_server.call(listen(audio, sound))
    await eventually(sound.last_gaps, lambda gaps: len(gaps) == 8 and sum(gaps) >= 8 * 4_800, "DTX")
    live_server.call(unlisten(audio, sound))
    await expect(remote.locator(".room-avatar")).to_have_text("BL")
    await expect(remote.locator(".room-avatar")).to_be_visible()
    await guest.get_by_role("button", name="Turn camera on").click()
    await expect(remote.locator(".room-avatar")).to_be_hidden(timeout=WAIT)

    # The guest shares their screen: a tile of its own beside their camera, then gone again.
    await guest.get_by_role("button", name="Share screen").click()
    screen = host.locator("figure.room-screen")
    await expect(screen.locator("figcaption")).to_have_text("Bo Li (screen)", timeout=WAIT)
    await expect(screen.locator("video")).to_have_js_property("paused", False, timeout=WAIT)
    await screen.locator("video").evaluate(PICTURE)
    await expect(host.locator("video[data-participant]")).to_have_count(1)
    await expect(guest.locator("figure.room-screen figcaption")).to_have_text("You (screen)")

    # The speaker view: one big tile, the rest in a strip; the choice is remembered.
    await host.get_by_role("button", name="Speaker view").click()
    await expect(host.locator("#room-grid")).to_have_attribute("data-layout", "speaker")
    await expect(host.locator('#room-grid > [data-featured="true"]')).to_have_count(1)
    await shot(host, "room_speaker_en_1280")
    await screen.get_by_role("button", name="Pin").click()
    await expect(screen).to_have_attribute("data-featured", "true")
    assert await host.evaluate("localStorage.getItem('expo.room.layout')") == "speaker"
    await host.get_by_role("button", name="Grid view").click()
    await expect(host.locator("#room-grid")).to_have_attribute("data-layout", "grid")

    await guest.get_by_role("button", name="Stop sharing").click()
    await expect(host.locator("figure.room-screen")).to_have_count(0, timeout=WAIT)

    # The guest's connection drops (the server loses it): the host sees them reconnecting on the
    # same tile, then their picture again; never a second tile, never a "left".
    seat = plane.rooms[room.id][participant or ""]
    publisher = seat.publisher
    assert publisher is not None
    live_server.call(publisher.close())
    await expect(remote.locator(".room-status")).to_have_text("Reconnecting…", timeout=WAIT)
    await eventually(lambda: seat_publisher(seat), lambda now: now not in (None, publisher), "rejoined")
    await expect(guest.locator("#room-state")).to_have_text("In the room.", timeout=WAIT)
    await expect(host.locator("video[data-participant]")).to_have_count(1)
    await expect(remote.locator(".room-status")).to_be_hidden(timeout=WAIT)
    assert await remote.locator("video").get_attribute("data-participant") == participant
    await expect(remote.locator("video")).to_have_js_property("paused", False, timeout=WAIT)
    assert seat.publisher is not publisher and seat.publishing

    # A third person, in Chinese: the photographs of the room with three.
    other = await open_page(
        browser, f"{base}/rooms/{room.id}?key={room.guest_key}", errors, locale="zh-CN", width=1280
    )
    await name_myself(other, "王芳")
    for page in (host, guest, other):
        await expect(page.locator("video[data-participant]")).to_have_count(2, timeout=WAIT)
        for video in await page.locator("video[data-participant]").all():
            await video.evaluate(PICTURE)
    # Bo Li turns the camera off: the others see their initials.
    await guest.get_by_role("button", name="Turn camera off").click()
    await expect(other.locator(".room-avatar", has_text="BL")).to_be_visible(timeout=WAIT)
    await expect(other.locator("#toggle-layout")).to_have_text("演讲者视图")
    await shot(host, "room_grid_en_1280")
    await shot(other, "room_grid_zh_1280")
    await host.set_viewport_size({"width": 390, "height": 844})
    await other.set_viewport_size({"width": 390, "height": 844})
    await shot(host, "room_grid_en_390")
    await shot(other, "room_grid_zh_390")
    assert errors == []
