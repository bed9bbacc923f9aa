"""The figures of scripts/soak.py: what a sample holds, reading ``/metrics``, the per-minute table
and the verdict on growth (the rule is stated in soak.py's docstring). Pure functions, no I/O
except printing."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# Growth of the last third's median over the middle third's that fails the soak.
FD_MARGIN = 8
TASK_MARGIN = 15
RSS_GROWTH = 0.05
LAG_MAX = "expo_event_loop_lag_max_seconds"


@dataclass(frozen=True)
class Sample:
    """The server at one moment (``at``: seconds since the load started). ``requests`` and
    ``server_5xx`` count from the server's start, ``client_errors`` from the load's."""

    at: float
    rss_mib: float
    fds: int
    tasks: int | None
    lag_ms: float | None
    probe_ms: float
    live_viewers: int
    whep_now: int
    requests: int
    server_5xx: int
    client_errors: int
    py_kblocks: float | None = None  # thousands of blocks Python's objects hold


@dataclass(frozen=True)
class Metrics:
    tasks: int | None
    lag_ms: float | None
    requests: int
    server_5xx: int
    blocks: int | None = None


def read_metrics(text: str) -> Metrics:
    """The figures the soak wants from a Prometheus text exposition.

    Event-loop lag is the server's ``expo_event_loop_lag_max_seconds`` (the largest lag over its
    last 10 s, so a sample every 5 s misses none), in ms; ``None`` from a server without it.
    """
    tasks: int | None = None
    blocks: int | None = None
    lags: list[float] = []
    requests = server_5xx = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "expo_asyncio_tasks" and not math.isnan(sample.value):
                tasks = int(sample.value)
            elif sample.name == "expo_http_requests_total":
                requests += int(sample.value)
                if sample.labels.get("status", "").startswith("5"):
                    server_5xx += int(sample.value)
            elif sample.name == "expo_python_allocated_blocks":
                blocks = int(sample.value)
            elif sample.name == LAG_MAX:
                lags.append(sample.value * 1000)
    return Metrics(tasks, round(max(lags), 1) if lags else None, requests, server_5xx, blocks)


def minute_rows(samples: list[Sample], row_seconds: float) -> list[dict[str, Any]]:
    """One row per ``row_seconds`` of samples (a full period only, except a last partial one
    when it is all there is): the last figures of the period, the largest lag, and the requests
    and errors during it."""
    groups: dict[int, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(max(0, math.ceil(sample.at / row_seconds) - 1), []).append(sample)
    rows: list[dict[str, Any]] = []
    before: Sample | None = None
    for index in sorted(groups):
        group = groups[index]
        last = group[-1]
        lags = [s.lag_ms for s in group if s.lag_ms is not None]
        rows.append(
            {
                "minute": round((index + 1) * row_seconds / 60, 2),
                "rss_mib": last.rss_mib,
                "py_kblocks": last.py_kblocks,
                "fds": last.fds,
                "tasks": last.tasks,
                "lag_max_ms": max(lags) if lags else None,
                "probe_max_ms": max(s.probe_ms for s in group),
                "live_viewers": last.live_viewers,
                "requests": last.requests - (before.requests if before else 0),
                "errors": (last.client_errors + last.server_5xx)
                - ((before.client_errors + before.server_5xx) if before else 0),
            }
        )
        before = last
    return rows


COLUMNS = [
    ("minute", "minute", "{:g}"),
    ("RSS MiB", "rss_mib", "{:.1f}"),
    ("py kblocks", "py_kblocks", "{:.0f}"),
    ("open fds", "fds", "{}"),
    ("tasks", "tasks", "{}"),
    ("loop lag max ms", "lag_max_ms", "{:.1f}"),
    ("healthz max ms", "probe_max_ms", "{:.1f}"),
    ("live viewers", "live_viewers", "{}"),
    ("requests", "requests", "{}"),
    ("errors", "errors", "{}"),
]


def print_table(rows: list[dict[str, Any]], *, header: bool) -> None:
    widths = [max(8, len(title) + 2) for title, _, _ in COLUMNS]
    if header:
        print("".join(f"{title:>{w}}" for (title, _, _), w in zip(COLUMNS, widths, strict=True)))
    for row in rows:
        cells = [fmt.format(row[key]) if row[key] is not None else "-" for _, key, fmt in COLUMNS]
        print("".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)), flush=True)


def verdict(samples: list[dict[str, Any]], *, whep_joined: int) -> dict[str, Any]:
    """PASS or FAIL with one line per figure: median of the middle third against the last third."""
    n = len(samples)
    middle, last = samples[n // 3 : 2 * n // 3], samples[2 * n // 3 :]
    thirds: dict[str, list[float | None]] = {}
    lines: list[str] = []
    ok = n >= 6
    if not ok:
        lines.append(f"only {n} samples: too short to judge growth")
    for key, unit, limit in (
        ("fds", "", f"+{FD_MARGIN}"),
        ("tasks", "", f"+{TASK_MARGIN}"),
        ("rss_mib", " MiB", f"+{RSS_GROWTH:.0%}"),
    ):
        values = [[s[key] for s in part if s[key] is not None] for part in (middle, last)]
        if not all(values):
            thirds[key] = [None, None]
            lines.append(f"{key}: not measured")
            continue
        a, b = (statistics.median(v) for v in values)
        thirds[key] = [a, b]
        allowed = (
            a * (1 + RSS_GROWTH) if key == "rss_mib" else a + (FD_MARGIN if key == "fds" else TASK_MARGIN)
        )
        within = b <= allowed
        ok = ok and within
        lines.append(
            f"{key}: median {a:g}{unit} (middle third) -> {b:g}{unit} (last third), allowed {limit}: "
            + ("ok" if within else "GROWS")
        )
    server_5xx = samples[-1]["server_5xx"] if samples else 0
    lines.append(f"server 5xx answers: {server_5xx}")
    lines.append(f"WHEP viewers that got in: {whep_joined}")
    ok = ok and server_5xx == 0 and whep_joined > 0
    return {"pass": ok, "thirds": thirds, "lines": lines}
