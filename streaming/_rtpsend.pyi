"""Types of the forwarder's send loop in C (streaming/_rtpsend.c)."""

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
