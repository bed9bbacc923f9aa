"""A 20,000-row catalogue imported through the API while another client keeps asking /healthz:
how long the import takes and how long /healthz waits meanwhile (issue 12, finding 5).

    .venv/bin/python scripts/bench_import.py [--rows 20000] [--strategy both|new|baseline]

Each strategy gets a fresh SQLite store and its own ``uvicorn`` process (one worker): ``new`` is the
app as it is (parsing in a worker thread, the write in batches on a connection and event loop of
its own); ``baseline`` is the same app with its import route switched to :func:`in_loop_import`,
the path before the fix, kept here: the file parsed on the event loop, an ORM object built per row
and flushed at once. A probe process asks ``GET /healthz`` every 10 ms during the import (each
request timed), and ``expo_event_loop_lag_max_seconds`` is read from /metrics afterwards. Prints a
table; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
EMAIL, PASSWORD = "bench-admin@example.com", "bench password 123"
HEADER = "booth,product,description,category,price_min,price_max,currency,moq\n"
PROBE = """
import json, select, sys, time, httpx
seconds = []
with httpx.Client(base_url=sys.argv[1], timeout=60) as client:
    client.get("/healthz")
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 0.01)[0]:
        start = time.perf_counter()
        client.get("/healthz")
        seconds.append(time.perf_counter() - start)
print(json.dumps(seconds), flush=True)
"""


async def in_loop_import(database_url: str, booth_id: int, rows: Any, *, actor_id: int | None) -> Any:
    """The import before the fix, on the server's event loop: one ORM object per row, one flush."""
    from booths import catalog, search
    from booths.models import Booth, Product
    from expo.db import Database
    from expo.expos.models import Expo

    db = Database(database_url)
    try:
        async with db.session() as session:
            booth = await session.get(Booth, booth_id)
            assert booth is not None and booth.id is not None
            expo = await session.get(Expo, booth.expo_id)
            assert expo is not None and expo.id is not None
            products = [
                Product(booth_id=booth.id, expo_id=expo.id, name=r.product, description=r.description)
                for r in rows
            ]
            session.add_all(products)
            await session.flush()
            await search.write_docs(session, [search.product_doc(p, booth, []) for p in products])
            await session.commit()
            return catalog.Summary(0, 1, len(products), 0)
    finally:
        await db.dispose()


def serve_baseline(port: int) -> None:
    """``expo serve`` with the import route on the old path (run in the server's process)."""
    import uvicorn

    from booths import catalog, catalog_api
    from expo.app import create_app
    from expo.config import load_settings

    async def parse_in_loop(data: bytes) -> list[catalog.CatalogRow]:
        return catalog.parse_catalog(data)

    catalog_api.import_in_thread = in_loop_import  # type: ignore[assignment]
    catalog.read_catalog = parse_in_loop  # type: ignore[assignment]
    uvicorn.run(create_app(load_settings()), host="127.0.0.1", port=port, log_level="warning")


def run(strategy: str, rows: int) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix=f"bench-import-{strategy}-")
    env = {**os.environ, "EXPO_DATA_DIR": data_dir, "EXPO_ACCESS_LOG": "false", "EXPO_LOG_LEVEL": "warning"}
    expo = [PY, "-m", "expo"]
    subprocess.run(
        [*expo, "users", "create", "--email", EMAIL, "--role", "admin"],
        input=PASSWORD.encode(),
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    seed = Path(data_dir) / "seed.csv"
    seed.write_text(HEADER + "Bench booth,Seed lamp,,,,,,\n")
    subprocess.run(
        [*expo, "catalog", "import", "--expo", "bench", str(seed)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    port = free_port()
    if strategy == "baseline":
        cmd = [PY, __file__, "--serve-baseline", str(port)]
    else:
        cmd = [*expo, "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/healthz", server)
        with httpx.Client(base_url=url, timeout=600) as client:
            token = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()[
                "token"
            ]
            headers = {"Authorization": f"Bearer {token}"}
            booth = client.get("/api/expos/bench/booths", headers=headers).json()["items"][0]["id"]
            body = (
                HEADER
                + "".join(
                    f"Bench booth,Lamp {i},Warm desk lamp number {i},,{i % 90 + 1}.50,,USD,\n"
                    for i in range(rows)
                )
            ).encode()
            probe = subprocess.Popen(
                [PY, "-c", PROBE, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            assert probe.stdout is not None and probe.stdout.readline().strip() == "ready"
            start = time.perf_counter()
            answer = client.post(
                f"/api/booths/{booth}/catalog", content=body, headers={**headers, "Content-Type": "text/csv"}
            )
            took = time.perf_counter() - start
            out, _ = probe.communicate(timeout=120)
            assert answer.status_code == 200 and answer.json()["products_created"] == rows, answer.text
            metrics = client.get("/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=30)
    health = sorted(json.loads(out.strip().splitlines()[-1]))
    lag = next(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("expo_event_loop_lag_max_seconds ")
    )
    return {
        "import_s": round(took, 2),
        "rows_per_s": round(rows / took),
        "healthz_probes": len(health),
        "healthz_max_ms": round(health[-1] * 1000, 1),
        "healthz_p99_ms": round(health[int(len(health) * 0.99) - 1] * 1000, 1),
        "loop_lag_max_ms": round(lag * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--strategy", choices=("both", "new", "baseline"), default="both")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    strategies = ("baseline", "new") if args.strategy == "both" else (args.strategy,)
    figures = {name: run(name, args.rows) for name in strategies}
    print(f"\nCatalogue import of {args.rows:,} rows through POST /api/booths/{{id}}/catalog (SQLite)")
    print(
        f"{'strategy':<10}{'import s':>10}{'rows/s':>10}{'probes':>8}{'healthz max ms':>16}"
        f"{'p99 ms':>9}{'loop lag max ms':>17}"
    )
    for name, f in figures.items():
        print(
            f"{name:<10}{f['import_s']:>10}{f['rows_per_s']:>10}{f['healthz_probes']:>8}"
            f"{f['healthz_max_ms']:>16}{f['healthz_p99_ms']:>9}{f['loop_lag_max_ms']:>17}"
        )
    print("issue 12 before the fix: 17.4 s import, /healthz stalled up to 11 s")
    print(json.dumps({"rows": args.rows, **figures}))


if __name__ == "__main__":
    main()
