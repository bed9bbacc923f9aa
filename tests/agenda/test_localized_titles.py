"""A Chinese reader sees the organizers' Chinese titles: the program's on the agenda, its page and
the visitor's own agenda, the broadcast's in the home page's "Live now" strip; an English reader
sees the stored ones."""

from __future__ import annotations

import secrets
from datetime import timedelta

from starlette.applications import Starlette

from expo.agenda.models import Program
from expo.db import utcnow
from expo.expos import services as expos
from streaming.models import Stream, StreamStatus
from tests.booths.web import browser

CHINESE = {"accept-language": "zh-CN"}


async def seed(app: Starlette) -> tuple[int, int]:
    """The expo "fair" (English and Chinese) with a program tomorrow and a public broadcast live now."""
    now = utcnow()
    async with app.state.platform.db.session() as s:
        expo = await expos.ensure_expo(s, "fair", "Lighting Fair", timezone="Asia/Shanghai")
        expo.translations = {"zh_Hans": {"title": "照明展"}}
        s.add(expo)
        assert expo.id is not None
        program = Program(
            expo_id=expo.id,
            title="Opening keynote",
            translations={"zh_Hans": {"title": "开幕主旨演讲"}},
            starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=1, hours=1),
        )
        stream = Stream(
            expo_id=expo.id,
            title="Lamp factory tour",
            translations={"zh_Hans": {"title": "灯具工厂参观"}},
            key=secrets.token_urlsafe(32),
            status=StreamStatus.LIVE.value,
            started_at=now,
        )
        s.add_all([program, stream])
        await s.commit()
        assert program.id is not None and stream.id is not None
        return program.id, stream.id


async def test_a_chinese_reader_sees_chinese_program_and_broadcast_titles(app: Starlette) -> None:
    program_id, stream_id = await seed(app)
    async with browser(app) as reader:
        agenda_zh = (await reader.get("/expos/fair/agenda", headers=CHINESE)).text
        program_zh = (await reader.get(f"/expos/fair/agenda/{program_id}", headers=CHINESE)).text
        home_zh = (await reader.get("/", headers=CHINESE)).text
        agenda_en = (await reader.get("/expos/fair/agenda")).text
        home_en = (await reader.get("/")).text

    assert "开幕主旨演讲" in agenda_zh and "Opening keynote" not in agenda_zh
    assert "照明展" in agenda_zh and "Lighting Fair" not in agenda_zh
    assert "<title>开幕主旨演讲" in program_zh and "Opening keynote" not in program_zh
    live_zh = home_zh.split('id="live-now"', 1)[1].split("</section>", 1)[0]
    assert "灯具工厂参观" in live_zh and f'href="/watch/{stream_id}"' in live_zh
    assert "Lamp factory tour" not in home_zh

    assert "Opening keynote" in agenda_en and "开幕主旨演讲" not in agenda_en
    assert "Lamp factory tour" in home_en and "灯具工厂参观" not in home_en
