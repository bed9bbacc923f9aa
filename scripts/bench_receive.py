"""How long a publisher's frames wait in the server's receiver, and what that receiver costs.

    .venv/bin/python scripts/bench_receive.py [--seconds 20] [--kbps 500] [--pairs 2]

A real frame's way into the server: an aiortc publisher sends pre-encoded H.264 (640x360, a
keyframe each second) and Opus at their real pace over loopback to a server peer connection whose
receivers are tapped as the media router taps them (``streaming.receiver.install_tap``). Two kinds
of server connection run side by side in the same process, for the same seconds, ``--pairs`` of
each:

* ``assembler``: what the server does, :class:`streaming.receiver.FrameAssembler` (a frame goes
  with its last packet);
* ``aiortc``: aiortc's own ``JitterBuffer`` put back behind the same tap (a frame goes when the
  next frame's first packet arrives; audio four frames later still), as before.

For every frame: how long the receiver held it, from the arrival of its last packet at the jitter
buffer to the moment the tap has it (matched by RTP timestamp; the rest of a frame's way, the
sender and the network, is the same for both kinds); and the CPU time of the jitter buffer's
``add`` per packet (perf_counter around each call, both kinds measured the same way). Prints a
table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _fanout_peer import LOOPBACK
from _room_peers import AUDIO_CLOCK, FPS, OPUS_SAMPLES, VIDEO_CLOCK, PacketTrack, encode_audio, encode_video
from benchlib import percentiles, print_side_by_side

from streaming.codecs import preferred_codecs
from streaming.receiver import EncodedFrameTap, install_tap

KINDS = ("assembler", "aiortc")
_BUFFER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_MAPPER_ATTR = "_RTCRtpReceiver__timestamp_mapper"


class TimedBuffer:
    """Times each ``add`` of the jitter buffer it wraps (the same wrapper for both kinds) and
    notes when the last packet of each RTP timestamp arrived."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.packets = 0
        self.arrivals: dict[int, float] = {}
        self.inside = False
        self.tap_seconds = 0.0  # of the tap's callback, when the buffer itself calls it

    def add(self, packet: Any) -> Any:
        start = time.perf_counter()
        self.arrivals[packet.timestamp] = start
        self.inside = True
        try:
            return self.inner.add(packet)
        finally:
            self.inside = False
            self.seconds += time.perf_counter() - start
            self.packets += 1


class Pair:
    """One publisher and the server connection that receives it, with one kind of buffer."""

    def __init__(self, kind: str, video: list[bytes], audio: list[bytes]) -> None:
        self.kind = kind
        self.delays: dict[str, list[float]] = {"video": [], "audio": []}
        self.buffers: dict[str, TimedBuffer] = {}
        self.frames = {"video": 0, "audio": 0}
        self.counting = False
        self.publisher, self.server = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
        self.tracks = [
            PacketTrack("video", video, 1 / FPS, 90_000 // FPS, VIDEO_CLOCK),
            PacketTrack("audio", audio, OPUS_SAMPLES / 48_000, OPUS_SAMPLES, AUDIO_CLOCK),
        ]

    async def connect(self) -> None:
        video = self.publisher.addTransceiver(self.tracks[0], direction="sendonly")
        video.setCodecPreferences([c for c in preferred_codecs("video") if c.mimeType == "video/H264"])
        self.publisher.addTransceiver(self.tracks[1], direction="sendonly")
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        await self.server.setRemoteDescription(self.publisher.localDescription)
        for transceiver in self.server.getTransceivers():
            self._tap(transceiver.kind, transceiver.receiver)
        await self.server.setLocalDescription(await self.server.createAnswer())
        await self.publisher.setRemoteDescription(self.server.localDescription)

    def _tap(self, kind: str, receiver: RTCRtpReceiver) -> None:
        mapper: Any = getattr(receiver, _MAPPER_ATTR)

        def on_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
            # The tap's timestamps count from the stream's first frame: back to the RTP ones.
            now = time.perf_counter()
            buffer = self.buffers[kind]
            arrived = buffer.arrivals.pop((frame.timestamp + mapper._origin) & 0xFFFFFFFF, None)
            self.frames[kind] += 1
            if self.counting and arrived is not None:
                self.delays[kind].append(now - arrived)
            if buffer.inside:  # the assembler delivers from its add: not the buffer's own time
                buffer.tap_seconds += time.perf_counter() - now

        install_tap(receiver, EncodedFrameTap(on_frame, lambda: None))
        if self.kind == "aiortc":  # the buffer aiortc's receiver makes for itself
            inner: Any = JitterBuffer(capacity=512, is_video=True) if kind == "video" else JitterBuffer(16, 4)
        else:
            inner = getattr(receiver, _BUFFER_ATTR)
        self.buffers[kind] = TimedBuffer(inner)
        setattr(receiver, _BUFFER_ATTR, self.buffers[kind])

    def reset(self) -> None:
        self.counting = True
        for buffer in self.buffers.values():
            buffer.seconds, buffer.tap_seconds, buffer.packets = 0.0, 0.0, 0
            buffer.arrivals.clear()

    async def close(self) -> None:
        await self.publisher.close()
        await self.server.close()


def figures(pairs: list[Pair]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("video", "audio"):
        delays = [d * 1000 for p in pairs for d in p.delays[kind]]
        out[f"{kind}_frames"] = len(delays)
        if delays:
            held = percentiles(delays)
            out[f"{kind}_p50_ms"], out[f"{kind}_p95_ms"] = held["p50_ms"], held["p95_ms"]
        seconds = sum(p.buffers[kind].seconds - p.buffers[kind].tap_seconds for p in pairs)
        packets = sum(p.buffers[kind].packets for p in pairs)
        out[f"{kind}_packets"] = packets
        out[f"{kind}_us_per_packet"] = round(seconds / packets * 1e6, 2) if packets else None
    return out


async def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    video, audio = encode_video(args.kbps), encode_audio()
    pairs = [Pair(kind, video, audio) for _ in range(args.pairs) for kind in KINDS]
    try:
        for pair in pairs:
            await pair.connect()
        deadline = time.monotonic() + 20
        while not all(all(p.frames.values()) for p in pairs):
            if time.monotonic() > deadline:
                raise SystemExit("the publishers' media did not arrive within 20 s")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # past the connections' first second
        for pair in pairs:
            pair.reset()
        await asyncio.sleep(args.seconds)
        return {kind: figures([p for p in pairs if p.kind == kind]) for kind in KINDS}
    finally:
        for pair in pairs:
            await pair.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kbps", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=2, help="publishers of each kind, side by side")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    rows = [
        ("video frames measured", "video_frames", "{:,}"),
        ("video held, p50", "video_p50_ms", "{:.1f} ms"),
        ("video held, p95", "video_p95_ms", "{:.1f} ms"),
        ("audio frames measured", "audio_frames", "{:,}"),
        ("audio held, p50", "audio_p50_ms", "{:.1f} ms"),
        ("audio held, p95", "audio_p95_ms", "{:.1f} ms"),
        ("buffer CPU, video packet", "video_us_per_packet", "{:.2f} us"),
        ("buffer CPU, audio packet", "audio_us_per_packet", "{:.2f} us"),
    ]
    print(f"{args.pairs} publishers of each kind, {args.kbps} kbps H.264 + Opus, {args.seconds:g} s")
    print_side_by_side(rows, [(kind, results[kind]) for kind in KINDS])
    print(json.dumps({"seconds": args.seconds, "kbps": args.kbps, "pairs": args.pairs, **results}))


if __name__ == "__main__":
    main()
