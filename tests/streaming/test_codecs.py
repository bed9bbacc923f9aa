"""Codec facts of the media router (streaming.codecs): here, asking senders for Opus DTX."""

from __future__ import annotations

from streaming.codecs import request_dtx

AUDIO = (
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
)
VIDEO = (
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\n"
)


def test_an_opus_track_without_parameters_gets_usedtx_right_after_its_rtpmap() -> None:
    answer = "v=0\r\n" + AUDIO + VIDEO
    assert (
        request_dtx(answer)
        == "v=0\r\n" + AUDIO.replace("opus/48000/2\r\n", "opus/48000/2\r\na=fmtp:111 usedtx=1\r\n") + VIDEO
    )


def test_parameters_already_there_are_kept_and_usedtx_set_once() -> None:
    answer = AUDIO + "a=fmtp:111 minptime=10; useinbandfec=1;usedtx=0\r\n"
    assert request_dtx(answer) == AUDIO + "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"
    assert request_dtx(request_dtx(answer)) == request_dtx(answer)


def test_an_answer_without_opus_is_left_as_it_is() -> None:
    answer = "v=0\r\n" + VIDEO + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n"
    assert request_dtx(answer) == answer
