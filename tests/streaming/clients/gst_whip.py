"""Publish a test picture and a tone over WHIP with GStreamer's ``webrtcbin``.

    /usr/bin/python3 gst_whip.py URL KEY SECONDS

Debian's GStreamer through the system Python's ``gi`` (not the project's virtualenv). webrtcbin
offers ``a=setup:actpass`` with an RSA certificate; the offer is sent once ICE gathering is
complete (WHIP without trickle). Prints the connection states it goes through.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Callable

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

Gst.init(None)

PIPELINE = (
    "webrtcbin name=webrtc bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! "
    "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
    "video/x-h264,profile=constrained-baseline ! rtph264pay config-interval=-1 aggregate-mode=zero-latency ! "
    "application/x-rtp,media=video,encoding-name=H264,payload=102 ! webrtc. "
    "audiotestsrc is-live=true ! audioconvert ! audioresample ! opusenc ! rtpopuspay ! "
    "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc."
)


def post_offer(url: str, headers: dict[str, str], offer: str) -> str:
    request = urllib.request.Request(url, data=offer.encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        print("refused", error.code, error.read().decode(), flush=True)
        raise


def run(
    pipeline_text: str,
    url: str,
    headers: dict[str, str],
    seconds: int,
    setup: Callable[[Gst.Pipeline, Gst.Element], None] | None = None,
) -> None:
    """Run ``pipeline_text`` (holding a ``webrtcbin`` named webrtc) against a WHIP/WHEP ``url``;
    ``setup`` may add transceivers and handlers before it plays."""
    pipeline = Gst.parse_launch(pipeline_text)
    if not isinstance(pipeline, Gst.Pipeline):  # a description of one element gives that element
        element, pipeline = pipeline, Gst.Pipeline.new()
        pipeline.add(element)
    webrtc = pipeline.get_by_name("webrtc")
    loop = GLib.MainLoop()
    sent: list[bool] = []

    def on_offer(promise: Gst.Promise, element: Gst.Element, _: object) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None and reply.has_field("offer") else None
        if offer is not None and offer.sdp is not None:
            element.emit("set-local-description", offer, Gst.Promise.new())
        else:  # asked before the pads had caps: ask again shortly
            GLib.timeout_add(100, lambda: on_negotiation_needed(element) or False)

    def on_negotiation_needed(element: Gst.Element) -> None:
        # Offer once every stream's caps are known: an earlier offer lacks the H.264 parameters.
        if not all(pad.has_current_caps() for pad in element.sinkpads):
            GLib.timeout_add(50, lambda: on_negotiation_needed(element) or False)
            return
        element.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer, element, None))

    def on_gathering(element: Gst.Element, _: object) -> None:
        complete = element.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE
        if not complete or sent:
            return
        sent.append(True)
        answer = post_offer(url, headers, element.get_property("local-description").sdp.as_text())
        setups = sorted(
            {line[len("a=setup:") :] for line in answer.splitlines() if line.startswith("a=setup:")}
        )
        print("answer setup", " ".join(setups), flush=True)
        _, message = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        element.emit("set-remote-description", description, Gst.Promise.new())

    def on_state(element: Gst.Element, _: object) -> None:
        print("connection", element.get_property("connection-state").value_nick, flush=True)

    def on_error(_: Gst.Bus, message: Gst.Message) -> None:
        print("error", message.parse_error()[0].message, flush=True)
        loop.quit()

    webrtc.connect("on-negotiation-needed", on_negotiation_needed)
    webrtc.connect("notify::ice-gathering-state", on_gathering)
    webrtc.connect("notify::connection-state", on_state)
    if setup is not None:
        setup(pipeline, webrtc)
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message::error", on_error)
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add_seconds(seconds, loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    url, key, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"}
    run(PIPELINE, url, headers, seconds)
