"""Publish a test picture and silence with FFmpeg's own WHIP muxer (the one PyAV's wheels carry).

    python ffmpeg_whip.py URL KEY SECONDS CERT KEYFILE

Run by ``tests/streaming/test_interop.py`` in its own process: the muxer blocks. FFmpeg is the
DTLS server here (it offers ``a=setup:passive``); it is given a P-256 certificate because the
secp224r1 one its GnuTLS build generates is refused by OpenSSL 4 clients (see ``streaming.dtls``).
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction

import av

WIDTH, HEIGHT, FPS = 320, 240, 30


def main() -> None:
    url, key, seconds, cert, keyfile = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
    options = {"authorization": key, "cert_file": cert, "key_file": keyfile}
    out = av.open(url, "w", format="whip", options=options)
    video = out.add_stream("libx264", rate=FPS)
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    video.options = {"tune": "zerolatency", "preset": "ultrafast", "profile": "baseline", "g": str(FPS)}
    audio = out.add_stream("libopus", rate=48000)
    audio.layout = "stereo"
    start, frame, samples = time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        picture = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for index, plane in enumerate(picture.planes):
            plane.update(bytes([(frame * 4) % 256 if index == 0 else 128]) * plane.buffer_size)
        picture.pts, picture.time_base = frame, Fraction(1, FPS)
        for packet in video.encode(picture):
            out.mux(packet)
        while samples < (frame + 1) * 48000 // FPS:
            chunk = av.AudioFrame(format="s16", layout="stereo", samples=960)
            chunk.planes[0].update(bytes(chunk.planes[0].buffer_size))
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, samples, Fraction(1, 48000)
            for packet in audio.encode(chunk):
                out.mux(packet)
            samples += 960
        frame += 1
        time.sleep(max(0.0, start + frame / FPS - time.monotonic()))
    out.close()
    print(f"published {frame} frames", flush=True)


if __name__ == "__main__":
    main()
