"""Room control as its users see it, in a real Chromium with a fake camera and microphone: a guest
waits in the lobby until the host admits them, raises their hand for the host to see, is asked
to mute (their own page mutes them) and is removed; a locked room tells a newcomer so."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from streaming.models import RoomKind
from tests.conftest import LiveServer
from tests.streaming.test_e2e_browser import DEADLINE
from tests.streaming.test_room_control import room_of_kind
from tests.streaming.test_studio_browser import room_page

WAIT = DEADLINE * 1000
"""Playwright timeouts are in milliseconds."""


async def test_the_host_admits_a_waiting_guest_sees_their_hand_and_removes_them(
    live_server: LiveServer, browser: Browser
) -> None:
    room = room_of_kind(live_server, RoomKind.NEGOTIATION)  # a lobby by default
    errors: list[str] = []
    base = live_server.url
    host = await room_page(browser, f"{base}/rooms/{room.id}?key={room.host_key}", errors, "host")
    await expect(host.locator("#room-state")).to_have_text("Waiting for others to join.", timeout=WAIT)
    guest = await room_page(browser, f"{base}/rooms/{room.id}?key={room.guest_key}", errors, "guest")

    # The guest waits, and sees why; the host's page lists them with Admit and Turn away.
    await expect(guest.locator("#room-state")).to_have_text(
        "Waiting for the host to let you in.", timeout=WAIT
    )
    await expect(guest.get_by_role("button", name="Raise hand")).to_be_hidden()
    await expect(guest.get_by_role("button", name="Leave")).to_be_visible()
    waiting = host.locator("#lobby-list li")
    await expect(waiting).to_have_count(1, timeout=WAIT)
    await expect(waiting.locator(".room-lobby-name")).to_have_text("Guest 2")
    await expect(waiting.get_by_role("button", name="Turn away")).to_be_visible()
    await expect(host.locator("video[data-participant]")).to_have_count(0)

    # Admitted, they are in: each plays the other's camera, and the lobby is empty again.
    await waiting.get_by_role("button", name="Admit").click()
    await expect(host.locator("#room-lobby")).to_be_hidden(timeout=WAIT)
    await expect(guest.locator("#room-state")).to_have_text("In the room.", timeout=WAIT)
    for page in (host, guest):
        await expect(page.locator("video[data-participant]")).to_have_count(1, timeout=WAIT)
        await expect(page.locator("video[data-participant]")).to_have_js_property(
            "paused", False, timeout=WAIT
        )

    # The guest raises their hand: the host's tile of them shows it, and the host lowers it.
    await guest.get_by_role("button", name="Raise hand").click()
    tile = host.locator("figure.room-tile", has=host.locator("video[data-participant]"))
    await expect(tile.locator(".room-hand")).to_have_text("Hand raised", timeout=WAIT)
    await expect(tile.locator(".room-hand")).to_be_visible()
    await expect(guest.locator("#self-tile .room-hand")).to_be_visible()
    await tile.get_by_role("button", name="Lower hand").click()
    await expect(tile.locator(".room-hand")).to_be_hidden(timeout=WAIT)
    await expect(guest.get_by_role("button", name="Raise hand")).to_be_visible(timeout=WAIT)

    # Asked to mute, the guest's own page turns their microphone off and says why.
    await tile.get_by_role("button", name="Ask to mute").click()
    await expect(guest.locator("#toggle-microphone")).to_have_text("Unmute microphone", timeout=WAIT)
    await expect(guest.locator("#room-notice")).to_contain_text("The host asked you to mute")

    # Removed, they are out at once, and their page says so.
    await tile.get_by_role("button", name="Remove").click()
    await expect(guest.locator("#room-state")).to_have_text(
        "The host removed you from the room.", timeout=WAIT
    )
    await expect(host.locator("video[data-participant]")).to_have_count(0, timeout=WAIT)
    await expect(host.locator("#room-state")).to_have_text("Waiting for others to join.")

    # The host locks the room: the next guest is told, and gets no further.
    await host.get_by_role("button", name="Lock the room").click()
    await expect(host.locator("#lock-button")).to_have_text("Unlock the room", timeout=WAIT)
    late = await room_page(browser, f"{base}/rooms/{room.id}?key={room.guest_key}", errors, "late")
    await expect(late.locator("#room-state")).to_have_text(
        "The host has locked this room: nobody new can join.", timeout=WAIT
    )
    await expect(host.locator("#lobby-list li")).to_have_count(0)
    # Refused joins are answered 409, which Chromium logs; nothing else went wrong.
    refused = [e for e in errors if e.startswith("late:") and "status of 409" in e]
    assert [e for e in errors if e not in refused] == [], errors
