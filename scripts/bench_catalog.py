"""Search, booth and product latency on a generated catalogue, through the real HTTP server.

    .venv/bin/python scripts/gen_catalog.py --data-dir /tmp/canton          # once
    .venv/bin/python scripts/bench_catalog.py --data-dir /tmp/canton [--requests 400]

Starts the platform under uvicorn (one worker, httptools, uvloop) on the store, then sends
requests one at a time over a keep-alive connection (latency, not throughput): varied searches
(English words and prefixes, Chinese fragments, several words, filters by category, hall and
country, later pages) and, for random ids, the booth API, the booth's HTML page (as a signed-out
visitor: each view writes its analytics row), the booth's products, and the product API and HTML
page. Prints p50, p95 and p99 per kind with the store's size, against the targets (search p95 <=
50 ms, booth API and booth page p95 <= 30 ms); the last line is one JSON object. ``--page PATTERN``
(``{slug}`` and ``{id}`` a booth id) also times another HTML page.

No result cache is involved: every search is computed. With ``--strategy both`` (the default) a
second server runs the previous SQLite query strategy (``booths.search.STRATEGY = "baseline"``:
every filter inside the ranking MATCH, a 25,000-match rank window) on the same store, each search
goes to both servers (alternating which goes first, so both see the same load) and the figures
are printed side by side with their ratio. The machine is shared: only the ratio of two servers
measured in the same run is comparable between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from benchlib import free_port

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


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(at(0.95), 2),
        "p99_ms": round(at(0.99), 2),
        "max_ms": round(ordered[-1], 2),
    }


def timed(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = client.get(url)
    return (time.perf_counter() - start) * 1000, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", default="data", help="the generated store's data directory")
    parser.add_argument("--expo", default="canton")
    parser.add_argument("--requests", type=int, default=400, help="searches (and as many of each read)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--page", help="also time this page pattern ({slug}, {id} a booth id), e.g. /booths/{id}"
    )
    parser.add_argument(
        "--strategy",
        choices=sorted(STRATEGIES),
        default="both",
        help="SQLite search strategy: the current one (split), the previous one (baseline), or both",
    )
    args = parser.parse_args()
    store = Path(args.data_dir).resolve() / "expo.db"
    if not store.exists():
        raise SystemExit(
            f"{store} does not exist: run scripts/gen_catalog.py --data-dir {args.data_dir} first"
        )
    size = sum(p.stat().st_size for p in store.parent.glob("expo.db*"))

    servers = {name: start_server(store, name) for name in STRATEGIES[args.strategy]}
    try:
        catalogue, results = run({name: base for name, (_, base) in servers.items()}, args)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)

    print(f"store: {store} ({size / 2**30:.2f} GiB), {catalogue}")
    print(f"{'request':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}  target p95")
    for kind, figures in results.items():
        target = TARGETS.get(kind)
        verdict = (
            ""
            if target is None
            else f"<= {target:.0f} ms {'ok' if figures['p95_ms'] <= target else 'MISSED'}"
        )
        print(
            f"{kind:<16}{figures['n']:>6}{figures['p50_ms']:>10}{figures['p95_ms']:>10}"
            f"{figures['p99_ms']:>10}{figures['max_ms']:>10}  {verdict}"
        )
    if "search" in results and "search baseline" in results:
        now, before = results["search"], results["search baseline"]
        print(
            f"search vs baseline strategy, same run: p50 x{now['p50_ms'] / before['p50_ms']:.2f}, "
            f"p95 x{now['p95_ms'] / before['p95_ms']:.2f} (lower is faster)"
        )
    print(json.dumps({"store_bytes": size, **results}))


STRATEGIES = {"both": ("split", "baseline"), "split": ("split",), "baseline": ("baseline",)}
# Runs uvicorn in-process after choosing booths.search's SQLite strategy (a module attribute).
SERVER = (
    "import sys, uvicorn, booths.search as s; s.STRATEGY = sys.argv[1]; "
    "uvicorn.run('expo.asgi:app', host='127.0.0.1', port=int(sys.argv[2]), http='httptools', "
    "loop='uvloop', access_log=False, log_level='warning')"
)


def start_server(store: Path, strategy: str) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn server on the store with this search strategy, once it answers /healthz."""
    port = free_port()
    env = {
        **os.environ,
        "EXPO_DATA_DIR": str(store.parent),
        "EXPO_LOG_LEVEL": "warning",
        "EXPO_ACCESS_LOG": "false",
    }
    server = subprocess.Popen([sys.executable, "-c", SERVER, strategy, str(port)], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("the server did not come up")
        time.sleep(0.2)


def run(bases: dict[str, str], args: argparse.Namespace) -> tuple[str, dict[str, dict[str, float]]]:
    """Time every kind of request; a one-line description of the catalogue and the figures.

    Searches go to every server in ``bases``; reads (which no search strategy changes) to the first.
    """
    rng = random.Random(args.seed)
    slug = args.expo
    clients = {name: httpx.Client(base_url=base, timeout=30) for name, base in bases.items()}
    client = next(iter(clients.values()))
    try:
        expo = client.get(f"/api/expos/{slug}")
        if expo.status_code != 200:
            raise SystemExit(f"no expo {slug!r} in the store ({expo.status_code})")
        categories = [c["id"] for c in client.get(f"/api/expos/{slug}/categories").json()["items"]]
        halls = [h["id"] for h in client.get(f"/api/expos/{slug}/halls").json()["items"]]
        first = client.get(f"/api/expos/{slug}/booths").json()
        n_booths = first["total"]
        # Generated stores number products in booth order: the last booth's last product is the count.
        last = client.get(f"/api/booths/{n_booths}/products").json()
        last_page = max(1, -(-last["total"] // 50))
        tail = client.get(f"/api/booths/{n_booths}/products", params={"page": last_page}).json()["items"]
        n_products = max((p["id"] for p in tail), default=0)
        plan = queries(rng, args.requests, categories, halls)
        for c in clients.values():
            for params in plan[:20]:  # warm up: connection, caches, the server's first requests
                c.get(f"/api/expos/{slug}/search?{urlencode(params)}")
        names = {name: "search" if i == 0 else f"search {name}" for i, name in enumerate(clients)}
        samples: dict[str, list[float]] = {names[name]: [] for name in clients}
        samples.update(
            {"booth": [], "booth page": [], "booth products": [], "product": [], "product page": []}
        )
        if args.page:
            samples["page"] = []
        hits = 0
        order = list(clients)
        for i, params in enumerate(plan):
            totals = set()
            for name in order if i % 2 == 0 else order[::-1]:
                ms, response = timed(clients[name], f"/api/expos/{slug}/search?{urlencode(params)}")
                response.raise_for_status()
                totals.add(response.json()["total"])
                samples[names[name]].append(ms)
            if len(totals) > 1:
                raise SystemExit(f"the strategies disagree on the total of {params}: {totals}")
            hits += bool(totals.pop())
        for _ in range(args.requests):
            booth_id = rng.randrange(1, n_booths + 1)
            for kind, url in (
                ("booth", f"/api/booths/{booth_id}"),
                ("booth products", f"/api/booths/{booth_id}/products"),
            ):
                ms, response = timed(client, url)
                response.raise_for_status()
                samples[kind].append(ms)
            ms, response = timed(client, f"/expos/{slug}/booths/{booth_id}")  # records a view
            response.raise_for_status()
            samples["booth page"].append(ms)
            product_id = rng.randrange(1, max(n_products, 1) + 1)
            for kind, url in (
                ("product", f"/api/products/{product_id}"),
                ("product page", f"/expos/{slug}/products/{product_id}"),
            ):
                ms, response = timed(client, url)
                if response.status_code == 200:
                    samples[kind].append(ms)
            if args.page:
                ms, response = timed(client, args.page.format(slug=slug, id=booth_id))
                response.raise_for_status()
                samples["page"].append(ms)
    finally:
        for c in clients.values():
            c.close()
    figures = {k: percentiles(v) for k, v in samples.items() if v}
    found = f"{n_booths:,} booths, {n_products:,} products; {hits}/{len(plan)} searches found something"
    return found, figures


if __name__ == "__main__":
    main()
