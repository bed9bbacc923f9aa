"""HLS packaging and serving, with real H.264 (libx264) and Opus (libopus) fed as the router feeds
them, read back by PyAV, and played over the real HTTP server by Debian's ffmpeg."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from av.video.codeccontext import VideoCodecContext
from playwright.async_api import async_playwright

from expo.db import Database
from expo.expos.services import ensure_expo
from expo.platform import Platform
from streaming import services
from streaming.audience import Audience, unsign_viewer
from streaming.hls import HlsPackager, HlsRegistry
from streaming.router import MediaRouter
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import IN_CI, LiveServer
from tests.streaming.peers import HEIGHT as ROUTER_HEIGHT
from tests.streaming.peers import WIDTH as ROUTER_WIDTH
from tests.streaming.peers import start_broadcast, until
from tests.streaming.synthetic import (
    FFMPEG,
    FFPROBE,
    HEIGHT,
    WIDTH,
    feed,
    ffmpeg_missing,
    h264_packets,
    interleave,
    nal_units,
    opus_packets,
)

# Generated once: encoding is the slow part of these tests.
VIDEO = h264_packets(9)
AUDIO = opus_packets(9)
MEDIA = interleave(VIDEO, AUDIO)


def demux(segment: bytes) -> list[tuple[str, av.Packet[Any]]]:
    """(stream type, packet) pairs; a packet's stream must not be touched once the input closed."""
    with av.open(io.BytesIO(segment), "r", format="mpegts") as ts:
        return [(p.stream.type, p) for p in ts.demux() if p.size]


async def package(items: list[tuple[str, av.Packet[Any]]], **options: object) -> HlsPackager:
    packager = HlsPackager(1, **options)  # type: ignore[arg-type]
    await feed(packager, items)
    return packager


