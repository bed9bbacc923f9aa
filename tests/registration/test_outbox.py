"""The outbox against a real SMTP server (aiosmtpd on loopback): delivery, retries with backoff,
giving up, several senders never sending one message twice (SQLite and PostgreSQL), and the
platform's sender task delivering a registration's confirmation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.app import create_app
from expo.config import Settings
from expo.db import Database, utcnow
from expo.expos.services import ensure_expo
from expo.mail import outbox
from expo.mail.models import OutboxMessage, OutboxStatus
from tests.booths.web import make_account
from tests.conftest import create_schema, free_port, make_settings
from tests.registration.conftest import bearer, make_fair


class Inbox:
    """An aiosmtpd handler keeping what it receives; ``refuse`` makes it answer 550 to DATA."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], Any]] = []
        self.refuse = False
        self.arrived = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.refuse:
            return "550 mailbox unavailable"
        assert isinstance(envelope.content, bytes)
        self.received.append(
            (envelope.mail_from or "", list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.arrived.set)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    await create_schema(settings.database)
    database = Database(settings.database)
    yield database
    await database.dispose()


async def queue(db: Database, count: int) -> None:
    async with db.session() as session:
        for n in range(count):
            await outbox.enqueue(session, to=f"v{n}@example.com", subject=f"Hello {n}", body=f"Body {n}\n")
        await session.commit()


async def stored(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def test_a_queued_message_is_delivered_once_and_marked_sent(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    await queue(db, 1)
    sender = outbox.OutboxSender(db, f"smtp://127.0.0.1:{port}", "expo@example.com")
    assert await sender.run_once() == 1
    assert await sender.run_once() == 0
    [(mail_from, to, email)] = inbox.received
    assert mail_from == "expo@example.com" and to == ["v0@example.com"]
    assert email["Subject"] == "Hello 0" and email.get_payload(decode=True).decode().strip() == "Body 0"
    [message] = await stored(db)
    assert message.status == "sent" and message.sent_at is not None and message.attempts == 1


async def test_a_refused_message_is_retried_with_backoff_then_marked_failed(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.refuse = True
    await queue(db, 1)
    sender = outbox.OutboxSender(db, f"smtp://127.0.0.1:{port}", "expo@example.com")
    before = utcnow()
    assert await sender.run_once() == 1
    [message] = await stored(db)
    assert message.status == "queued" and message.attempts == 1 and "550" in message.last_error
    assert message.next_attempt_at >= before + outbox.backoff(1)
    assert await sender.run_once() == 0  # not due yet
    async with db.session() as session:  # the backoff has passed, and this is the last attempt
        message.attempts = outbox.MAX_ATTEMPTS - 1
        message.next_attempt_at = utcnow()
        session.add(message)
        await session.commit()
    assert await sender.run_once() == 1
    [message] = await stored(db)
    assert message.status == OutboxStatus.FAILED.value and message.attempts == outbox.MAX_ATTEMPTS
    inbox.refuse = False
    async with db.session() as session:
        await outbox.retry(session, message)
    assert await sender.run_once() == 1
    assert (await stored(db))[0].status == "sent" and len(inbox.received) == 1


async def test_a_sent_message_is_never_sent_again(db: Database, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    await queue(db, 1)
    sender = outbox.OutboxSender(db, f"smtp://127.0.0.1:{port}", "expo@example.com")
    assert await sender.run_once() == 1
    async with db.session() as session:  # long after: the sender's claim on it has run out
        [message] = await stored(db)
        message.next_attempt_at = utcnow() - timedelta(hours=1)
        session.add(message)
        await session.commit()
    assert await sender.run_once() == 0
    assert len(inbox.received) == 1


async def test_an_attachment_arrives_with_its_type_and_name(db: Database, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    invite = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    async with db.session() as session:
        await outbox.enqueue(
            session,
            to="ann@example.com",
            subject="Your session",
            body="Add it to your calendar.\n",
            attachment=outbox.Attachment(name="session.ics", media_type="text/calendar", text=invite),
        )
        await session.commit()
    sender = outbox.OutboxSender(db, f"smtp://127.0.0.1:{port}", "expo@example.com")
    assert await sender.run_once() == 1
    [(_, _, email)] = inbox.received
    [part] = [p for p in email.walk() if p.get_filename()]
    assert (part.get_content_type(), part.get_filename()) == ("text/calendar", "session.ics")
    assert part.get_payload(decode=True).decode() == invite


async def test_a_failed_delivery_is_logged_with_its_message_and_error(
    db: Database, smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp
    inbox.refuse = True
    await queue(db, 1)
    sender = outbox.OutboxSender(db, f"smtp://127.0.0.1:{port}", "expo@example.com")
    with caplog.at_level(logging.WARNING, logger="expo.outbox"):
        await sender.run_once()
    [message] = await stored(db)
    [record] = [r for r in caplog.records if r.name == "expo.outbox"]
    assert record.getMessage() == "outbox delivery failed"
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["id"] == message.id and "550" in fields["error"]


async def test_the_outbox_list_filters_by_expo_status_and_text_newest_first(db: Database) -> None:
    async with db.session() as session:
        fair = await ensure_expo(session, "fair", "Fair")
        other = await ensure_expo(session, "other", "Other")
        assert fair.id is not None and other.id is not None
        sent = await outbox.enqueue(
            session, to="Ann@Example.com", subject="Your seat", body=".", expo_id=fair.id
        )
        sent.status = OutboxStatus.SENT.value
        await outbox.enqueue(
            session, to="bob@example.com", subject="Badge for ANN", body=".", expo_id=fair.id
        )
        await outbox.enqueue(session, to="carl@example.com", subject="Your seat", body=".", expo_id=other.id)
        await outbox.enqueue(session, to="ann@example.com", subject="Password reset", body=".")
        await session.commit()

        def seen(found: tuple[int, list[OutboxMessage]]) -> tuple[int, list[str]]:
            return found[0], [m.to_address for m in found[1]]

        everything = ["ann@example.com", "carl@example.com", "bob@example.com", "Ann@Example.com"]
        assert seen(await outbox.list_messages(session)) == (4, everything)
        fairs = await outbox.list_messages(session, expo_ids=[fair.id])
        assert seen(fairs) == (2, ["bob@example.com", "Ann@Example.com"])
        assert seen(await outbox.list_messages(session, status=OutboxStatus.SENT)) == (1, ["Ann@Example.com"])
        queued = await outbox.list_messages(session, status=OutboxStatus.QUEUED, q="ann")
        assert seen(queued) == (2, ["ann@example.com", "bob@example.com"])  # address or subject
        assert seen(await outbox.list_messages(session, q="SEAT", expo_ids=[other.id])) == (
            1,
            ["carl@example.com"],
        )
        for n in range(outbox.PAGE_SIZE):
            await outbox.enqueue(session, to=f"v{n}@example.com", subject="Hello", body=".")
        await session.commit()
        total, second = await outbox.list_messages(session, page=2)
        assert total == outbox.PAGE_SIZE + 4 and [m.to_address for m in second] == everything


async def test_an_unreachable_server_is_an_error_on_the_message_not_a_crash(db: Database) -> None:
    await queue(db, 1)
    sender = outbox.OutboxSender(db, f"smtp://127.0.0.1:{free_port()}", "expo@example.com")
    assert await sender.run_once() == 1
    [message] = await stored(db)
    assert message.status == "queued" and message.last_error


async def senders_share_the_queue(db: Database, port: int, inbox: Inbox) -> None:
    await queue(db, 30)
    senders = [outbox.OutboxSender(db, f"smtp://127.0.0.1:{port}", "expo@example.com") for _ in range(3)]
    tried = await asyncio.gather(*(s.run_once() for s in senders))
    assert sum(tried) == 30
    recipients = sorted(to[0] for _, to, _ in inbox.received)
    assert recipients == sorted(f"v{n}@example.com" for n in range(30))
    assert {m.status for m in await stored(db)} == {"sent"}
    assert {m.attempts for m in await stored(db)} == {1}


async def test_several_senders_never_send_a_message_twice_sqlite(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    await senders_share_the_queue(db, smtp[1], smtp[0])


async def test_several_senders_never_send_a_message_twice_postgresql(
    postgres_url: str, smtp: tuple[Inbox, int]
) -> None:
    await create_schema(postgres_url)
    db = Database(postgres_url)
    try:
        await senders_share_the_queue(db, smtp[1], smtp[0])
    finally:
        await db.dispose()


async def test_the_platform_sends_a_registration_confirmation(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.loop = asyncio.get_running_loop()
    settings = make_settings(tmp_path, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="fair@example.com")
    await create_schema(settings.database)
    app: Starlette = create_app(settings, check_schema=False)
    async with app.router.lifespan_context(app):
        app.state.platform.outbox.interval = 0.05
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await make_fair(app)
            await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
            ann = await bearer(client, "ann@example.com")
            made = await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)
            assert made.status_code == 201
            await asyncio.wait_for(inbox.arrived.wait(), 10)
    [(mail_from, to, email)] = inbox.received
    assert mail_from == "fair@example.com" and to == ["ann@example.com"]
    assert email["Subject"] == "You are registered for Spring Fair"
    assert "http://testserver/expos/fair/badge" in email.get_payload(decode=True).decode()
    assert app.state.platform.outbox._task is None  # stopped with the app


def test_smtp_settings_are_checked_at_start_up(tmp_path: Path) -> None:
    from expo.errors import ConfigError

    with pytest.raises(ConfigError, match="smtp_url"):
        make_settings(tmp_path, smtp_url="http://mail.example.com")
    with pytest.raises(ConfigError, match="mail_from"):
        make_settings(tmp_path, smtp_url="smtp://mail.example.com:587")
    target = outbox.SmtpTarget.parse("smtps://ann%40x:p%3Ass@mail.example.com")
    assert (target.host, target.port, target.use_tls, target.username, target.password) == (
        "mail.example.com",
        465,
        True,
        "ann@x",
        "p:ss",
    )
    assert outbox.backoff(3) == timedelta(minutes=2)
