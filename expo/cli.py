"""The ``expo`` command: serve the platform, migrate the store, manage users, run the demo.

Every command takes ``--config PATH`` (before or after the command name); ``EXPO_*`` variables
override the file. Exit status: 0 success, 1 the operation failed (duplicate user, unreachable
store), 2 bad usage or configuration (the message names the setting or argument).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from booths import search_bits
from expo.accounts.models import Role
from expo.config import SETTINGS, Settings, load_settings
from expo.db import Database
from expo.errors import ConfigError, ExpoError, Invalid
from expo.logs import configure_logging

T = TypeVar("T")
Command = Callable[[argparse.Namespace], int]

USAGE_ERROR = 2
FAILURE = 1
MAX_RESTARTS = 10  # workers started again within a minute before `expo serve --workers` gives up
_DEFAULTS = Settings.__dataclass_fields__
_DEFAULT_PUBLIC_URL = _DEFAULTS["public_url"].default
_DEFAULT_LISTEN = (_DEFAULTS["host"].default, _DEFAULTS["port"].default)


class CommandFailed(Exception):
    """Ends a command with ``error: <message>`` on stderr and the given exit status."""

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.status = status


def main(argv: list[str] | None = None) -> int:
    """Run one ``expo`` command and return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    command: Command = args.run
    try:
        return command(args)
    except ConfigError as exc:
        return _fail(str(exc), USAGE_ERROR)
    except CommandFailed as exc:
        return _fail(str(exc), exc.status)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`expo settings | head`). Point stdout at /dev/null so the
        # interpreter's final flush does not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILURE


