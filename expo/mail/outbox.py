"""The outbox: e-mails written in the transaction of the change they report, delivered later.

Writing a message is part of the caller's transaction (:func:`enqueue`), so a confirmation exists
exactly when the registration it confirms does. Delivery is the :class:`OutboxSender`'s, a task the
platform starts when ``smtp_url`` is set: it claims one due message at a time with a conditional
``UPDATE`` (only one process wins a message, so none is sent twice), sends it with aiosmtplib and
marks it ``sent``, or schedules a retry with exponential backoff and marks it ``failed`` after the
last attempt. A process that dies mid-send leaves its claim to expire (``LEASE``) and the message
is tried again. Without SMTP, messages stay ``queued`` and organizers read them on the outbox page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import delete, update
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.db import Database, utcnow
from expo.mail.models import OutboxMessage, OutboxStatus
from expo.periodic import Periodic

log = logging.getLogger("expo.outbox")

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=5)  # longer than any one SMTP exchange (timeout below)
SMTP_TIMEOUT = 30.0
PAGE_SIZE = 50


async def enqueue(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    body: str,
    expo_id: int | None = None,
    user_id: int | None = None,
    attachment: Attachment | None = None,
    send_at: datetime | None = None,
) -> OutboxMessage:
    """Add a message to ``session``; it exists once the caller commits its own change. ``send_at``
    holds it back until then (a reminder); ``attachment`` goes along as a file."""
    message = OutboxMessage(
        to_address=to[:254],
        subject=" ".join(subject.split())[:300],
        body=body,
        expo_id=expo_id,
        user_id=user_id,
    )
    if attachment is not None:
        message.attachment_name = attachment.name[:120]
        message.attachment_type = attachment.media_type[:100]
        message.attachment = attachment.text
    if send_at is not None:
        message.next_attempt_at = send_at
    session.add(message)
    return message


async def withdraw(session: AsyncSession, message_id: int | None) -> None:
    """Take back a message held for later (a reminder of something cancelled or moved) in the
    caller's transaction, if no sender has claimed it yet: one being sent or delivered stays in the
    outbox's history (deleting a claimed one would break its sender's bookkeeping)."""
    if message_id is None:
        return
    await session.exec(
        delete(OutboxMessage).where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.status) == OutboxStatus.QUEUED.value,
            col(OutboxMessage.attempts) == 0,
        )
    )


@dataclass(frozen=True)
class Attachment:
    """A text file sent with a message, such as an iCalendar invitation (``text/calendar``)."""

    name: str
    media_type: str
    text: str


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to deliver, parsed from ``smtp_url``."""

    host: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        use_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if use_tls else 587),
            use_tls=use_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s, 1 min, 2 min, 4 min ..."""
    return timedelta(seconds=30 * 2 ** max(attempts - 1, 0))


async def claim(session: AsyncSession, now: datetime) -> OutboxMessage | None:
    """Claim the oldest due message for this sender, or ``None``; concurrent senders never share one."""
    while True:
        candidate = (
            await session.exec(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == OutboxStatus.QUEUED.value, OutboxMessage.next_attempt_at <= now
                )
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(1)
            )
        ).first()
        if candidate is None:
            return None
        # The WHERE repeats the check: of several processes reading the same candidate, one updates it.
        won = await session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == candidate,
                col(OutboxMessage.status) == OutboxStatus.QUEUED.value,
                col(OutboxMessage.next_attempt_at) <= now,
            )
            .values(next_attempt_at=now + LEASE, attempts=col(OutboxMessage.attempts) + 1)
        )
        await session.commit()
        if won.rowcount == 1:
            return await session.get(OutboxMessage, candidate, populate_existing=True)


async def record_result(session: AsyncSession, message: OutboxMessage, error: str | None) -> OutboxMessage:
    """Mark ``message`` sent, or schedule its retry (``failed`` after :data:`MAX_ATTEMPTS`)."""
    now = utcnow()
    if error is None:
        message.status = OutboxStatus.SENT.value
        message.sent_at = now
        message.last_error = ""
    else:
        message.last_error = error[:1000]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = OutboxStatus.FAILED.value
        else:
            message.next_attempt_at = now + backoff(message.attempts)
    session.add(message)
    await session.commit()
    return message


async def retry(session: AsyncSession, message: OutboxMessage) -> OutboxMessage:
    """Queue a failed message again at once (an organizer fixed the address or the server)."""
    message.status = OutboxStatus.QUEUED.value
    message.attempts = 0
    message.next_attempt_at = utcnow()
    session.add(message)
    await session.commit()
    return message


def to_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(message.body)
    if message.attachment_name:
        maintype, _, subtype = message.attachment_type.partition("/")
        email.add_attachment(
            message.attachment.encode(),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=message.attachment_name,
        )
    return email


async def deliver(target: SmtpTarget, sender: str, message: OutboxMessage) -> None:
    """One SMTP exchange; raises on any failure (refused recipient, network, authentication)."""
    kwargs: dict[str, Any] = {
        "hostname": target.host,
        "port": target.port,
        "use_tls": target.use_tls,
        "timeout": SMTP_TIMEOUT,
    }
    if target.username:
        kwargs |= {"username": target.username, "password": target.password or ""}
    await aiosmtplib.send(to_email(message, sender), **kwargs)


class OutboxSender(Periodic):
    """Delivers queued messages while the platform runs; :meth:`start` and :meth:`stop` own its task.

    :meth:`run_once` sends everything due and returns how many were tried: the task loops over it,
    waking every ``interval`` seconds.
    """

    def __init__(self, db: Database, smtp_url: str, mail_from: str, interval: float = 5.0) -> None:
        super().__init__("outbox-sender", interval, at_once=True)
        self.db = db
        self.target = SmtpTarget.parse(smtp_url)
        self.mail_from = mail_from

    async def run_once(self) -> int:
        tried = 0
        while True:
            # No transaction stays open during the SMTP exchange: claim, send, then record.
            async with self.db.session() as session:
                message = await claim(session, utcnow())
            if message is None:
                return tried
            tried += 1
            error: str | None = None
            try:
                await deliver(self.target, self.mail_from, message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox delivery failed", extra={"fields": {"id": message.id, "error": error}})
            async with self.db.session() as session:
                await record_result(session, message, error)


async def list_messages(
    session: AsyncSession,
    *,
    expo_ids: Sequence[int] | None = None,
    status: OutboxStatus | None = None,
    q: str = "",
    page: int = 1,
) -> tuple[int, list[OutboxMessage]]:
    """Messages newest first: of the expos in ``expo_ids`` (every message, those of no expo too,
    when ``None``), optionally of one status or with an address or subject containing ``q``."""
    query = select(OutboxMessage)
    if expo_ids is not None:
        query = query.where(col(OutboxMessage.expo_id).in_(expo_ids))
    if status is not None:
        query = query.where(OutboxMessage.status == status.value)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(OutboxMessage.to_address).like(pattern),
                func.lower(OutboxMessage.subject).like(pattern),
            )
        )
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = await session.exec(
        query.order_by(col(OutboxMessage.id).desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    )
    return int(total), list(rows.all())
