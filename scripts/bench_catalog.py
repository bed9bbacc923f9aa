"""Search, booth and product latency on a generated catalogue, through the real HTTP server,
on SQLite and PostgreSQL side by side.

    .venv/bin/python scripts/gen_catalog.py --data-dir /tmp/canton          # once per store
    .venv/bin/python scripts/gen_catalog.py --store postgresql+asyncpg://127.0.0.1:5432/expo_canton
    # (a PostgreSQL store generated before 2026-12-05: expo db upgrade, then expo catalog index)
    .venv/bin/python scripts/bench_catalog.py --stores sqlite,postgres --data-dir /tmp/canton \
        --postgres postgresql+asyncpg://127.0.0.1:5432/expo_canton [--requests 400]

Starts the platform under uvicorn (one worker, httptools, uvloop) once per store, then sends
requests one at a time over a keep-alive connection (latency, not throughput): varied searches
(English words and prefixes, Chinese fragments, several words, filters by category, hall and
country, later pages) and, for random ids, the booth API, the booth's HTML page (as a signed-out
visitor: each view writes its analytics row), the booth's products, and the product API and HTML
page. Every request goes to every server, the order rotating from one request to the next, so all
see the same load; the servers must agree on every search's total. Prints a table per server
(p50, p95 and p99 per kind, with the store's size) against the targets (search p95 <= 50 ms,
booth API and booth page p95 <= 30 ms); the last line is one JSON object. ``--page PATTERN``
(``{slug}`` and ``{id}`` a booth id) also times another HTML page.

No result cache is involved: every search is computed. With ``--strategy both`` a further server
runs the previous SQLite query strategy (``booths.search.STRATEGY = "baseline"``: every filter
inside the ranking MATCH, a 25,000-match rank window) on the SQLite store, for searches only. The
machine is shared: only servers measured in the same run are comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from benchlib import free_port, percentiles, wait_ready

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.gen_catalog import ADJECTIVES, CITIES, MATERIALS, NOUNS  # noqa: E402

TARGETS = {"search": 50.0, "booth": 30.0, "booth page": 30.0}


def queries(rng: random.Random, n: int, categories: list[int], halls: list[int]) -> list[dict[str, str]]:
    """``n`` varied search parameter sets."""
    out: list[dict[str, str]] = []
    for i in range(n):
        adj, zh_adj = rng.choice(ADJECTIVES)
        mat, zh_mat = rng.choice(MATERIALS)
        noun, zh_noun = rng.choice(NOUNS)
        city, _ = rng.choice(CITIES)
        kind = i % 10
        q = [
            noun,  # one common word
            f"{adj} {noun}",  # two words
            f"{mat} {noun[: max(2, len(noun) - 2)]}",  # typing: the last word is a prefix
            zh_noun,  # a Chinese fragment
            f"{zh_mat}{zh_noun}",  # a longer Chinese phrase
            f"{city} {noun}",  # booth name and product
            f"{adj} {mat} {noun}",  # three words
            noun[:3],  # a short prefix
            zh_adj,
            f"{noun} {mat}",
        ][kind]
        params = {"q": q}
        if i % 4 == 1 and categories:
            params["category"] = str(rng.choice(categories))
        if i % 6 == 2 and halls:
            params["hall"] = str(rng.choice(halls))
        if i % 7 == 3:
            params["country"] = rng.choice(["CN", "IN", "DE", "US"])
        if i % 9 == 4:
            params["page"] = str(rng.randrange(2, 6))
        out.append(params)
    return out


def timed(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = client.get(url)
    return (time.perf_counter() - start) * 1000, response


@dataclass
class Server:
    """One server to measure: a store, and for SQLite the search strategy it runs."""

    name: str
    env: dict[str, str]
    strategy: str = "split"
    bytes: int = 0
    process: subprocess.Popen[bytes] | None = None
    base: str = ""


def servers_for(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Server]:
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or set(stores) - {"sqlite", "postgres"}:
        parser.error("--stores is a comma-separated list of sqlite and postgres")
    out: list[Server] = []
    for store in stores:
        if store == "sqlite":
            path = Path(args.data_dir).resolve() / "expo.db"
            if not path.exists():
                parser.error(f"{path} does not exist: run scripts/gen_catalog.py --data-dir {args.data_dir}")
            size = sum(p.stat().st_size for p in path.parent.glob("expo.db*"))
            env = {"EXPO_DATA_DIR": str(path.parent)}
            for strategy in STRATEGIES[args.strategy]:
                name = "sqlite" if strategy == "split" else f"sqlite {strategy}"
                out.append(Server(name, env, strategy, size))
        else:
            # Uploads (none here) would go to a scratch directory; the rows are in PostgreSQL.
            scratch = tempfile.mkdtemp(prefix="expo-bench-catalog-")
            env = {"EXPO_DATA_DIR": scratch, "EXPO_DATABASE_URL": args.postgres}
            out.append(Server("postgres", env, "split", postgres_bytes(args.postgres)))
    return out


def postgres_bytes(url: str) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    async def size() -> int:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise SystemExit(f"cannot reach {url}: {exc}") from exc
        try:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    return asyncio.run(size())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--stores", default="sqlite", help="comma-separated: sqlite, postgres (both: side by side)"
    )
    parser.add_argument("--data-dir", default="data", help="the generated SQLite store's data directory")
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://127.0.0.1:5432/expo_canton",
        help="the generated PostgreSQL store (gen_catalog.py --store URL)",
    )
    parser.add_argument("--expo", default="canton")
    parser.add_argument("--requests", type=int, default=400, help="searches (and as many of each read)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--page", help="also time this page pattern ({slug}, {id} a booth id), e.g. /booths/{id}"
    )
    parser.add_argument(
        "--strategy",
        choices=sorted(STRATEGIES),
        default="split",
        help="SQLite search strategy: the current one (split), the previous one (baseline), or both",
    )
    args = parser.parse_args()
    servers = servers_for(args, parser)
    try:
        for server in servers:
            server.process, server.base = start_server(server)
        catalogue, results = run(servers, args)
    finally:
        for server in servers:
            if server.process is not None:
                server.process.terminate()
                server.process.wait(timeout=30)

    print(catalogue)
    for server in servers:
        figures = results[server.name]
        print(f"\n{server.name} ({server.bytes / 2**30:.2f} GiB)")
        print(f"{'request':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}  target p95")
        for kind, f in figures.items():
            target = TARGETS.get(kind)
            verdict = (
                "" if target is None else f"<= {target:.0f} ms {'ok' if f['p95_ms'] <= target else 'MISSED'}"
            )
            cells = "".join(f"{f[k]:>10}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
            print(f"{kind:<16}{f['n']:>6}{cells}  {verdict}")
    if len(servers) > 1:
        first = servers[0].name
        for server in servers[1:]:
            now, other = results[server.name]["search"], results[first]["search"]
            print(
                f"search, {server.name} vs {first}, same run: p50 x{now['p50_ms'] / other['p50_ms']:.2f}, "
                f"p95 x{now['p95_ms'] / other['p95_ms']:.2f} (lower is faster)"
            )
    print(json.dumps({"store_bytes": {s.name: s.bytes for s in servers}, **results}))


STRATEGIES = {"both": ("split", "baseline"), "split": ("split",), "baseline": ("baseline",)}
# Runs uvicorn in-process after choosing booths.search's SQLite strategy (a module attribute).
SERVER = (
    "import sys, uvicorn, booths.search as s; s.STRATEGY = sys.argv[1]; "
    "uvicorn.run('expo.asgi:app', host='127.0.0.1', port=int(sys.argv[2]), http='httptools', "
    "loop='uvloop', access_log=False, log_level='warning')"
)


def start_server(server: Server) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn server on the server's store and strategy, once it answers /healthz."""
    port = free_port()
    env = {**os.environ, **server.env, "EXPO_LOG_LEVEL": "warning", "EXPO_ACCESS_LOG": "false"}
    process = subprocess.Popen([sys.executable, "-c", SERVER, server.strategy, str(port)], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/healthz", process, timeout=120)
    except SystemExit:
        process.terminate()
        raise
    return process, base


def run(
    servers: list[Server], args: argparse.Namespace
) -> tuple[str, dict[str, dict[str, dict[str, float]]]]:
    """Time every kind of request on every server; a one-line description of the catalogue and
    the figures per server.

    Each request goes to every server in turn, the order rotating from one request to the next, so
    that all see the same load; searches must agree on their totals. Reads go to every store (a
    second SQLite strategy only changes searches, so it gets searches only).
    """
    rng = random.Random(args.seed)
    slug = args.expo
    clients = {s.name: httpx.Client(base_url=s.base, timeout=30) for s in servers}
    readers = [s.name for s in servers if s.strategy == "split"]
    client = clients[servers[0].name]
    try:
        expo = client.get(f"/api/expos/{slug}")
        if expo.status_code != 200:
            raise SystemExit(f"no expo {slug!r} in the store ({expo.status_code})")
        categories = [c["id"] for c in client.get(f"/api/expos/{slug}/categories").json()["items"]]
        halls = [h["id"] for h in client.get(f"/api/expos/{slug}/halls").json()["items"]]
        n_booths = client.get(f"/api/expos/{slug}/booths").json()["total"]
        # Generated stores number products in booth order: the last booth's last product is the count.
        last = client.get(f"/api/booths/{n_booths}/products").json()
        last_page = max(1, -(-last["total"] // 50))
        tail = client.get(f"/api/booths/{n_booths}/products", params={"page": last_page}).json()["items"]
        n_products = max((p["id"] for p in tail), default=0)
        plan = queries(rng, args.requests, categories, halls)
        for c in clients.values():
            for params in plan[:20]:  # warm up: connection, caches, the server's first requests
                c.get(f"/api/expos/{slug}/search?{urlencode(params)}")
        kinds = ["search", "booth", "booth page", "booth products", "product", "product page"]
        samples: dict[str, dict[str, list[float]]] = {s.name: {k: [] for k in kinds} for s in servers}
        if args.page:
            for s in samples.values():
                s["page"] = []

        def each(names: list[str], i: int) -> list[str]:
            shift = i % len(names)
            return names[shift:] + names[:shift]

        hits = 0
        for i, params in enumerate(plan):
            totals = {}
            for name in each(list(clients), i):
                ms, response = timed(clients[name], f"/api/expos/{slug}/search?{urlencode(params)}")
                response.raise_for_status()
                totals[name] = response.json()["total"]
                samples[name]["search"].append(ms)
            if len(set(totals.values())) > 1:
                raise SystemExit(f"the servers disagree on the total of {params}: {totals}")
            hits += bool(next(iter(totals.values())))
        for i in range(args.requests):
            booth_id = rng.randrange(1, n_booths + 1)
            product_id = rng.randrange(1, max(n_products, 1) + 1)
            reads = [
                ("booth", f"/api/booths/{booth_id}", True),
                ("booth products", f"/api/booths/{booth_id}/products", True),
                ("booth page", f"/expos/{slug}/booths/{booth_id}", True),  # records a view
                ("product", f"/api/products/{product_id}", False),
                ("product page", f"/expos/{slug}/products/{product_id}", False),
            ]
            if args.page:
                reads.append(("page", args.page.format(slug=slug, id=booth_id), True))
            for kind, url, required in reads:
                for name in each(readers, i):
                    ms, response = timed(clients[name], url)
                    if required:
                        response.raise_for_status()
                    if response.status_code == 200:
                        samples[name][kind].append(ms)
    finally:
        for c in clients.values():
            c.close()
    figures = {name: {k: percentiles(v) for k, v in kinds_.items() if v} for name, kinds_ in samples.items()}
    found = f"{n_booths:,} booths, {n_products:,} products; {hits}/{len(plan)} searches found something"
    return found, figures


if __name__ == "__main__":
    main()
