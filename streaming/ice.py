"""ICE servers: read from the settings, given to the server's peer connections and advertised to
WHIP/WHEP clients in ``Link`` headers (RFC 9725 section 4.4)."""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCIceServer

from expo.config import Settings


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server; TURN servers carry their credentials."""

    url: str
    username: str | None = None
    credential: str | None = None

    @property
    def is_turn(self) -> bool:
        return self.url.startswith(("turn:", "turns:"))

    def link(self) -> str:
        """This server as a ``Link`` header value: ``<stun:...>; rel="ice-server"``."""
        value = f'<{self.url}>; rel="ice-server"'
        if self.username is not None and self.credential is not None:
            value += (
                f'; username="{_quote(self.username)}"; credential="{_quote(self.credential)}"'
                '; credential-type="password"'
            )
        return value


def ice_servers(settings: Settings) -> list[IceServer]:
    """The configured servers (``ice_servers``, with ``turn_username``/``turn_password`` on TURN)."""
    servers = []
    for url in (u.strip() for u in settings.ice_servers.split(",")):
        if not url:
            continue
        if url.startswith(("turn:", "turns:")):
            servers.append(IceServer(url, settings.turn_username, settings.turn_password))
        else:
            servers.append(IceServer(url))
    return servers


def rtc_configuration(servers: list[IceServer]) -> RTCConfiguration:
    """The server side's peer connection configuration.

    An explicit empty list matters: given none, aiortc would query a public STUN server, which
    only slows gathering down on a LAN and fails without internet access.
    """
    return RTCConfiguration(
        iceServers=[RTCIceServer(urls=s.url, username=s.username, credential=s.credential) for s in servers]
    )


def link_headers(servers: list[IceServer]) -> str:
    """Every server as one comma-separated ``Link`` header value (empty when none)."""
    return ", ".join(s.link() for s in servers)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
