"""Types of the receive path's C part (streaming/_rtprecv.c)."""

from aiortc.rtp import HeaderExtensions, RtpPacket

def open_rtp(
    unprotect: int,
    context: int,
    data: bytes,
    ids: HeaderExtensions,
    packet_type: type[RtpPacket],
    extensions_type: type[HeaderExtensions],
    /,
) -> RtpPacket | None: ...
def parse_rtp(
    data: bytes,
    ids: HeaderExtensions,
    packet_type: type[RtpPacket],
    extensions_type: type[HeaderExtensions],
    /,
) -> RtpPacket: ...
