"""The soak's verdict (scripts/_soak_figures.py): level figures pass, growth fails. The soak itself
runs for minutes and is not a test; its judgement is, on made-up samples."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from _soak_figures import Sample, minute_rows, read_metrics, verdict


def samples(n: int = 36, *, fds: int = 0, tasks: int = 0, rss: float = 0.0, **fixed: Any) -> list[Sample]:
    """``n`` samples 5 s apart around level figures that wobble like a churning audience, plus
    ``fds``/``tasks``/``rss`` more per sample (a leak)."""
    wobble = [0, 3, -2, 5, -4, 1]
    values: dict[str, Any] = {
        "lag_ms": 12.0,
        "probe_ms": 3.0,
        "live_viewers": 6,
        "whep_now": 6,
        "server_5xx": 0,
        "client_errors": 0,
    } | fixed
    return [
        Sample(
            at=5.0 * (i + 1),
            rss_mib=180 + wobble[i % 6] + rss * i,
            fds=50 + wobble[i % 6] + fds * i,
            tasks=90 + 3 * wobble[i % 6] + tasks * i,
            requests=100 * (i + 1),
            **values,
        )
        for i in range(n)
    ]


def judge(data: list[Sample], whep_joined: int = 10) -> dict[str, Any]:
    return verdict([asdict(s) for s in data], whep_joined=whep_joined)


def test_level_figures_pass() -> None:
    assert judge(samples())["pass"]


def test_a_leak_of_one_fd_a_minute_fails_a_30_minute_soak() -> None:
    data = samples(360, fds=1 / 12)  # one per 12 samples of 5 s
    result = judge([Sample(**{**asdict(s), "fds": round(s.fds)}) for s in data])
    assert not result["pass"]
    assert any("fds" in line and "GROWS" in line for line in result["lines"])


def test_two_tasks_or_two_mib_a_minute_fail_a_30_minute_soak() -> None:
    assert not judge(samples(360, tasks=2 / 12))["pass"]
    assert not judge(samples(360, rss=2 / 12))["pass"]


def test_server_errors_or_no_viewer_fail() -> None:
    assert not judge(samples(server_5xx=1))["pass"]
    assert not judge(samples(), whep_joined=0)["pass"]


def test_rows_per_minute() -> None:
    rows = minute_rows(samples(24), 60)
    assert [r["minute"] for r in rows] == [1, 2]
    assert [r["requests"] for r in rows] == [1200, 1200]
    assert rows[0]["lag_max_ms"] == 12.0


def test_read_metrics() -> None:
    text = (
        "# TYPE expo_asyncio_tasks gauge\nexpo_asyncio_tasks 88.0\n"
        "# TYPE expo_event_loop_lag_max_seconds gauge\nexpo_event_loop_lag_max_seconds 0.174\n"
        "# TYPE expo_http_requests counter\n"
        'expo_http_requests_total{method="GET",route="/a",status="200"} 7.0\n'
        'expo_http_requests_total{method="GET",route="/a",status="500"} 2.0\n'
    )
    metrics = read_metrics(text)
    assert (metrics.tasks, metrics.lag_ms, metrics.requests, metrics.server_5xx) == (88, 174.0, 9, 2)
