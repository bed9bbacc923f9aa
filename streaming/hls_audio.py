"""Opus to AAC-LC for HLS: the one transcode the packager does (Safari plays no Opus in TS).

Output is ADTS-framed AAC-LC, 48 kHz stereo, timed on the stream's timeline in 90 kHz ticks.
Gaps in the input (a late start, Opus DTX during silence, a stalled publisher) are filled with
silence so that the AAC track stays continuous and in step with the video.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.audio.codeccontext import AudioCodecContext

SAMPLE_RATE = 48000
AAC_CODECS = "mp4a.40.2"
AAC_BITRATE = 128_000
_AAC_FRAME = 1024
# A gap shorter than one Opus frame is timestamp jitter, not missing audio.
_GAP_SAMPLES = 960
# Input this far behind the output is late, not early: it is appended instead of realigned.
_MAX_LAG_SAMPLES = SAMPLE_RATE
_SILENCE_CHUNK = SAMPLE_RATE
# ADTS: MPEG-4, no CRC; AAC-LC (object type 2 -> profile 1), 48 kHz (index 3), 2 channels.
_ADTS_PROFILE, _ADTS_RATE_INDEX, _ADTS_CHANNELS = 1, 3, 2

Timed = list[tuple[bytes, int]]


def adts_header(payload_size: int) -> bytes:
    """The 7-byte ADTS header for one raw AAC-LC frame of ``payload_size`` bytes."""
    length = payload_size + 7
    return bytes(
        (
            0xFF,
            0xF1,
            (_ADTS_PROFILE << 6) | (_ADTS_RATE_INDEX << 2) | (_ADTS_CHANNELS >> 2),
            ((_ADTS_CHANNELS & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        )
    )


class AacTranscoder:
    """Decodes Opus packets and encodes AAC frames placed on the stream's timeline.

    Not thread-safe: one packager's worker thread owns it.
    """

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = SAMPLE_RATE
        self._decoder.layout = "stereo"
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        self._fifo = av.AudioFifo()
        encoder = av.CodecContext.create("aac", "w")
        assert isinstance(encoder, AudioCodecContext)
        encoder.sample_rate = SAMPLE_RATE
        encoder.layout = "stereo"
        encoder.format = "fltp"
        encoder.bit_rate = AAC_BITRATE
        encoder.time_base = Fraction(1, SAMPLE_RATE)
        self._encoder = encoder
        self._queued = 0  # timeline position (in samples) of the end of what entered the FIFO
        self._encoded = 0  # timeline position of the next frame handed to the encoder
        self.started = False
        self.decode_errors = 0

    def add(self, opus: bytes, when: float, offset: float) -> Timed:
        """Transcode one Opus packet that starts at ``when`` seconds; returns (ADTS frame, ticks)."""
        target = round(when * SAMPLE_RATE)
        if not self.started:
            self.started = True
            self._queued = self._encoded = max(target, self._queued)
        gap = target - self._queued
        if gap > _GAP_SAMPLES:
            self._silence(gap)
        elif gap < -_MAX_LAG_SAMPLES:
            # Far behind the output clock (the publisher's clock drifted): drop this packet
            # rather than let the lag grow.
            return []
        try:
            frames = self._decoder.decode(av.Packet(opus))
        except av.FFmpegError:
            self.decode_errors += 1
            return []
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                resampled.pts = None
                self._fifo.write(resampled)
                self._queued += resampled.samples
        return self._drain(offset)

    def pad_to(self, when: float, offset: float, *, final: bool = False) -> Timed:
        """Fill with silence up to ``when`` seconds if real audio is missing or far behind (or at
        all, when ``final``: the stream ended and no packet is still on its way)."""
        target = round(when * SAMPLE_RATE)
        if self.started and not final and target - self._queued < SAMPLE_RATE // 2:
            return []  # audio is flowing; packets still in flight will cover the gap
        if not self.started:
            self.started = True
            self._queued = self._encoded = 0
        if target > self._queued:
            self._silence(target - self._queued)
        return self._drain(offset)

    def _silence(self, samples: int) -> None:
        while samples > 0:
            n = min(samples, _SILENCE_CHUNK)
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=n)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = SAMPLE_RATE
            self._fifo.write(frame)
            self._queued += n
            samples -= n

    def _drain(self, offset: float) -> Timed:
        out: Timed = []
        while self._fifo.samples >= _AAC_FRAME:
            frame = self._fifo.read(_AAC_FRAME)
            if frame is None:
                break
            frame.pts = self._encoded
            frame.time_base = Fraction(1, SAMPLE_RATE)
            self._encoded += _AAC_FRAME
            for packet in self._encoder.encode(frame):
                if packet.pts is None:
                    continue
                payload = bytes(packet)
                ticks = round((packet.pts / SAMPLE_RATE + offset) * 90000)
                out.append((adts_header(len(payload)) + payload, ticks))
        return out