def _fail(message: str, status: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


# Settings -----------------------------------------------------------------------------------------


def load(args: argparse.Namespace, *, host: str | None = None, port: int | None = None) -> Settings:
    """Settings from ``--config`` (or ``EXPO_CONFIG``, or ``./config.toml``), the environment and flags."""
    settings = load_settings(args.config or os.environ.get("EXPO_CONFIG") or None)
    changes: dict[str, Any] = {}
    if host:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    if changes:
        settings = settings.replace(**changes)
    if settings.public_url == _DEFAULT_PUBLIC_URL and (settings.host, settings.port) != _DEFAULT_LISTEN:
        # public_url left at its default follows where the server listens, so that
        # `expo demo --port 9000` prints links that work.
        shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
        shown = f"[{shown}]" if ":" in shown else shown
        settings = settings.replace(public_url=f"http://{shown}:{settings.port}")
    return settings


def run_on_store(settings: Settings, work: Callable[[Database], Awaitable[T]], *, upgrade: bool = False) -> T:
    """Run ``work`` on the configured store, created and migrated first when it is empty.

    With ``upgrade``, a store behind the code is migrated too instead of refused.
    """
    from expo import migrations

    async def go() -> T:
        db = Database(settings.database)
        try:
            if upgrade:
                await migrations.upgrade(settings.database)
            else:
                await migrations.ensure_schema(db)
            return await work(db)
        finally:
            await db.dispose()

    with store_errors(settings):
        return asyncio.run(go())


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Report a store that cannot be reached as one line, not a driver traceback."""
    try:
        yield
    except (OSError, OperationalError) as exc:  # server down or unknown, file not writable
        where = _masked_url(settings.database)
        raise CommandFailed(f"the store {where} is not reachable: {exc}") from None


# serve and demo -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load(args, host=args.host, port=args.port)
    if args.workers is not None:
        settings = settings.replace(workers=args.workers)  # validated: more than 1 needs Redis
    configure_logging(settings.log_level, settings.log_format)
    run_on_store(settings, _nothing)  # an outdated store is refused here, before uvicorn starts
    if settings.workers > 1:
        return serve_workers(settings)
    return serve(settings)


async def _nothing(db: Database) -> None:
    return None


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not listening yet: uvicorn does that), with
    ``reuse_port`` shared with the other worker processes (``SO_REUSEPORT``: the kernel spreads
    new connections over them). ``CommandFailed`` if the address is taken or unknown."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CommandFailed(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CommandFailed(f"cannot listen on {host}:{port}: {exc}") from None
    return sock


def serve(settings: Settings, *, reuse_port: bool = False) -> int:
    """Serve the platform with uvicorn until interrupted, on the public port and on a private one
    (``relay_host``, a port of its own) where the other server processes reach this one."""
    # Imported here: the other commands need neither the web app nor the server.
    import uvicorn

    from expo.app import create_app
    from expo.wsprotocol import uvicorn_websocket_options
    from streaming.cluster import Cluster

    public = listening_socket(settings.host, settings.port, reuse_port=reuse_port)
    try:
        private = listening_socket(settings.relay_host, 0)
    except CommandFailed:
        public.close()
        raise
    app = create_app(settings)
    app.state.platform.get(Cluster).listen_on(settings.relay_host, private.getsockname()[1])
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,  # BoundaryMiddleware writes the access log
        **uvicorn_websocket_options(),
        lifespan="on",
        log_config=None,  # keep the logging configure_logging set up
        log_level=settings.log_level,
        server_header=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[public, private])
    finally:
        public.close()
        private.close()
    return 0 if server.started else FAILURE


def _serve_worker(settings: Settings) -> None:
    """One worker process of ``expo serve --workers N`` (started by :func:`serve_workers`)."""
    configure_logging(settings.log_level, settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(serve(settings, reuse_port=True))


def serve_workers(settings: Settings) -> int:
    """Run ``settings.workers`` server processes on one port and supervise them.

    This process binds nothing: each worker binds the port with ``SO_REUSEPORT`` and serves
    every stream and room (see ``streaming.cluster``). SIGTERM and SIGINT are passed on to the
    workers (as SIGTERM: a graceful stop), and this process exits once they all have. A worker
    that dies on its own is reported and started again, unless workers keep dying (more than
    :data:`MAX_RESTARTS` a minute): then all are stopped and the exit status is 1.
    """
    import multiprocessing
    import multiprocessing.connection
    from multiprocessing.process import BaseProcess

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited event loop
    workers: dict[int, BaseProcess] = {}
    stopping = False
    failed = False
    restarts: list[float] = []

    def start(slot: int) -> None:
        worker = context.Process(target=_serve_worker, args=(settings,), name=f"expo-worker-{slot}")
        worker.start()
        workers[slot] = worker

    def stop_all(signum: int = signal.SIGTERM, frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers.values():
            if worker.pid is not None and worker.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    for slot in range(settings.workers):
        start(slot)
    print(f"expo: {settings.workers} workers on {settings.host}:{settings.port}", file=sys.stderr, flush=True)
    while workers:
        multiprocessing.connection.wait([w.sentinel for w in workers.values()])
        for slot, worker in list(workers.items()):
            if worker.exitcode is None:
                continue
            del workers[slot]
            if stopping:
                continue
            print(
                f"expo: worker {slot} (pid {worker.pid}) exited with status {worker.exitcode}",
                file=sys.stderr,
            )
            now = time.monotonic()
            restarts[:] = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > MAX_RESTARTS:
                print("expo: workers keep exiting; stopping", file=sys.stderr)
                failed = True
                stop_all()
            else:
                start(slot)
    return FAILURE if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from expo.demo import seed_demo
    from streaming import room_services

    settings = load(args, host=args.host, port=args.port)
    configure_logging(settings.log_level, settings.log_format)
    # The demo's store is a convenience: after a code update, `scripts/demo` just carries it along.
    info = run_on_store(settings, lambda db: seed_demo(db, settings), upgrade=True)
    print(f"{info.expo.title} is at {settings.url('/')}")
    print("Logins (e-mail / password):")
    for login in info.logins:
        print(f"  {login.role.value:<10} {login.email:<24} {login.password}")
    print(f"Live broadcast: {settings.url(f'/watch/{info.broadcast.id}')}")
    room_urls = room_services.room_urls(settings, info.room)
    print(f"Telepresence room: {room_urls.host_url} (host), {room_urls.guest_url} (guests)")
    sys.stdout.flush()
    # The synthetic broadcaster publishes over WHIP to this very server, as an outside encoder
    # would (it retries until the server is up).
    from streaming.broadcaster import BroadcasterThread

    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    local = f"[{local}]" if ":" in local else local
    whip_url = f"http://{local}:{settings.port}/api/streams/{info.broadcast.id}/whip"
    broadcaster = BroadcasterThread(whip_url, info.broadcast.key)
    broadcaster.start()
    try:
        return serve(settings)
    finally:
        broadcaster.stop()


# db -----------------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from alembic.util import CommandError

    from expo.migrations import current_revision, upgrade

    settings = load(args)

    async def go() -> tuple[str | None, str | None]:
        db = Database(settings.database)
        try:
            before = await current_revision(db)
            await upgrade(settings.database)
            return before, await current_revision(db)
        finally:
            await db.dispose()

    try:
        with store_errors(settings):
            before, after = asyncio.run(go())
    except CommandError as exc:
        raise CommandFailed(f"cannot upgrade {_masked_url(settings.database)}: {exc}") from None
    if before == after:
        print(f"the store is already at revision {after} (head)")
    else:
        print(f"upgraded the store from revision {before or '(empty)'} to {after}")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    from expo.migrations import make_revision

    path = asyncio.run(make_revision(args.message))
    print(f"wrote {path}: review it before committing")
    return 0


# users --------------------------------------------------------------------------------------------


def read_password() -> str:
    """The password: typed at a hidden prompt on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users_create(args: argparse.Namespace) -> int:
    from expo.accounts import services

    settings = load(args)
    password = read_password()
    if not password:
        raise CommandFailed(
            "no password given: write it to stdin, "
            "e.g. `printf '%s\\n' \"$PASSWORD\" | expo users create ...`",
            USAGE_ERROR,
        )
    try:
        # Checked before anything touches the store.
        email = services.normalise_email(args.email)
        services.check_password(password)
    except Invalid as exc:
        raise CommandFailed(exc.message, USAGE_ERROR) from None

    async def create(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            user = await services.create_user(
                session, email=email, password=password, role=args.role, name=args.name or ""
            )
        return {"id": user.id, "email": user.email, "role": user.role, "name": user.name}

    try:
        created = run_on_store(settings, create)
    except Invalid as exc:
        raise CommandFailed(exc.message, USAGE_ERROR) from None
    except ExpoError as exc:
        raise CommandFailed(exc.message) from None
    print(json.dumps(created))
    return 0


# streams ------------------------------------------------------------------------------------------


def cmd_streams_create(args: argparse.Namespace) -> int:
    from streaming import services
    from streaming.cli import create_stream

    return _create_and_print(args, services.check_title, create_stream)


def cmd_rooms_create(args: argparse.Namespace) -> int:
    from streaming import room_services
    from streaming.cli import create_room

    return _create_and_print(args, room_services.check_title, create_room)


def _create_and_print(
    args: argparse.Namespace,
    check_title: Callable[[str], str],
    create: Callable[[Database, Settings, str, str | None], Awaitable[dict[str, Any]]],
) -> int:
    """``streams create`` and ``rooms create``: the title is checked before anything touches the
    store, then the thing is created and its contract object printed as JSON."""
    settings = load(args)
    try:
        title = check_title(args.title)
        created = run_on_store(settings, lambda db: create(db, settings, title, args.expo))
    except Invalid as exc:
        raise CommandFailed(exc.message, USAGE_ERROR) from None
    except ExpoError as exc:
        raise CommandFailed(exc.message) from None
    print(json.dumps(created))
    return 0


# catalog ------------------------------------------------------------------------------------------


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from booths import catalog
    from expo.expos import services as expos

    settings = load(args)
    try:
        expos.check_slug(args.expo)
        with open(args.file, "rb") as f:
            data = f.read(catalog.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CommandFailed(f"cannot read {args.file}: {exc.strerror}", USAGE_ERROR) from None
    except Invalid as exc:
        raise CommandFailed(exc.message, USAGE_ERROR) from None
    try:
        # Every row is checked before the store is touched: a bad file changes nothing.
        rows = catalog.parse_catalog(data)
    except ExpoError as exc:
        for problem in exc.extra.get("details") or []:
            print(f"{args.file}:{problem['line']}: {problem['message']}", file=sys.stderr)
        raise CommandFailed(f"{args.file}: {exc.message}") from None

    async def work(db: Database) -> catalog.Summary:
        async with db.session() as session:
            expo = await expos.ensure_expo(session, args.expo, args.expo)
            return await catalog.import_catalog(session, expo, rows)

    try:
        summary = run_on_store(settings, work)
    except ExpoError as exc:
        raise CommandFailed(exc.message) from None
    print(
        f"imported {summary.products_created} products into {summary.booths_used} booths of expo "
        f"{args.expo!r}: {summary.booths_created} booths and {summary.categories_created} categories created"
    )
    return 0


def cmd_catalog_index(args: argparse.Namespace) -> int:
    from expo.expos import services as expos

    settings = load(args)
    if args.min_docs < 1:
        raise CommandFailed("--min-docs must be at least 1", USAGE_ERROR)

    async def work(db: Database) -> search_bits.Rebuilt | None:
        async with db.session() as session:
            expo = await expos.get_expo(session, args.expo)
            assert expo.id is not None
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                return None
            rebuilt = await search_bits.rebuild(connection, expo.id, args.min_docs)
            await session.commit()
            return rebuilt

    try:
        rebuilt = run_on_store(settings, work)
    except ExpoError as exc:
        raise CommandFailed(exc.message) from None
    if rebuilt is None:
        print("SQLite counts from its own index: nothing to do")
    else:
        print(
            f"expo {args.expo!r}: {rebuilt.documents} documents, {rebuilt.terms} terms in "
            f"{args.min_docs}+ of them, {rebuilt.chunks} bitmap chunks"
        )
    return 0


# settings -----------------------------------------------------------------------------------------


def cmd_settings(args: argparse.Namespace) -> int:
    settings = load(args)
    print(f"# effective settings: {settings.source}, then EXPO_* environment variables")
    for spec in SETTINGS:
        value = getattr(settings, spec.name)
        if spec.name == "secret_key" and value:
            shown = '"********"'
        elif spec.name in ("database_url", "bus_url") and value:
            shown = json.dumps(_masked_url(value))
        else:
            shown = json.dumps(value)
        note = f"  # effective: {_masked_url(settings.database)}" if spec.name == "database_url" else ""
        print(f"\n# {spec.metadata['help']} (env EXPO_{spec.name.upper()})")
        print(f"{spec.name} = {shown}{note}")
    return 0


def _masked_url(url: str) -> str:
    if url.startswith(("sqlite", "postgresql")):
        return make_url(url).render_as_string(hide_password=True)
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# parser -------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # --config is accepted before and after the command; SUPPRESS keeps a command's parser from
    # resetting a value given before the command name.
    config_help = "config.toml to read (default: $EXPO_CONFIG, else ./config.toml if present)"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=config_help)
    parser = argparse.ArgumentParser(prog="expo", description="Self-hostable virtual expo platform.")
    parser.add_argument("--config", metavar="PATH", default=None, help=config_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(group: Any, name: str, run: Command, help: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    def listen_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--host", help="interface to bind (setting: host)")
        sub.add_argument("--port", type=int, help="TCP port (setting: port)")

    serve_command = command(commands, "serve", cmd_serve, "Serve the platform.")
    listen_options(serve_command)
    serve_command.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port; more than 1 needs a redis:// bus_url (setting: workers)",
    )
    demo_help = "Create the demo expo (idempotent), print its logins and serve it."
    listen_options(command(commands, "demo", cmd_demo, demo_help))

    db = commands.add_parser("db", parents=[common], help="Manage the store's schema.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    command(db_commands, "upgrade", cmd_db_upgrade, "Migrate the store to the newest schema.")
    revision_help = "For developers: write a migration for changed models (no store needed)."
    revision = command(db_commands, "revision", cmd_db_revision, revision_help)
    revision.add_argument("--message", "-m", required=True, help="what the migration does")

    users = commands.add_parser("users", parents=[common], help="Manage accounts.")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    create = command(
        user_commands, "create", cmd_users_create, "Create an account; the password is read from stdin."
    )
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--name", default="", help="display name (default: the e-mail's local part)")

    # `streams create` and `rooms create` take the same arguments.
    for noun, what, run, created in [
        (
            "streams",
            "live broadcasts",
            cmd_streams_create,
            "a broadcast; print its id, key (the WHIP bearer token) and URLs as JSON.",
        ),
        (
            "rooms",
            "telepresence rooms",
            cmd_rooms_create,
            "a telepresence room; print its id and host and guest page URLs as JSON.",
        ),
    ]:
        group = commands.add_parser(noun, parents=[common], help=f"Manage {what}.")
        group_commands = group.add_subparsers(dest=f"{noun}_command", required=True, metavar="COMMAND")
        create_one = command(group_commands, "create", run, f"Create {created}")
        create_one.add_argument("--title", required=True)
        create_one.add_argument("--expo", metavar="SLUG", help="expo slug (default: setting default_expo)")

    catalog = commands.add_parser("catalog", parents=[common], help="Manage product catalogues.")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND")
    catalog_import = command(
        catalog_commands,
        "import",
        cmd_catalog_import,
        "Import products from a UTF-8 CSV file (columns booth,product,description,category,"
        "price_min,price_max,currency,moq); creates the expo and booths when missing. All or nothing.",
    )
    catalog_import.add_argument("--expo", required=True, metavar="SLUG", help="the expo to import into")
    catalog_import.add_argument("file", metavar="FILE.csv", help="the catalogue")
    catalog_index = command(
        catalog_commands,
        "index",
        cmd_catalog_index,
        "PostgreSQL: choose an expo's common search terms and build their bitmaps, so that searches "
        "for them are counted without reading the table. Run after large imports; writers wait meanwhile.",
    )
    catalog_index.add_argument("--expo", required=True, metavar="SLUG", help="the expo to index")
    catalog_index.add_argument(
        "--min-docs",
        type=int,
        default=search_bits.MIN_DOCS,
        metavar="N",
        help=f"a term is common when at least N documents match it (default {search_bits.MIN_DOCS})",
    )

    command(commands, "settings", cmd_settings, "Print every setting with its effective value and help.")
    return parser
