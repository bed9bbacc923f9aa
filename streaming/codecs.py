"""Codec facts the media router needs: preference order and keyframe detection on encoded data.

The router never decodes, so it has to recognise keyframes from the bitstream itself: a new
subscriber may only start on one, and a subscriber that fell behind resumes on one.
"""

from __future__ import annotations

import re

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

# Browsers and OBS publish H.264, which HLS can package without re-encoding; VP8 is aiortc's
# default and every browser's fallback, so it stays second. Opus is the only WebRTC audio worth
# forwarding (the G.7xx codecs are narrowband).
VIDEO_PREFERENCE = ("video/h264", "video/vp8")
AUDIO_PREFERENCE = ("audio/opus",)

_H264_NAL_IDR = 5
_OPUS_RTPMAP = re.compile(r"a=rtpmap:(\d+) opus/", re.IGNORECASE)
_FMTP = re.compile(r"a=fmtp:(\d+) ?(.*)")


def preferred_codecs(kind: str) -> list[RTCRtpCodecCapability]:
    """The codecs to offer or accept for ``kind``, best first, as ``setCodecPreferences`` wants them.

    H.264 before VP8 for video (with RTX so lost packets can be repaired), Opus for audio.
    """
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    order = VIDEO_PREFERENCE if kind == "video" else AUDIO_PREFERENCE
    chosen: list[RTCRtpCodecCapability] = []
    for mime in order:
        chosen.extend(c for c in capabilities if c.mimeType.lower() == mime)
    chosen.extend(c for c in capabilities if c.mimeType.lower() == "video/rtx")
    return chosen


def request_dtx(answer: str) -> str:
    """``answer`` asking the sender of each Opus track for discontinuous transmission.

    ``usedtx=1`` in the answerer's format parameters (RFC 7587 §6.1) tells the offerer's Opus
    encoder that this receiver prefers DTX: during silence it sends a comfort-noise frame every
    400 ms instead of a packet every 20 ms. In a meeting most microphones are silent most of the
    time, so every participant receives (and the server forwards) a fraction of the audio
    packets; the speaking meter reads the level of the packets that do come. aiortc's answers
    carry no Opus parameters, so the line is added (or extended, should one be there).
    """
    lines = answer.split("\r\n")
    opus = {m.group(1) for line in lines if (m := _OPUS_RTPMAP.match(line))}
    described: set[str] = set()
    out: list[str] = []
    for line in lines:
        fmtp = _FMTP.match(line)
        if fmtp and fmtp.group(1) in opus:
            described.add(fmtp.group(1))
            kept = [p for p in map(str.strip, fmtp.group(2).split(";")) if p and not p.startswith("usedtx=")]
            line = f"a=fmtp:{fmtp.group(1)} " + ";".join([*kept, "usedtx=1"])
        out.append(line)
    for index in range(len(out) - 1, -1, -1):
        rtpmap = _OPUS_RTPMAP.match(out[index])
        if rtpmap and rtpmap.group(1) not in described:
            out.insert(index + 1, f"a=fmtp:{rtpmap.group(1)} usedtx=1")
    return "\r\n".join(out)


def capability_for(codec: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """The capability list that restricts a sender to exactly ``codec`` (plus RTX for video).

    A forwarded frame can only be sent in the codec it was encoded with, so a subscriber's
    transceiver must negotiate that one codec and nothing else.
    """
    capabilities = RTCRtpSender.getCapabilities(codec.mimeType.split("/")[0]).codecs
    mime = codec.mimeType.lower()
    same = [c for c in capabilities if c.mimeType.lower() == mime]
    exact = [c for c in same if c.parameters == codec.parameters]
    chosen = exact or same
    if codec.mimeType.lower().startswith("video/"):
        chosen = chosen + [c for c in capabilities if c.mimeType.lower() == "video/rtx"]
    return chosen


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own.

    ``codec_name`` is aiortc's ``RTCRtpCodecParameters.name`` (``"H264"``, ``"VP8"``, ``"opus"``);
    ``data`` is the frame as aiortc's depayloaders reassemble it (Annex B for H.264, the raw VP8
    frame for VP8). Audio frames are always independent.
    """
    name = codec_name.upper()
    if name == "VP8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
        return bool(data) and data[0] & 0x01 == 0
    if name == "H264":
        return _h264_has_idr(data)
    return True


def _h264_has_idr(data: bytes) -> bool:
    # NAL payloads cannot contain 00 00 01 (emulation prevention), so every occurrence is a
    # start code and the byte after it a NAL header.
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        nal_type = data[pos + 3] & 0x1F
        if nal_type == _H264_NAL_IDR:
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False
