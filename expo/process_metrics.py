"""The server process's own figures on ``/metrics``: memory, open file descriptors, CPU, the
number of asyncio tasks and of memory blocks Python's objects hold.

A leak in a long-running server shows first as one of these growing while the load stays level
(scripts/soak.py watches them). The platform has a registry of its own (two apps in one process
share nothing), so prometheus_client's process collector, which only the global registry gets by
default, is added to it here. The task count is computed when scraped, on the event loop that
serves the scrape. The allocated blocks tell the two kinds of memory growth apart: Python objects
that pile up (the blocks grow with the resident memory) or memory held below Python, by a C
library or the allocator (the resident memory grows, the blocks do not).
"""

from __future__ import annotations

import asyncio
import sys

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector


def running_tasks() -> float:
    """Tasks not yet done on the running event loop; NaN when called outside one."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop in this thread
        return float("nan")


def register_process_metrics(registry: CollectorRegistry) -> None:
    """Add ``process_*`` (resident memory, open fds, CPU seconds; Linux), ``expo_asyncio_tasks``
    and ``expo_python_allocated_blocks`` to ``registry``."""
    ProcessCollector(registry=registry)
    tasks = Gauge("expo_asyncio_tasks", "asyncio tasks alive on the serving event loop.", registry=registry)
    tasks.set_function(running_tasks)
    blocks = Gauge(
        "expo_python_allocated_blocks", "Memory blocks Python's allocator has handed out.", registry=registry
    )
    blocks.set_function(sys.getallocatedblocks)
