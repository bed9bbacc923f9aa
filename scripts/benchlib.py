"""Helpers the benchmark scripts share: free loopback ports and waiting for a server to answer."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
