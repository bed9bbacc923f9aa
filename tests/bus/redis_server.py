"""A redis-server of the test's own, on a free loopback port, that the test may stop and start again.

The shared Redis of the other tests must never go away, so fault tests run their own: no
persistence (``--save "" --appendonly no``), so a restart comes back empty, as a Redis that
lost its data would; :meth:`RedisServer.start` reuses the port, so clients configured with
:attr:`RedisServer.url` find it again.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import free_port, service_unavailable

START_TIMEOUT = 10.0
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]


class RedisServer:
    """One redis-server process at a time on a fixed port."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again) on the same port; returns once it answers PING."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.02)  # polling for the server to answer, not waiting a fixed time
        finally:
            client.close()

    def kill(self) -> None:
        """Stop it the hard way (SIGKILL): connections drop with no goodbye, the data is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        service_unavailable("redis-server", FileNotFoundError("redis-server is not installed"))
        raise AssertionError  # unreachable: service_unavailable skips or fails
    server = RedisServer(executable)
    server.start()
    try:
        yield server
    finally:
        server.kill()
