"""Announcements between domains: the domain where something changed says so on the bus, and
whichever domain cares subscribes. Neither imports the other.

Each announcement is one function here (what changed, for which expo) and the channel it goes out
on; a publish nobody listens to costs one bus message.
"""

from __future__ import annotations

import secrets

from expo.bus import Bus


def figures_channel(expo_id: int) -> str:
    """Where :func:`figures_changed` goes out for one expo."""
    return f"dashboard-nudge:{expo_id}"


async def figures_changed(bus: Bus, expo_id: int) -> None:
    """An expo's live figures (registrations, check-ins, rooms in session, meetings) changed: the
    live dashboard recomputes them now, in whichever process shows them. Each announcement carries
    a random token, so several processes that hear it recompute once between them.

    Best effort: the change is committed already; during a bus outage the dashboards catch up at
    their next periodic recomputation."""
    await bus.try_publish(figures_channel(expo_id), secrets.token_urlsafe(12))
