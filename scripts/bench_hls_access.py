"""What guarding HLS costs per request: public streams against an unguarded baseline, and the
per-viewer playlists and tokened segments of a registered-only stream, in one run.

    .venv/bin/python scripts/bench_hls_access.py [--requests 2000]

Builds the app on a temporary SQLite store and the memory bus, packages 8 s of 640x360 H.264 +
Opus with LL-HLS parts into two live streams (one public, one registered-only) and sends
sequential requests of each kind through the whole ASGI stack (httpx's in-process
transport: routing, middleware, handler; no sockets, so the handler's share shows). Baseline, same
run: the public requests again with the gate answering from a constant (what serving them cost
before anyone was asked whether they may watch), alternating with the guarded rounds; figures
are CPU time per request, median of ``--rounds``. Also timed alone: one viewer's copy of the
playlist (the token substitution) and signing and checking one segment token. The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from expo.accounts import services as accounts
from expo.app import create_app
from expo.expos.services import ensure_expo
from expo.platform import Platform
from scripts.bench_hls import video
from streaming import services
from streaming.audience import sign_viewer
from streaming.hls import HlsPackager, HlsRegistry
from streaming.hls_access import HlsGate, StreamRules
from streaming.models import Visibility
from tests.conftest import create_schema, make_settings
from tests.streaming.synthetic import feed, interleave, opus_packets


class UnguardedGate(HlsGate):
    """The baseline: every stream answers ``constant``'s rules, every viewer is welcome."""

    def __init__(self, gate: HlsGate, constant: StreamRules) -> None:
        super().__init__(gate.db, gate.bus, "unused")
        self.constant = constant

    async def rules(self, stream_id: int) -> StreamRules:
        return self.constant

    async def allows(self, rules: StreamRules, viewer: str) -> bool:
        return True


async def live(platform: Platform, visibility: Visibility, media: list) -> tuple[int, HlsPackager]:  # type: ignore[type-arg]
    async with platform.db.session() as session:
        expo = await ensure_expo(session, "bench", "Bench")
        stream = await services.create_stream(
            session, expo=expo, title=visibility.value, owner=None, visibility=visibility
        )
        stream = await services.go_live(session, stream)
    assert stream.id is not None
    packager = await platform.get(HlsRegistry).open(stream.id)
    await feed(packager, media)
    return stream.id, packager


async def cpu_us(http: httpx.AsyncClient, urls: list[str], requests: int) -> float:
    """CPU microseconds per request (client and app: both run here), cycling through ``urls``;
    every answer must be a 200. CPU time, not wall time: other work on the machine barely moves it."""
    started = time.process_time()
    for i in range(requests):
        answer = await http.get(urls[i % len(urls)])
        if answer.status_code != 200:
            raise SystemExit(f"{urls[i % len(urls)]} answered {answer.status_code}: {answer.text[:200]}")
    return (time.process_time() - started) / requests * 1e6


def micro(work: Callable[[], object], repeat: int = 20_000) -> float:
    """Microseconds per call."""
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) / repeat * 1e6


async def run(requests: int, rounds: int) -> dict[str, float]:
    media = interleave(video(8, 640, 360, 800), opus_packets(8))
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), access_log=False)
        await create_schema(settings.database)
        app = create_app(settings, check_schema=False)
        platform: Platform = app.state.platform
        async with app.router.lifespan_context(app):
            async with platform.db.session() as session:
                user = await accounts.create_user(session, email="viewer@example.com", password="x" * 12)
            public_id, public = await live(platform, Visibility.PUBLIC, media)
            private_id, private = await live(platform, Visibility.REGISTERED, media)
            secret = platform.secret
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                pub_media = f"/live/{public_id}/media.m3u8?v={sign_viewer(secret, public_id, 'anon:bench')}"
                pub_segments = [
                    f"/live/{public_id}/{public.segment_name(s.sequence)}" for s in public.segments()
                ]
                priv_media = (
                    f"/live/{private_id}/media.m3u8?v={sign_viewer(secret, private_id, f'user:{user.id}')}"
                )
                listed = (await http.get(priv_media)).text.splitlines()
                names = [line for line in listed if not line.startswith("#")]  # whole segments
                token = names[0].rpartition("?t=")[2]
                priv_segments = [f"/live/{private_id}/{name}" for name in names]
                await cpu_us(http, [pub_media, *pub_segments], 200)  # warm up
                real = platform.get(HlsGate)
                baseline = UnguardedGate(real, await real.rules(public_id))
                runs: dict[str, list[float]] = {}
                kinds = {
                    "public_playlist": [pub_media],
                    "public_segment": pub_segments,
                    "private_playlist": [priv_media],
                    "private_segment": priv_segments,
                }
                # Rounds alternate guarded and baseline, which goes first too, so that drift in
                # the machine's load falls on both; each figure is the median round.
                for round_ in range(rounds):
                    for guarded in (True, False) if round_ % 2 == 0 else (False, True):
                        platform._components[HlsGate].value = real if guarded else baseline
                        for name, urls in kinds.items():
                            if guarded or name.startswith("public"):
                                key = name if guarded else "baseline_" + name
                                runs.setdefault(key, []).append(await cpu_us(http, urls, requests))
                    platform._components[HlsGate].value = real
            figures = {name + "_cpu_us": statistics.median(values) for name, values in runs.items()}
            # The work the guard adds to a public request: the stream's rules from memory, and
            # for a playlist the viewer's verdict.
            started = time.process_time()
            for _ in range(20_000):
                await real.allows(await real.rules(public_id), "anon:bench")
            figures["public_check_us"] = (time.process_time() - started) / 20_000 * 1e6
            figures["viewer_copy_us"] = micro(lambda: private.playlist_with_query("t=" + token))
            figures["playlist_bytes"] = len(private.playlist)
            figures["viewer_copy_bytes"] = len(private.playlist_with_query("t=" + token))
            figures["sign_token_us"] = micro(lambda: real.segment_token(private_id, f"user:{user.id}"))
            figures["check_token_us"] = micro(lambda: real.segment_viewer(private_id, token))
    return {key: round(value, 1) for key, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500, help="requests of each kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    f = asyncio.run(run(args.requests, args.rounds))
    rows = [
        ("public media playlist", "public_playlist", True),
        ("public segment (no token)", "public_segment", True),
        ("registered-only media playlist (own copy)", "private_playlist", False),
        ("registered-only segment (token checked)", "private_segment", False),
    ]
    print(f"\n{'CPU us per request, in-process (median round)':<46}{'guarded':>10}{'baseline':>10}")
    for label, key, has_baseline in rows:
        baseline = f"{f['baseline_' + key + '_cpu_us']:>10}" if has_baseline else f"{'-':>10}"
        print(f"{label:<46}{f[key + '_cpu_us']:>10}{baseline}")
    print(f"\nadded to a public request: {f['public_check_us']} us (rules from memory and the verdict)")
    print(
        f"viewer copy of the playlist: {f['viewer_copy_us']} us ({f['playlist_bytes']:.0f} -> "
        f"{f['viewer_copy_bytes']:.0f} bytes); sign a token {f['sign_token_us']} us, check one "
        f"{f['check_token_us']} us"
    )
    print(json.dumps(f))


if __name__ == "__main__":
    main()
