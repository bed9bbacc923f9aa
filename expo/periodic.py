"""A pass of work repeated while the platform runs (deliver the outbox, sweep for reminders).

A component subclasses :class:`Periodic` and writes :meth:`Periodic.run_once`; :meth:`start` and
:meth:`stop` own the task that calls it every ``interval`` seconds. A failing pass is logged and the
next one runs on time: a store hiccup must not end the work for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("expo.periodic")


class Periodic:
    """Runs :meth:`run_once` every ``interval`` seconds between :meth:`start` and :meth:`stop`;
    the first pass at once (``at_once``) or after a full interval (a process starting sends nothing
    before its peers have had their turn)."""

    def __init__(self, name: str, interval: float, *, at_once: bool) -> None:
        self.name = name
        self.interval = interval
        self.at_once = at_once
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def run_once(self) -> object:
        raise NotImplementedError

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            # The flag as well as the cancellation: a driver that swallows CancelledError mid-query
            # must not leave the loop running (and this await hanging).
            self._stopping.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        wait = not self.at_once
        while True:
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.interval)
            wait = True
            if self._stopping.is_set():
                return
            try:
                await self.run_once()
            except Exception:
                log.exception("%s pass failed", self.name)