async def test_playlist_rolls_on_keyframe_segments() -> None:
    packager = await package(MEDIA, window=2, target_duration=2.0)
    live = packager.playlist.decode()
    assert "#EXT-X-ENDLIST" not in live
    assert "#EXT-X-MEDIA-SEQUENCE:2\n" in live  # 4 segments of 2 s so far, 2 listed
    await packager.close()
    playlist = packager.playlist.decode()
    lines = playlist.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-INDEPENDENT-SEGMENTS" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-MEDIA-SEQUENCE:3" in lines  # 9 s: segments 0-4, the last 2 listed
    target = int(next(line.split(":")[1] for line in lines if line.startswith("#EXT-X-TARGETDURATION")))
    durations = [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    assert target == 2 and durations == [2.0, 1.0]
    assert all(round(d) <= target for d in durations)
    names = [line for line in lines if not line.startswith("#")]
    assert names == [f"{packager.period}-3.ts", f"{packager.period}-4.ts"]
    assert sum(line.startswith("#EXT-X-PROGRAM-DATE-TIME:") for line in lines) == 2
    # Memory stays bounded: the window plus two spares, older segments are gone.
    assert packager.segment(0) is None and packager.segment(1) is not None
    for sequence in (1, 2, 3, 4):
        segment = packager.segment(sequence)
        assert segment is not None
        packets = demux(segment.data)
        video = [p for kind, p in packets if kind == "video"]
        assert video[0].is_keyframe, f"segment {sequence} does not start on a keyframe"
        assert {kind for kind, _ in packets} == {"video", "audio"}
    assert packager.video_info is not None
    assert (packager.video_info.width, packager.video_info.height) == (WIDTH, HEIGHT)
    assert packager.codecs == "avc1.42c00d,mp4a.40.2"  # constrained baseline, level 1.3 (from the SPS)
    assert packager.dropped == 0 and packager.errors == 0


async def test_partial_segments_make_up_each_segment_within_the_part_target() -> None:
    packager = await package(MEDIA, window=3, target_duration=2.0, part_target=0.5)
    lines = packager.playlist.decode().splitlines()
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500" in lines
    assert "#EXT-X-PART-INF:PART-TARGET=0.500" in lines
    listed = [s.sequence for s in packager.segments()]
    assert listed == [1, 2, 3]
    for sequence in listed:
        segment = packager.segment(sequence)
        assert segment is not None
        parts = [packager.part(sequence, i) for i in range(packager.open_parts + 10)]
        made = [p for p in parts if p is not None]
        # A segment is exactly its parts, in order; a player that fetched the parts has it all.
        assert len(made) >= 4 and b"".join(p.data for p in made) == segment.data
        assert [p.index for p in made] == list(range(len(made)))
        assert all(p.duration <= 0.5 + 1e-3 for p in made)
        assert abs(sum(p.duration for p in made) - segment.duration) < 1e-3
        assert made[0].independent  # every segment starts on a keyframe
        video = [p for kind, p in demux(made[0].data) if kind == "video"]
        assert video[0].is_keyframe
    # Listed between each segment's program date and its EXTINF, with URIs that serve them.
    uris = [line.split('URI="')[1].split('"')[0] for line in lines if line.startswith("#EXT-X-PART:")]
    assert uris[0] == packager.part_name(1, 0) and all(u.startswith(packager.period) for u in uris)
    first_extinf = next(i for i, line in enumerate(lines) if line.startswith("#EXTINF"))
    assert (
        lines[first_extinf - 1].startswith("#EXT-X-PART:")
        and "INDEPENDENT=YES" not in lines[first_extinf - 1]
    )
    # The growing segment's parts so far, then the hint for the next one, last.
    assert lines[-1] == f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{packager.part_name(4, packager.open_parts)}"'
    assert packager.has(4, packager.open_parts - 1) and not packager.has(4, packager.open_parts)
    # Parts of older segments are dropped: players only need them near the live edge.
    assert packager.part(0, 0) is None

    await packager.close()
    ended = packager.playlist.decode()
    assert "#EXT-X-PART" not in ended and "PRELOAD-HINT" not in ended and ended.endswith("#EXT-X-ENDLIST\n")


async def test_a_viewers_copy_of_the_playlist_has_their_query_on_every_uri() -> None:
    packager = await package(MEDIA[:200], part_target=0.5)
    shared = packager.playlist.decode()
    mine = packager.playlist_with_query("t=abc").decode()
    names = [packager.segment_name(s.sequence) for s in packager.segments()]
    hinted = packager.part_name(packager.next_sequence, packager.open_parts)
    assert names and all(f"\n{name}\n" in shared for name in names)
    assert all(f"\n{name}?t=abc\n" in mine for name in names)
    assert f'URI="{hinted}?t=abc"' in mine and mine.count("?t=abc") == shared.count(".ts")
    # Nothing else changes, and the shared text stays as it was.
    assert mine.replace("?t=abc", "") == shared == packager.playlist.decode()
    await packager.close()


async def test_low_latency_can_be_turned_off() -> None:
    packager = await package([("video", p) for p in VIDEO[:90]], audio=False, part_target=0)
    playlist = packager.playlist.decode()
    assert "#EXT-X-PART" not in playlist and "SERVER-CONTROL" not in playlist
    assert packager.part(0, 0) is None and packager.open_parts == 0
    await packager.close()


async def test_waiting_for_a_part_ends_when_it_is_made_or_times_out() -> None:
    packager = await package(MEDIA[:200], part_target=0.5)
    sequence, index = packager.next_sequence, packager.open_parts
    assert not await packager.wait_for(sequence, index, timeout=0.2)  # nothing comes: False

    waiting = asyncio.create_task(packager.wait_for(sequence, index, timeout=10))
    await feed(packager, MEDIA[200:260])
    assert await waiting and packager.part(sequence, index) is not None
    await packager.close()


async def test_video_bytes_are_not_reencoded() -> None:
    packager = await package(MEDIA, window=10)
    await packager.close()
    packaged = [p for s in packager.segments() for kind, p in demux(s.data) if kind == "video"]
    assert len(packaged) == len(VIDEO)
    for original, copied in zip(VIDEO, packaged, strict=True):
        assert nal_units(bytes(copied)) == nal_units(bytes(original))


async def test_video_only_stream() -> None:
    packager = await package([(k, p) for k, p in MEDIA if k == "video"], audio=False)
    await packager.close()
    assert packager.codecs == "avc1.42c00d"
    for segment in packager.segments():
        assert {kind for kind, _ in demux(segment.data)} == {"video"}
    assert sum(s.duration for s in packager.segments()) == pytest.approx(9.0, abs=0.05)


async def test_a_resolution_change_mid_stream_is_followed() -> None:
    # WebRTC encoders scale down when bandwidth drops: new SPS, same stream.
    smaller = h264_packets(4, start=4.0, size=(160, 120))
    packager = await package([("video", p) for p in VIDEO[:120] + smaller], audio=False, window=10)
    await packager.close()
    assert packager.video_info is not None
    assert (packager.video_info.width, packager.video_info.height) == (160, 120)
    sizes = []
    for segment in packager.segments():
        decoder = av.CodecContext.create("h264", "r")
        video = [p for kind, p in demux(segment.data) if kind == "video"]
        frames = [f for p in video for f in decoder.decode(p)] + list(decoder.decode(None))
        assert len(frames) == len(video)
        sizes.append((frames[0].width, frames[0].height))
    assert sizes == [(WIDTH, HEIGHT), (WIDTH, HEIGHT), (160, 120), (160, 120)]


async def test_audio_arriving_late_is_preceded_by_silence() -> None:
    late = interleave(VIDEO, opus_packets(5), audio_from=4.0)
    packager = await package(late, window=10)
    await packager.close()
    segments = packager.segments()
    audio_spans = []
    for segment in segments:
        audio = [p for kind, p in demux(segment.data) if kind == "audio"]
        assert audio, f"segment {segment.sequence} has no audio track data"
        assert audio[0].pts is not None and audio[-1].pts is not None
        audio_spans.append((audio[0].pts / 90000, audio[-1].pts / 90000))
    # Continuous AAC from the start (silence first), ending with the last video frame.
    assert audio_spans[0][0] == pytest.approx(10.0, abs=0.05)
    assert audio_spans[-1][1] == pytest.approx(19.0, abs=0.1)


async def test_a_keyframe_is_requested_when_a_segment_is_due() -> None:
    requests: list[float] = []
    loop = asyncio.get_running_loop()
    # One keyframe only: a browser encoder sends the next one when asked, never on its own.
    video = h264_packets(3, gop=1000)
    packager = HlsPackager(1, audio=False, request_keyframe=lambda: requests.append(loop.time()))
    for packet in video:
        packager.push("video", packet)
    await packager.close()
    assert requests, "the publisher was never asked for a keyframe"


async def test_vp8_is_ignored_without_asking_the_publisher_for_keyframes() -> None:
    encoder = av.CodecContext.create("libvpx", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    vp8: list[av.Packet[Any]] = []
    for i in range(10):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.pts = i
        vp8 += encoder.encode(frame)
    requests: list[int] = []
    packager = HlsPackager(1, audio=False, request_keyframe=lambda: requests.append(1))
    for i, packet in enumerate(vp8):
        packet.pts, packet.time_base = i * 3000, Fraction(1, 90000)
        packager.push("video", packet)
    await packager.close()
    assert packager.ignored == len(vp8) > 0 and requests == [] and not packager.ready


async def test_a_full_queue_drops_to_the_next_keyframe() -> None:
    packager = HlsPackager(1, audio=False, queue_size=2)
    for kind, packet in MEDIA:
        packager.push(kind, packet)
    await packager.close()
    assert packager.dropped > 0
    for segment in packager.segments():
        video = [p for kind, p in demux(segment.data) if kind == "video"]
        assert video[0].is_keyframe
        # Every packaged frame decodes: nothing was cut out of the middle of a GOP.
        decoder = av.CodecContext.create("h264", "r")
        frames = [f for p in video for f in decoder.decode(p)] + list(decoder.decode(None))
        assert len(frames) == len(video)


async def test_the_registry_keeps_an_ended_stream_briefly_then_frees_it() -> None:
    video_only = [(kind, p) for kind, p in MEDIA if kind == "video"]
    registry = HlsRegistry(linger=0.05)
    packager = await registry.open(5, audio=False)
    assert registry.get(5) is packager and not packager.ready
    await feed(packager, video_only)
    assert packager.ready and packager.next_sequence == 4
    await registry.end(5)
    # Players still fetch the final playlist, then the segments are freed.
    assert registry.get(5) is packager and packager.playlist.endswith(b"#EXT-X-ENDLIST\n")
    await until(lambda: registry.get(5) is None, timeout=5)

    again = await registry.open(5, audio=False)
    assert registry.get(5) is again and again.period != packager.period
    await feed(again, video_only)
    # Live again while the previous period is still known: the numbering goes on.
    third = await registry.open(5, audio=False)
    assert again.ended and third.next_sequence == 5
    await registry.close()
    assert third.ended and registry.get(5) is None


# -- over HTTP -----------------------------------------------------------------------------------


async def live_stream_id(db: Database) -> int:
    async with db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
        stream = await services.go_live(session, stream)
        assert stream.id is not None
        return stream.id


@pytest.fixture
def served(live_server: LiveServer) -> Iterator[tuple[LiveServer, int, HlsPackager]]:
    """A live stream whose first 9 s are packaged, in the server's HLS registry."""
    platform: Platform = live_server.app.state.platform
    stream_id = live_server.call(live_stream_id(platform.db))

    async def start() -> HlsPackager:
        packager = await platform.get(HlsRegistry).open(stream_id)
        await feed(packager, MEDIA)
        return packager

    packager: HlsPackager = live_server.call(start())
    yield live_server, stream_id, packager


def probe(url: str) -> dict[str, object]:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(ffmpeg_missing, reason="Debian's ffmpeg is not installed")
def test_ffmpeg_plays_the_live_stream_over_http(served: tuple[LiveServer, int, HlsPackager]) -> None:
    server, stream_id, _ = served
    url = f"{server.url}/live/{stream_id}/index.m3u8"
    streams = probe(url)["streams"]
    assert isinstance(streams, list)
    kinds = {s["codec_type"]: s for s in streams}
    assert kinds["video"]["codec_name"] == "h264"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (WIDTH, HEIGHT)
    assert kinds["audio"]["codec_name"] == "aac" and kinds["audio"]["sample_rate"] == "48000"
    # The player that only polls the playlist is counted live.
    audience = server.app.state.platform.get(Audience)
    assert server.call(audience.live_viewers(stream_id)) == 1

    # Once the stream ends, ffmpeg decodes everything listed, to the end, without errors.
    server.call(server.app.state.platform.get(HlsRegistry).end(stream_id))
    done = subprocess.run(
        [FFMPEG, "-v", "error", "-i", url, "-map", "0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    frames = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # All 270 frames (9 s at 30 fps): the default window of 6 still lists the 5 segments.
    assert int(frames.stdout.split()[0]) == 270


@pytest.mark.skipif(ffmpeg_missing, reason="Debian's ffmpeg is not installed")
def test_playlists_and_segments_over_http(served: tuple[LiveServer, int, HlsPackager]) -> None:
    server, stream_id, _ = served
    with httpx.Client(base_url=server.url) as http:
        index = http.get(f"/live/{stream_id}/index.m3u8")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert index.headers["access-control-allow-origin"] == "*"
        assert "no-cache" in index.headers["cache-control"]
        variant = index.text.splitlines()
        assert variant[2].startswith("#EXT-X-STREAM-INF:BANDWIDTH=")
        assert f'RESOLUTION={WIDTH}x{HEIGHT},CODECS="avc1.42c00d,mp4a.40.2"' in variant[2]
        media_url = variant[3]
        assert media_url.startswith("media.m3u8?v=")
        # Two players without cookies are two viewers; one with the watch page's cookie is that viewer.
        second = http.get(f"/live/{stream_id}/index.m3u8").text.splitlines()[3]
        assert second != media_url

        media = http.get(f"/live/{stream_id}/{media_url}")
        assert media.status_code == 200 and media.text.startswith("#EXTM3U")
        assert media.headers["cache-control"] == "max-age=1"
        first_segment = next(line for line in media.text.splitlines() if line.endswith(".ts"))
        segment = http.get(f"/live/{stream_id}/{first_segment}")
        assert segment.status_code == 200
        assert segment.headers["content-type"] == "video/mp2t"
        assert "immutable" in segment.headers["cache-control"]
        assert segment.content[0] == 0x47  # the MPEG-TS sync byte
        head = http.head(f"/live/{stream_id}/{first_segment}")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(segment.content)
        assert http.options(f"/live/{stream_id}/index.m3u8").status_code == 204

        # A watch-page visitor whose player falls back to HLS stays the same viewer.
        cookie = http.get(f"/live/{stream_id}/index.m3u8", headers={"Cookie": "expo_viewer=" + "a" * 22})
        token = cookie.text.splitlines()[3].removeprefix("media.m3u8?v=")
        secret = server.app.state.platform.secret
        assert unsign_viewer(secret, stream_id, token) == "anon:" + "a" * 22
        assert unsign_viewer(secret, stream_id + 1, token) is None  # bound to its stream
        assert http.get(f"/live/{stream_id}/media.m3u8?v={token}").status_code == 200

        # Live, but no segment yet: players retry rather than get an empty playlist.
        server.call(server.app.state.platform.get(HlsRegistry).open(stream_id + 5))
        assert http.get(f"/live/{stream_id + 5}/index.m3u8").status_code == 404

        for path, status in [
            (f"/live/{stream_id + 1}/index.m3u8", 404),  # not live
            (f"/live/{stream_id}/{first_segment.replace('-', '-99')}", 404),
            (f"/live/{stream_id}/{'0' * 8}-{first_segment.split('-')[1]}", 404),  # another period
            (f"/live/{stream_id}/index.ts", 404),
            (f"/live/{stream_id}/media.m3u8", 403),  # no viewer token
            (f"/live/{stream_id}/media.m3u8?v=forged.token", 403),
            (f"/live/{stream_id}/..%2f..%2fetc%2fpasswd", 404),
            ("/live/1/..%2f..%2fetc", 404),
            ("/live/x/index.m3u8", 404),
        ]:
            response = http.get(path)
            assert response.status_code == status, path
            assert "json" not in response.headers.get("content-type", "")
    audience = server.app.state.platform.get(Audience)
    assert server.call(audience.live_viewers(stream_id)) == 2  # one without cookie, one with


@pytest.mark.skipif(ffmpeg_missing, reason="Debian's ffmpeg is not installed")
def test_blocking_playlist_reload_and_the_preload_hint_wait_for_the_next_part(
    served: tuple[LiveServer, int, HlsPackager],
) -> None:
    server, stream_id, packager = served
    edge, index = packager.next_sequence, packager.open_parts
    with httpx.Client(base_url=server.url, timeout=20) as http:
        media = f"/live/{stream_id}/" + http.get(f"/live/{stream_id}/index.m3u8").text.splitlines()[3]
        # What already exists is answered at once; asking too far ahead, or nonsense, is a 400.
        assert http.get(f"{media}&_HLS_msn={edge - 1}").status_code == 200
        for query, status in [
            (f"_HLS_msn={edge + 2}", 400),
            (f"_HLS_msn={edge}&_HLS_part={index + 50}", 400),
            ("_HLS_part=1", 400),
            ("_HLS_msn=next", 400),
            ("_HLS_msn=1&_HLS_part=-1", 400),
        ]:
            assert http.get(f"{media}&{query}").status_code == status, query

        part_name = packager.part_name(edge, index)
        with ThreadPoolExecutor(2) as pool:
            reload = pool.submit(http.get, f"{media}&_HLS_msn={edge}&_HLS_part={index}")
            hinted = pool.submit(http.get, f"/live/{stream_id}/{part_name}")
            deadline = time.monotonic() + 10
            while len(packager._changed) < 2:  # both requests are held, waiting for the part
                assert time.monotonic() < deadline and not reload.done() and not hinted.done()
                time.sleep(0.01)
            server.call(feed(packager, interleave(h264_packets(1, start=9), opus_packets(1, start=9))))
            playlist, part = reload.result(timeout=10), hinted.result(timeout=10)
    assert playlist.status_code == 200 and f'URI="{part_name}"' in playlist.text
    made = packager.part(edge, index)
    assert made is not None
    assert part.status_code == 200 and part.content == made.data
    assert part.headers["content-type"] == "video/mp2t" and "immutable" in part.headers["cache-control"]


async def test_packages_a_webrtc_publisher_through_the_media_router() -> None:
    """An aiortc publisher (H.264 + Opus) over loopback, through the router, into the packager.

    aiortc's encoder sends a keyframe only every ~8 s unless asked, so one-second segments prove
    that the packager asks the publisher for keyframes when a segment is due."""
    router = MediaRouter()
    broadcast = await start_broadcast("video/H264", router)
    try:
        packager = HlsPackager(1, target_duration=1.0, request_keyframe=broadcast.video.request_keyframe)
        packager.follow(broadcast.video.subscribe())
        packager.follow(broadcast.audio.subscribe())
        await until(lambda: len(packager.segments()) >= 3, timeout=20)
        await packager.close()
    finally:
        await router.close()
        await broadcast.publisher.close()
        await broadcast.server_pc.close()
    assert packager.playlist.endswith(b"#EXT-X-ENDLIST\n")
    segments = packager.segments()
    # Cut near the target on requested keyframes, not on the encoder's own ~8 s ones.
    assert all(0.6 <= s.duration <= 1.2 for s in segments[:-1]), [s.duration for s in segments]
    for segment in segments:
        packets = demux(segment.data)
        video = [p for kind, p in packets if kind == "video"]
        assert video[0].is_keyframe
        assert any(kind == "audio" for kind, _ in packets)
        decoder = av.CodecContext.create("h264", "r")
        frames = [f for p in video for f in decoder.decode(p)] + list(decoder.decode(None))
        assert frames and all((f.width, f.height) == (ROUTER_WIDTH, ROUTER_HEIGHT) for f in frames)
    assert broadcast.video.plis_sent >= 2


PLAY_IN_VIDEO_ELEMENT = """async (url) => {
    const video = document.createElement("video");
    video.muted = true;  // autoplay policy: muted media may start without a user gesture
    document.body.appendChild(video);
    video.src = url;
    await video.play();
    const deadline = Date.now() + 15000;
    while (video.currentTime < 2 && !video.error && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return {
        time: video.currentTime, width: video.videoWidth, height: video.videoHeight,
        error: video.error && video.error.message,
        audioBytes: video.webkitAudioDecodedByteCount, videoBytes: video.webkitVideoDecodedByteCount,
    };
}"""


def test_chromiums_native_player_plays_the_live_stream(served: tuple[LiveServer, int, HlsPackager]) -> None:
    if not Path(CHROMIUM).is_file():
        if IN_CI:
            pytest.fail(f"Chromium not found at {CHROMIUM} (CI=true: the browser tests are required)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    server, stream_id, _ = served

    async def play() -> dict[str, Any]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page()
                await page.goto(server.url + "/healthz")
                assert await page.evaluate(
                    "document.createElement('video').canPlayType('application/vnd.apple.mpegurl')"
                )
                url = f"{server.url}/live/{stream_id}/index.m3u8"
                result: dict[str, Any] = await page.evaluate(PLAY_IN_VIDEO_ELEMENT, url)
                return result
            finally:
                await browser.close()

    played = asyncio.run(play())
    assert played["error"] is None and played["time"] >= 2, played
    assert (played["width"], played["height"]) == (WIDTH, HEIGHT)
    assert played["videoBytes"] > 0 and played["audioBytes"] > 0  # the AAC track decodes too
