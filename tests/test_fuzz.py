"""Schemathesis over every operation of ``/api/openapi.json``, on a real server on loopback.

The demo's world (an expo, halls, booths, products, broadcasts, a room, registrations, programs)
is seeded into a fresh store and served by uvicorn; the ``st`` command line then sends each
operation, as an organizer and as a visitor, the examples, boundary values and random data that
the document describes, valid and invalid, and fails on:

- any 5xx (``not_a_server_error``),
- a status, content type or body that the document does not list (``status_code_conformance``,
  ``content_type_conformance``, ``response_schema_conformance``),
- data that the document forbids being accepted (``negative_data_rejection``).

The run is bounded and repeatable: a fixed seed and a fixed number of examples per operation,
``EXPO_FUZZ_SEED`` and ``EXPO_FUZZ_EXAMPLES`` to change them (``EXPO_FUZZ_PG_EXAMPLES`` for the
shorter PostgreSQL run). With ``CI=true`` the PostgreSQL run fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from expo.accounts.models import Role
from expo.app import create_app
from expo.config import Settings
from expo.db import Database
from expo.demo import DEMO_LOGINS, seed_demo
from expo.migrations import ensure_schema
from tests.conftest import LiveServer, make_settings

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("EXPO_FUZZ_SEED", "20261202"))
EXAMPLES = int(os.environ.get("EXPO_FUZZ_EXAMPLES", "5"))
PG_EXAMPLES = int(os.environ.get("EXPO_FUZZ_PG_EXAMPLES", "2"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
ROLES = (Role.ORGANIZER, Role.VISITOR)

# Nothing is left out. These two end the session they are called with (logging out, or revoking
# the token when the fuzzer guesses its id), which would turn every later call into a 401: each
# role runs them last, with a token of their own.
SESSION_ENDING = ("logout", "revoke_token")


class World:
    """The seeded server and one bearer token per role and purpose."""

    def __init__(self, server: LiveServer) -> None:
        self.url = server.url
        self.tokens: dict[tuple[Role, str], str] = {}
        # Every token up front: the fuzzer's failed logins would soon rate-limit this address.
        for login in DEMO_LOGINS:
            if login.role in ROLES:
                for purpose in ("main", "session-ending"):
                    answer = httpx.post(
                        f"{server.url}/api/auth/login",
                        json={"email": login.email, "password": login.password},
                        timeout=20,
                    )
                    assert answer.status_code == 200, answer.text
                    self.tokens[(login.role, purpose)] = answer.json()["token"]


@contextmanager
def seeded_world(settings: Settings) -> Iterator[World]:
    async def seed() -> None:
        db = Database(settings.database)
        try:
            await ensure_schema(db)
            await seed_demo(db)
        finally:
            await db.dispose()

    asyncio.run(seed())
    with LiveServer(create_app(settings, check_schema=False)) as server:
        yield World(server)


def schemathesis(
    world: World, token: str, examples: int, phases: str, *operations: str, skip: bool, cwd: Path
) -> None:
    """One ``st run`` over the operations (all of them but ``operations`` when ``skip``)."""
    select = "--exclude-operation-id" if skip else "--include-operation-id"
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        "--no-color",
        f"{world.url}/api/openapi.json",
        f"--header=Authorization: Bearer {token}",
        f"--checks={','.join(CHECKS)}",
        f"--phases={phases}",
        f"--seed={SEED}",
        f"--max-examples={examples}",
        "--workers=1",  # CPython 3.11's ast.parse is not thread-safe, and Hypothesis calls it
        "--request-timeout=20",
        "--output-truncate=true",
        *(arg for name in operations for arg in (select, name)),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    report = done.stdout + done.stderr
    saved = cwd / f"schemathesis-{len(list(cwd.glob('schemathesis-*.txt')))}.txt"
    saved.write_text(report)
    if done.returncode != 0:
        # The failures (each with a curl line to reproduce it) and errors, then the summary.
        starts = [report.find(h) for h in ("=== ERRORS ===", "=== FAILURES ===") if h in report]
        shown = report[min(starts, default=0) :]
        pytest.fail(f"schemathesis found problems (seed {SEED}, full report {saved}):\n{shown[:40000]}")
    assert "Tested:" in report, report[-3000:]


def fuzz(world: World, examples: int, *, sweep: bool, cwd: Path) -> None:
    """Each role over every operation; with ``sweep``, the organizer (who reaches the most code)
    also gets the coverage phase: every boundary and type violation of every field, ~2 minutes."""
    for role in ROLES:
        phases = "examples,coverage,fuzzing" if sweep and role is Role.ORGANIZER else "examples,fuzzing"
        main = world.tokens[(role, "main")]
        schemathesis(world, main, examples, phases, *SESSION_ENDING, skip=True, cwd=cwd)
        ending = world.tokens[(role, "session-ending")]
        schemathesis(world, ending, examples, phases, *SESSION_ENDING, skip=False, cwd=cwd)


def test_every_operation_answers_as_documented_on_sqlite(tmp_path: Path) -> None:
    with seeded_world(make_settings(tmp_path)) as world:
        fuzz(world, EXAMPLES, sweep=True, cwd=tmp_path)


def test_every_operation_answers_as_documented_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    with seeded_world(make_settings(tmp_path, database_url=postgres_url)) as world:
        fuzz(world, PG_EXAMPLES, sweep=False, cwd=tmp_path)
