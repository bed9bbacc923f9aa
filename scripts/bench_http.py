"""Requests per second of the platform against a bare Starlette app, side by side in one run.

    .venv/bin/python scripts/bench_http.py [--seconds 4] [--rounds 3] [--connections 32]

Both apps run under the same uvicorn settings (one worker, httptools, uvloop, uvicorn's access log
off) and are loaded alternately by the same generator (scripts/loadgen.py, its own process).
Measured: the platform's /healthz and a signed-in page against the bare app's /healthz, which
answers the same JSON with nothing else. The median round counts. Target: platform /healthz at
>= 70 % of the bare app's rate. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from benchlib import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def healthz(request):
    return JSONResponse({"status": "ok"})

app = Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])
"""
EMAIL, PASSWORD = "bench@example.com", "bench-password-1"


def uvicorn_cmd(target: str, port: int, factory: bool = False) -> list[str]:
    cmd = [PY, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    cmd += [
        "--workers",
        "1",
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return cmd + (["--factory"] if factory else [])


def session_cookie(base: str) -> str:
    """Sign in through the real login form (CSRF included) and return the session cookie."""
    with httpx.Client(base_url=base) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "login page has no CSRF field"
        r = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token[1]})
        assert r.status_code in (302, 303), r.text[:300]
        return f"expo_session={client.cookies['expo_session']}"


def load(
    port: int, path: str, seconds: float, connections: int, headers: dict[str, str] | None = None
) -> dict[str, float]:
    spec = {"host": "127.0.0.1", "port": port, "path": path, "seconds": seconds, "connections": connections}
    spec["headers"] = headers or {}
    out = subprocess.run(
        [PY, str(ROOT / "scripts" / "loadgen.py"), json.dumps(spec)], capture_output=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--page", default="/account", help="signed-in page to measure")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="expo-bench-"))
    (tmp / "bare_app.py").write_text(BARE_APP)
    env = {**os.environ, "EXPO_DATA_DIR": str(tmp / "data"), "EXPO_LOG_LEVEL": "warning"}
    subprocess.run([PY, "-m", "expo", "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [PY, "-m", "expo", "users", "create", "--email", EMAIL, "--role", "visitor"],
        env=env,
        input=PASSWORD.encode(),
        check=True,
        capture_output=True,
    )
    platform_port, bare_port = free_port(), free_port()
    procs = [
        subprocess.Popen(
            uvicorn_cmd("expo.asgi:app", platform_port),
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(uvicorn_cmd("bare_app:app", bare_port), cwd=tmp, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_ready(f"http://127.0.0.1:{platform_port}/healthz", procs[0])
        wait_ready(f"http://127.0.0.1:{bare_port}/healthz", procs[1])
        cookie = session_cookie(f"http://127.0.0.1:{platform_port}")
        runs: dict[str, list[dict[str, float]]] = {
            "bare /healthz": [],
            "expo /healthz": [],
            f"expo {args.page}": [],
        }
        for _ in range(args.rounds):  # alternate, so drift on a noisy machine hits all alike
            runs["bare /healthz"].append(load(bare_port, "/healthz", args.seconds, args.connections))
            runs["expo /healthz"].append(load(platform_port, "/healthz", args.seconds, args.connections))
            runs[f"expo {args.page}"].append(
                load(platform_port, args.page, args.seconds, args.connections, {"Cookie": cookie})
            )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)

    summary = {
        name: {
            "rps": statistics.median(r["rps"] for r in rs),
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
        }
        for name, rs in runs.items()
    }
    bare = summary["bare /healthz"]["rps"]
    print(f"{'target':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'vs bare':>10}")
    for name, s in summary.items():
        figures = f"{s['rps']:>10.0f}{s['p50_ms']:>10.2f}{s['p99_ms']:>10.2f}{s['errors']:>8}"
        print(f"{name:<22}{figures}{s['rps'] / bare:>9.0%}")
    ratio = summary["expo /healthz"]["rps"] / bare
    print(
        f"\n/healthz ratio {ratio:.0%} of the bare app (target >= 70%): {'PASS' if ratio >= 0.7 else 'FAIL'}"
    )
    print(
        json.dumps(
            {
                "bare_healthz_rps": round(bare),
                "expo_healthz_rps": round(summary["expo /healthz"]["rps"]),
                "expo_page_rps": round(summary[f"expo {args.page}"]["rps"]),
                "page": args.page,
                "healthz_ratio": round(ratio, 3),
                "page_p99_ms": round(summary[f"expo {args.page}"]["p99_ms"], 2),
                "connections": args.connections,
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
