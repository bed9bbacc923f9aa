"""Catalogue imports in the background: the upload is answered at once, the import runs as a task
of the process that received the file, and any process reports how far it got.

A :class:`~booths.models.CatalogImport` row records each import: ``checking`` while the file is
read, ``writing`` while its rows go into the store in one transaction, then ``done`` (with the
number of products) or ``failed`` (with the per-line report, nothing imported). While writing,
the rows done so far are counted on the bus, not in the store: on SQLite the import's own
transaction holds the write lock until it commits, so it could not record its progress there.

:class:`CatalogImports` is the booths domain's component (see :meth:`expo.platform.Platform.add`);
stopping it cancels the imports still running, which roll back and are marked failed.

:func:`import_in_thread` runs the write itself on an event loop of its own in a worker thread, with
its own connection: binding twenty thousand rows' parameters is seconds of CPU that SQLAlchemy
spends on the loop that runs it, and the server's loop must stay free to answer everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from booths import catalog
from booths.models import Booth, CatalogImport, ImportStatus
from expo.bus import Bus
from expo.db import Database, utcnow
from expo.errors import N_, ExpoError, NotFound
from expo.expos.models import Expo

log = logging.getLogger("expo.catalog")

# How long the rows-done counter outlives an import on the bus.
COUNTER_TTL = 24 * 3600.0
# An import still running after this long had its process die under it (the largest file takes
# minutes): it is reported failed, as its transaction was rolled back with the process.
STALE_AFTER = timedelta(minutes=30)
INTERRUPTED = N_("The server stopped during the import; nothing was imported. Upload the file again.")


@dataclass(frozen=True)
class ImportProgress:
    """What the status route and page show: where the import is and, at the end, its result."""

    id: int
    booth_id: int
    status: ImportStatus
    rows_done: int
    rows_total: int | None
    products_created: int
    error: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


def _counter(import_id: int) -> str:
    return f"catalog-import:{import_id}:rows"


class _Stopped(Exception):
    """Raised in the worker thread between batches when the import was cancelled: it rolls back."""


async def import_in_thread(
    database_url: str,
    booth_id: int,
    rows: list[catalog.CatalogRow],
    *,
    actor_id: int | None,
    progress: catalog.Progress | None = None,
) -> catalog.Summary:
    """:func:`booths.catalog.import_catalog` of ``rows`` into the booth ``booth_id``, run in a worker
    thread on its own event loop and store connection. ``progress`` runs on the caller's loop.
    Cancelling the caller stops the import at its next batch, and nothing of it is stored."""
    caller = asyncio.get_running_loop()
    stop = threading.Event()

    async def told(done: int) -> None:  # on the worker's loop
        if stop.is_set():
            raise _Stopped
        if progress is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(progress(done), caller))

    async def write() -> catalog.Summary:
        db = Database(database_url)
        try:
            async with db.session() as session:
                booth = await session.get(Booth, booth_id)
                expo = await session.get(Expo, booth.expo_id) if booth is not None else None
                if booth is None or expo is None:
                    raise NotFound(N_("There is no such booth."), code="booth.unknown")
                return await catalog.import_catalog(
                    session, expo, rows, actor_id=actor_id, booth=booth, progress=told
                )
        finally:
            await db.dispose()

    try:
        # The coroutine is made in the thread: a call cancelled before the thread starts leaves none.
        return await asyncio.to_thread(lambda: asyncio.run(write()))
    except asyncio.CancelledError:
        stop.set()
        raise


class CatalogImports:
    """Starts catalogue imports as tasks of this process and answers for any import's progress."""

    # How long the booth editor's upload waits for an import before it shows the progress page
    # instead: a small file is answered as before, in the same request.
    answer_within: float = 2.0

    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def start(self, booth_id: int, user_id: int | None, data: bytes) -> int:
        """Record an import of ``data`` into the booth ``booth_id`` and start it; its id."""
        async with self.db.session() as session:
            job = CatalogImport(booth_id=booth_id, user_id=user_id)
            session.add(job)
            await session.commit()
            assert job.id is not None
            import_id = job.id
        task = asyncio.get_running_loop().create_task(
            self._run(import_id, booth_id, user_id, data), name=f"catalog-import-{import_id}"
        )
        self._tasks[import_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(import_id, None))
        return import_id

    async def wait(self, import_id: int, timeout: float) -> None:
        """Return when this process's import ``import_id`` ends, or after ``timeout`` seconds."""
        task = self._tasks.get(import_id)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)

    async def progress(self, import_id: int, booth_id: int) -> ImportProgress:
        """The import ``import_id`` of booth ``booth_id`` (:class:`NotFound` for another booth's)."""
        async with self.db.session() as session:
            job = await session.get(CatalogImport, import_id)
        if job is None or job.booth_id != booth_id:
            raise NotFound(N_("This booth has no such catalogue import."), code="catalog.unknown_import")
        assert job.id is not None
        status, error = ImportStatus(job.status), job.error
        if (
            status in (ImportStatus.CHECKING, ImportStatus.WRITING)
            and utcnow() - job.created_at > STALE_AFTER
        ):
            status, error = ImportStatus.FAILED, {"code": "catalog.interrupted", "message": INTERRUPTED}
        if status is ImportStatus.DONE:
            done = job.rows_total or 0
        elif status is ImportStatus.WRITING:
            done = await self.bus.get_counter(_counter(job.id))
        else:
            done = 0
        return ImportProgress(
            id=job.id,
            booth_id=job.booth_id,
            status=status,
            rows_done=done,
            rows_total=job.rows_total,
            products_created=job.products_created,
            error=error,
        )

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, import_id: int, booth_id: int, user_id: int | None, data: bytes) -> None:
        try:
            rows = await catalog.read_catalog(data)
            del data
            await self._update(import_id, status=ImportStatus.WRITING.value, rows_total=len(rows))
            counter = _counter(import_id)
            written = 0

            async def told(done: int) -> None:
                nonlocal written
                await self.bus.incr(counter, done - written, ttl=COUNTER_TTL)
                written = done

            summary = await import_in_thread(self.db.url, booth_id, rows, actor_id=user_id, progress=told)
            await self._finish(import_id, ImportStatus.DONE, products_created=summary.products_created)
        except ExpoError as exc:
            error = {"code": exc.code, "message": exc.message, "details": exc.extra.get("details") or []}
            await self._finish(import_id, ImportStatus.FAILED, error=error)
        except asyncio.CancelledError:
            error = {"code": "catalog.interrupted", "message": INTERRUPTED}
            await asyncio.shield(self._finish(import_id, ImportStatus.FAILED, error=error))
            raise
        except Exception:
            log.exception("catalogue import %s failed", import_id)
            message = N_("The import failed; nothing was imported. Try again later.")
            await self._finish(
                import_id, ImportStatus.FAILED, error={"code": "catalog.failed", "message": message}
            )

    async def _update(self, import_id: int, **values: Any) -> None:
        async with self.db.session() as session:
            job = await session.get(CatalogImport, import_id)
            assert job is not None
            for name, value in values.items():
                setattr(job, name, value)
            session.add(job)
            await session.commit()

    async def _finish(self, import_id: int, status: ImportStatus, **values: Any) -> None:
        await self._update(import_id, status=status.value, finished_at=utcnow(), **values)
