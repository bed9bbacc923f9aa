"""Helpers the benchmark scripts share: free loopback ports, waiting for a server to answer,
latency percentiles, and printing two runs' figures side by side."""

from __future__ import annotations

import socket
import statistics
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Stop a server: SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_ready(
    url: str, proc: subprocess.Popen[Any], timeout: float = 60.0, status: int | None = 200
) -> None:
    """Poll ``url`` until it answers ``status`` (any answer when ``None``: e.g. a WebSocket-only
    server's 426); stop at once if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            answer = httpx.get(url, timeout=1).status_code
            if status is None or answer == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def percentiles(samples: list[float]) -> dict[str, float]:
    """Count, median, p95, p99 and maximum of ``samples`` (milliseconds), rounded to 0.01."""
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


def print_side_by_side(
    rows: list[tuple[str, str, str]], columns: list[tuple[str, dict[str, Any]]], label_width: int = 26
) -> None:
    """One line per ``(label, key, format)`` row, one column per ``(heading, figures)``; a missing
    figure prints as ``-``."""
    width = max(14, *(len(heading) + 2 for heading, _ in columns))
    print("\n" + f"{'':<{label_width}}" + "".join(f"{heading:>{width}}" for heading, _ in columns))
    for label, key, fmt in rows:
        cells = [fmt.format(figures[key]) if figures.get(key) is not None else "-" for _, figures in columns]
        print(f"{label:<{label_width}}" + "".join(f"{cell:>{width}}" for cell in cells))
