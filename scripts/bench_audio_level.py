"""What the speaking meter costs per audio packet, beside what aiortc already pays for that packet.

    .venv/bin/python scripts/bench_audio_level.py [--packets 200000] [--rounds 5]

streaming/room_speakers.py counts the RFC 6464 audio level of each packet of a participant's
microphone (50 packets a second each) in a hook in front of the receiver's packet handler. This
times, in one process and on the same packets (Opus-sized, with the mid and audio-level header
extensions, as Chromium sends them):

* baseline: ``RtpPacket.parse`` and a call of the receiver's (here empty) ``async`` handler,
  the coroutine created and run, which aiortc does for every packet anyway;
* metered: the same with :func:`~streaming.room_speakers.meter_audio`'s hook in front.

Prints nanoseconds per packet for both (median of the rounds) and the difference, the meter's
own cost, then one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from streaming.room_speakers import SpeakingMeter, meter_audio


class Receiver:
    """Stands in for ``RTCRtpReceiver``: only the packet handler the DTLS transport calls."""

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        return None


def packet_bytes(extensions: HeaderExtensionsMap) -> bytes:
    packet = RtpPacket(payload_type=111, sequence_number=1, timestamp=960, ssrc=1234)
    packet.extensions.mid = "0"
    packet.extensions.audio_level = (True, 30)
    packet.payload = bytes(80)  # a 20 ms Opus packet of speech, roughly
    return packet.serialize(extensions)


def run(receiver: Any, data: bytes, extensions: HeaderExtensionsMap, count: int) -> float:
    """Nanoseconds per packet: parse, then drive the handler's coroutine to its end."""
    handle = receiver._handle_rtp_packet
    start = time.perf_counter_ns()
    for _ in range(count):
        coroutine = handle(RtpPacket.parse(data, extensions), 0)
        with contextlib.suppress(StopIteration):  # the handler's coroutine ends at once
            coroutine.send(None)
    return (time.perf_counter_ns() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
                RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            ]
        )
    )
    data = packet_bytes(extensions)
    plain, metered = Receiver(), Receiver()
    meter = SpeakingMeter()
    meter_audio(metered, meter)  # type: ignore[arg-type]
    baseline, hooked = [], []
    for _ in range(args.rounds):  # alternating, so that both see the same machine
        baseline.append(run(plain, data, extensions, args.packets))
        hooked.append(run(metered, data, extensions, args.packets))
        meter.packets = meter.loud = 0
    figures = {
        "baseline_ns_per_packet": round(statistics.median(baseline)),
        "metered_ns_per_packet": round(statistics.median(hooked)),
    }
    figures["meter_ns_per_packet"] = figures["metered_ns_per_packet"] - figures["baseline_ns_per_packet"]
    print(f"baseline (parse + handler): {figures['baseline_ns_per_packet']} ns/packet")
    print(f"with the speaking meter:    {figures['metered_ns_per_packet']} ns/packet")
    print(f"the meter's own cost:       {figures['meter_ns_per_packet']} ns/packet (50 a second per mic)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
