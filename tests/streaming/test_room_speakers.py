"""Who speaks, from the audio level in RTP headers: the meter's hysteresis, the room's active
speaker, and the hook that counts packets as a receiver gets them (nothing decoded)."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from streaming.room_speakers import LOUD, RoomSpeakers, SpeakingMeter, meter_audio

QUIET = 127  # -dBov: silence


def feed(meter: SpeakingMeter, level: int, packets: int = 12) -> None:
    """What a quarter of a second of packets at ``level`` does to the meter."""
    meter.packets += packets
    meter.loud += packets if level <= LOUD else 0


async def test_someone_speaks_after_a_moment_of_voice_and_stops_after_a_moment_of_silence() -> None:
    announced: list[list[str]] = []

    async def announce(room_id: int, ids: list[str]) -> None:
        assert room_id == 7
        announced.append(ids)

    speakers = RoomSpeakers(announce, interval=3600)  # sampled by hand below
    try:
        ann, bo = speakers.meter(7, "ann"), speakers.meter(7, "bo")
        assert speakers.active_speaker(7) is None
        feed(ann, 20)
        feed(bo, QUIET)
        await speakers.sample()
        assert announced == [["ann"]] and speakers.active_speaker(7) == "ann"
        # A breath between words is not silence: still speaking, nothing announced.
        feed(ann, QUIET)
        await speakers.sample()
        assert announced == [["ann"]] and speakers.speaking(7) == ["ann"]
        # Both speak, Bo louder for longer: both ringed, Bo the active speaker.
        for _ in range(4):
            feed(ann, 30, packets=12)
            ann.loud -= 6  # half of Ann's packets are quiet
            feed(bo, 10)
            await speakers.sample()
        assert announced[-1] == ["ann", "bo"] and speakers.active_speaker(7) == "bo"
        # Silence: both stop, and Bo stays the one the room last listened to.
        for _ in range(10):
            feed(ann, QUIET)
            feed(bo, QUIET)
            await speakers.sample()
        assert announced[-1] == [] and speakers.active_speaker(7) == "bo"
        # A room where nobody sends audio levels at all: nobody speaks.
        speakers.meter(8, "cy")
        await speakers.sample()
        assert speakers.speaking(8) == [] and speakers.active_speaker(8) is None
        # Bo leaves: no longer anyone's active speaker.
        speakers.forget(7, "bo")
        assert speakers.active_speaker(7) is None
    finally:
        await speakers.close()


class Receiver:
    """The one method of ``RTCRtpReceiver`` the DTLS transport calls per packet."""

    def __init__(self) -> None:
        self.handled: list[RtpPacket] = []

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        self.handled.append(packet)


async def test_the_hook_counts_each_packet_by_its_header_and_hands_it_on() -> None:
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")
            ]
        )
    )

    def packet(level: int | None) -> RtpPacket:
        sent = RtpPacket(payload_type=111, sequence_number=1, timestamp=960, ssrc=5)
        sent.extensions.audio_level = None if level is None else (False, level)
        sent.payload = b"\x00" * 40
        return RtpPacket.parse(sent.serialize(extensions), extensions)

    receiver, meter = Receiver(), SpeakingMeter()
    meter_audio(receiver, meter)  # type: ignore[arg-type]
    for level in (10, LOUD, LOUD + 1, QUIET, None):
        await receiver._handle_rtp_packet(packet(level), 0)
    assert len(receiver.handled) == 5  # every packet reaches aiortc's own handling
    assert (meter.packets, meter.loud) == (4, 2)  # a packet without the header is not counted
