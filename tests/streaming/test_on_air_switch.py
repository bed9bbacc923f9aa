"""The on-air switch on its own: frames of two sources in, one continuous stream out, switched at
the new source's keyframe, with a keyframe asked of it at once."""

from __future__ import annotations

from streaming.on_air_switch import OnAirSwitch, default_codec
from streaming.publication import Publication
from streaming.router import MediaRouter

IDR = b"\x00\x00\x00\x01\x65" + b"\x88" * 20  # an H.264 access unit with an IDR slice
DELTA = b"\x00\x00\x00\x01\x41" + b"\x9a" * 20  # ... and with a non-IDR slice


class Asked:
    """A source's upstream that counts the keyframe requests it gets."""

    def __init__(self) -> None:
        self.keyframes = 0

    async def request_keyframe(self) -> bool:
        self.keyframes += 1
        return True


def source(router: MediaRouter, name: str) -> tuple[Publication, Asked]:
    asked = Asked()
    return router.publish_relayed("video", default_codec("video"), asked, stream_id=name), asked


async def test_the_switch_waits_for_the_new_feeds_keyframe_and_keeps_one_timeline() -> None:
    router = MediaRouter(keyframe_interval=0)
    ann, _ = source(router, "ann")
    bo, bo_asked = source(router, "bo")
    switch = OnAirSwitch(router, 7)
    viewer = switch.video.subscribe()
    codec = default_codec("video")

    switch.switch_to("ann", [ann])
    ann.deliver(codec, IDR, 1_000_000, True)
    ann.deliver(codec, DELTA, 1_003_000, False)
    assert switch.source == "ann"

    # Bo is chosen: Ann stays on air until Bo's keyframe, which is asked for at once.
    switch.switch_to("bo", [bo])
    assert bo._pli_task is not None
    await bo._pli_task
    assert bo_asked.keyframes >= 1 and switch.next_source == "bo"
    bo.deliver(codec, DELTA, 50, False)  # not a keyframe: not on air
    ann.deliver(codec, DELTA, 1_006_000, False)
    bo.deliver(codec, IDR, 3_050, True)
    bo.deliver(codec, DELTA, 6_050, False)
    ann.deliver(codec, DELTA, 1_009_000, False)  # Ann is off air now
    assert switch.source == "bo" and switch.next_source is None

    frames = [viewer._queue.popleft() for _ in range(viewer.queued)]
    assert [bytes(f) for f in frames] == [IDR, DELTA, DELTA, IDR, DELTA]
    stamps = [int(f.pts or 0) for f in frames]
    # One timeline: Ann's steps kept, then Bo's after a step of at least one tick.
    assert stamps[:3] == [0, 3000, 6000]
    assert stamps[3] > stamps[2] and stamps[4] - stamps[3] == 3000

    await switch.close()
    assert switch.video.state == "closed" and bo._sinks == {}
    await router.close()
