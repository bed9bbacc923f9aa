"""/metrics carries the server process's memory, open files and asyncio tasks (expo.process_metrics)."""

from __future__ import annotations

import asyncio
import math

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from expo.process_metrics import register_process_metrics, running_tasks


def samples(text: str) -> dict[str, float]:
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_show_memory_fds_and_tasks(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    figures = samples(response.text)
    assert figures["process_resident_memory_bytes"] > 1024 * 1024
    assert figures["process_open_fds"] >= 3
    assert figures["expo_asyncio_tasks"] >= 1  # at least the task serving this scrape
    assert figures["expo_python_allocated_blocks"] > 10_000


async def test_task_count_follows_the_loop() -> None:
    registry = CollectorRegistry()
    register_process_metrics(registry)
    before = registry.get_sample_value("expo_asyncio_tasks")
    assert before is not None
    parked = [asyncio.create_task(asyncio.Event().wait()) for _ in range(5)]
    try:
        assert registry.get_sample_value("expo_asyncio_tasks") == before + 5
    finally:
        for task in parked:
            task.cancel()
        await asyncio.gather(*parked, return_exceptions=True)
    assert registry.get_sample_value("expo_asyncio_tasks") == before


def test_task_count_outside_a_loop_is_not_a_number() -> None:
    assert math.isnan(running_tasks())
