"""Types of the forwarder's send loops in C (streaming/_rtpsend.c)."""

from typing import Any

from streaming.srtp_batch import Plan

def send_plan(
    fd: int,
    protect: int,
    context: int,
    plan: Plan,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    history: list[tuple[int, int, int, bytes] | None],
    address: bytes,
    gso: bool,
    /,
) -> tuple[int, int, bool, int, list[bytes], int]: ...

class Outlet:
    sequence: int
    gso: bool
    packets: int
    octets: int
    packets_sent: int
    batches_sent: int
    @property
    def owner(self) -> Any: ...
    @property
    def configured(self) -> bool: ...
    def configure(
        self,
        fd: int,
        address: bytes,
        context: int,
        payload_type: int,
        ssrc: int,
        timestamp_origin: int,
        history: list[tuple[int, int, int, bytes] | None],
        extension: bytes,
        abs_offset: int,
        owner: object,
        dtls: object,
        session: object,
        nominated: dict[int, Any],
        pair: object,
        transport: object,
        sender_dict: dict[str, Any],
        dtls_dict: dict[str, Any],
        track_dict: dict[str, Any],
        /,
    ) -> None: ...
    def disable(self) -> None: ...

def fan_out(
    protect: int,
    connected: object,
    payloads: list[bytes],
    timestamp: int,
    ntp_time: int,
    outlets: list[Outlet],
    /,
) -> list[tuple[Outlet, list[bytes] | None, int]]: ...
