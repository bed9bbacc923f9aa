"""The registrations of an expo as CSV: one row per registration, one column per question."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from booths.leads import safe_cell
from expo.accounts.models import User
from expo.registration.forms import answer_text, label_of
from expo.registration.models import Registration

FIXED_COLUMNS = ("id", "created_at", "status", "name", "email", "checked_in_at")


def _moment(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def export_csv(rows: Sequence[tuple[Registration, User]], fields: Sequence[Mapping[str, Any]]) -> str:
    """CSV with a header row; answers to questions no longer on the form are left out. Cells that a
    spreadsheet would run as formulas are quoted (:func:`booths.leads.safe_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*FIXED_COLUMNS, *(label_of(q) for q in fields)])
    for registration, user in rows:
        row: list[object] = [
            registration.id,
            _moment(registration.created_at),
            registration.status,
            user.name,
            user.email,
            _moment(registration.checked_in_at),
            *(answer_text(q, registration.answers.get(q["key"])) for q in fields),
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
