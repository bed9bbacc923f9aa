"""Real encoded media for the HLS and recorder tests: H.264 from libx264 and Opus from libopus,
shaped the way the media router hands them over (Annex B access units, RTP clocks)."""

from __future__ import annotations

import math
import re
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.codeccontext import AudioCodecContext
from av.video.codeccontext import VideoCodecContext

from streaming.hls import HlsPackager

FFMPEG, FFPROBE = "/usr/bin/ffmpeg", "/usr/bin/ffprobe"
ffmpeg_missing = not Path(FFMPEG).exists()

WIDTH, HEIGHT, FPS = 320, 240, 30
VIDEO_TIME_BASE = Fraction(1, 90000)
AUDIO_TIME_BASE = Fraction(1, 48000)
# RTP timestamps start at random values; these make both clocks wrap during a test.
VIDEO_RTP_START = 2**32 - 90000
AUDIO_RTP_START = 2**32 - 24000


def h264_packets(
    seconds: float, gop: int = FPS, *, start: float = 0.0, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> list[av.Packet[Any]]:
    """A moving bar, ``gop`` frames per IDR, no B-frames, SPS/PPS repeated before every IDR (as
    browsers send them), timed on a 90 kHz RTP clock that wraps, starting ``start`` s in."""
    width, height = size
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1",
    }
    packets: list[av.Packet[Any]] = []
    for i in range(round(seconds * FPS)):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = bytearray(frame.planes[0].buffer_size)
        stride = frame.planes[0].line_size
        for row in range(height):
            x = (i * 4 + row) % (width - 24)
            luma[row * stride + x : row * stride + x + 24] = b"\xf0" * 24
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = i
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    out = []
    for packet in packets:
        assert packet.pts is not None
        rtp = av.Packet(bytes(packet))
        rtp.pts = (VIDEO_RTP_START + round(start * 90000) + packet.pts * 90000 // FPS) % 2**32
        rtp.time_base = VIDEO_TIME_BASE
        out.append(rtp)
    return out


def opus_packets(seconds: float, start: float = 0.0) -> list[av.Packet[Any]]:
    """A 440 Hz tone as 20 ms Opus packets on a 48 kHz RTP clock (wrapping)."""
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = AUDIO_TIME_BASE
    packets: list[av.Packet[Any]] = []
    n = 960
    for i in range(round(seconds * 50)):
        t0 = i * n
        samples = [int(8000 * math.sin(2 * math.pi * 440 * (t0 + k) / 48000)) for k in range(n)]
        frame = av.AudioFrame(format="s16", layout="stereo", samples=n)
        frame.planes[0].update(struct.pack(f"<{2 * n}h", *(v for s in samples for v in (s, s))))
        frame.sample_rate = 48000
        frame.pts = t0
        packets.extend(encoder.encode(frame))
    out = []
    for index, packet in enumerate(packets):
        rtp = av.Packet(bytes(packet))
        rtp.pts = (AUDIO_RTP_START + round(start * 48000) + index * n) % 2**32
        rtp.time_base = AUDIO_TIME_BASE
        out.append(rtp)
    return out


def interleave(
    video: list[av.Packet[Any]], audio: list[av.Packet[Any]], audio_from: float = 0.0
) -> list[tuple[str, av.Packet[Any]]]:
    """Both tracks in arrival order, as a live publisher delivers them; audio joins at ``audio_from`` s."""
    timed = [(i / FPS, "video", p) for i, p in enumerate(video)]
    timed += [(audio_from + i * 0.02, "audio", p) for i, p in enumerate(audio)]
    timed.sort(key=lambda t: (t[0], t[1] == "audio"))
    return [(kind, packet) for _, kind, packet in timed]


async def feed(packager: HlsPackager, items: list[tuple[str, av.Packet[Any]]]) -> None:
    """Push as a live publisher would, in bursts the worker keeps up with (one every 100 packets,
    i.e. about every second of media, instead of all of it at once)."""
    for index, (kind, packet) in enumerate(items):
        packager.push(kind, packet)
        if index % 100 == 99:
            await packager.drain()
    await packager.drain()


def nal_units(annex_b: bytes) -> list[bytes]:
    """The NAL units of an Annex B buffer, without start codes and without access unit
    delimiters (the TS muxer adds those; they carry no picture data)."""
    units = [u.lstrip(b"\x00") for u in re.split(b"\x00\x00\x01", annex_b)]
    return [u.rstrip(b"\x00") for u in units if u and u[0] & 0x1F != 9]
