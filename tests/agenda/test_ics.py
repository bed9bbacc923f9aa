"""iCalendar output as calendar apps parse it: CRLF, 75-octet folding that never splits a UTF-8
character, escaped text, a stable UID, DTSTAMP and UTC times."""

from __future__ import annotations

from datetime import UTC, datetime

from expo.agenda import ics
from expo.agenda.models import Program


def _program(**fields: object) -> Program:
    values: dict[str, object] = {
        "id": 7,
        "expo_id": 1,
        "title": "Trade, tariffs; and\nlogistics \\ 2030",
        "description": "物流" * 60,
        "speakers": [{"name": "Li Wei", "title": "CEO", "company": "Acme"}],
        "track": "Main",
        "starts_at": datetime(2030, 4, 15, 1, 0, tzinfo=UTC),
        "ends_at": datetime(2030, 4, 15, 2, 0, tzinfo=UTC),
        "updated_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    return Program.model_validate(values)


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_a_calendar_is_crlf_folded_and_escaped() -> None:
    event = ics.Event(_program(), "https://expo.example/expos/fair/agenda/7", "Hall A · Stage 1")
    now = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    text = ics.calendar([event], name="Fair", public_url="https://expo.example", now=now)

    assert text.endswith("END:VCALENDAR\r\n") and "\n" not in text.replace("\r\n", "")
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
        line.encode().decode()  # folding never cut a character in half
    lines = _unfold(text)
    assert lines[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{ics.PRODID}"]
    assert "UID:program-7@expo.example" in lines
    assert "DTSTAMP:20300301T120000Z" in lines
    assert "DTSTART:20300415T010000Z" in lines and "DTEND:20300415T020000Z" in lines
    assert "SUMMARY:Trade\\, tariffs\\; and\\nlogistics \\\\ 2030" in lines
    description = next(line for line in lines if line.startswith("DESCRIPTION:"))
    assert "物流" * 60 in description and description.endswith("Li Wei · Acme")
    assert "LOCATION:Hall A · Stage 1" in lines


def test_fold_splits_at_75_octets_and_marks_continuations() -> None:
    folded = ics.fold("X" * 200)
    pieces = folded.split("\r\n")
    assert len(pieces[0]) == 75 and all(p.startswith(" ") and len(p) <= 75 for p in pieces[1:])
    assert folded.replace("\r\n ", "") == "X" * 200
    assert ics.fold("short") == "short"
