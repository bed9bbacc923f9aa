"""aiortc's NTP-epoch clocks, read from ``time.time()``.

aiortc's ``clock.current_ms()`` and ``clock.current_ntp_time()`` build a timezone-aware datetime
and subtract another on every call; a forwarding server calls them for every packet it receives
and every frame it sends. These give the same values (to the microsecond) for a fraction of that.
"""

from __future__ import annotations

import time

NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP's epoch) to 1970-01-01


def now_ms() -> int:
    """Milliseconds since the NTP epoch: what aiortc's bitrate estimator takes as arrival times."""
    return int((time.time() + NTP_EPOCH_OFFSET) * 1000)


def now_ntp() -> int:
    """The 64-bit NTP timestamp (seconds since the NTP epoch, 32.32 fixed point) of now."""
    return int((time.time() + NTP_EPOCH_OFFSET) * 4_294_967_296)
