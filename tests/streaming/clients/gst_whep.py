"""Play a broadcast over WHEP with GStreamer's ``webrtcbin`` and count the decoded video frames.

    /usr/bin/python3 gst_whep.py URL SECONDS

Offers receive-only H.264 video and Opus audio, decodes what arrives and prints
``frames N WIDTHxHEIGHT`` at the end.
"""

from __future__ import annotations

import sys

from gst_whip import Gst, GstWebRTC, run

decoded: list[str] = []


def setup(pipeline: Gst.Pipeline, webrtc: Gst.Element) -> None:
    for caps in (
        # Constrained Baseline and Baseline, as browsers offer them.
        ";".join(
            "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,"
            f"payload={payload},packetization-mode=(string)1,profile-level-id=(string){profile},"
            "level-asymmetry-allowed=(string)1"
            for payload, profile in ((102, "42e01f"), (103, "42001f"))
        ),
        "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111",
    ):
        direction = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
        webrtc.emit("add-transceiver", direction, Gst.Caps.from_string(caps))

    def on_frame(_: Gst.Element, buffer: Gst.Buffer, pad: Gst.Pad) -> None:
        structure = pad.get_current_caps().get_structure(0)
        decoded.append(f"{structure.get_value('width')}x{structure.get_value('height')}")

    def on_decoded_pad(_: Gst.Element, pad: Gst.Pad) -> None:
        if not pad.query_caps(None).to_string().startswith("video/"):
            sink = Gst.ElementFactory.make("fakesink")
            pipeline.add(sink)
            sink.sync_state_with_parent()
            pad.link(sink.get_static_pad("sink"))
            return
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("signal-handoffs", True)
        sink.connect("handoff", on_frame)
        pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

    def on_pad(_: Gst.Element, pad: Gst.Pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        decodebin = Gst.ElementFactory.make("decodebin")
        decodebin.connect("pad-added", on_decoded_pad)
        pipeline.add(decodebin)
        decodebin.sync_state_with_parent()
        pad.link(decodebin.get_static_pad("sink"))

    webrtc.connect("pad-added", on_pad)


if __name__ == "__main__":
    url, seconds = sys.argv[1], int(sys.argv[2])
    run(
        "webrtcbin name=webrtc bundle-policy=max-bundle",
        url,
        {"Content-Type": "application/sdp"},
        seconds,
        setup,
    )
    size = decoded[-1] if decoded else "0x0"
    print(f"frames {len(decoded)} {size}", flush=True)
