"""The form-builder page's rows: turning a stored form into editable rows and a submission back
into a :class:`~expo.registration.forms.FormSpec`.

Every question is a row with a position (the order), and for the built-in questions a mode
(required, optional, off); a custom question can be removed, and one new question can be added
per submission. Dates are typed in the expo's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.datastructures import FormData

from expo.errors import N_, Invalid
from expo.registration import forms
from expo.registration.models import RegistrationForm

MODES = ("required", "optional", "off")
MAX_CUSTOM = forms.MAX_QUESTIONS - len(forms.BUILTIN_KINDS)
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def local_input(moment: datetime | None, tz: ZoneInfo) -> str:
    """A ``datetime-local`` input's value in the expo's zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if moment else ""


def rows_of(form: RegistrationForm) -> list[dict[str, Any]]:
    """Editable rows: the form's questions in order, then the built-in questions it leaves out."""
    rows = [
        {**q, "builtin": q["key"] in forms.BUILTIN_KINDS, "mode": "required" if q["required"] else "optional"}
        for q in form.fields
    ]
    asked = {q["key"] for q in form.fields}
    for key, kind in forms.BUILTIN_KINDS.items():
        if key not in asked:
            rows.append(
                {
                    "key": key,
                    "label": "",
                    "kind": kind,
                    "required": False,
                    "options": [],
                    "builtin": True,
                    "mode": "off",
                }
            )
    return rows


def _str(form: FormData, name: str, limit: int = 5000) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _position(form: FormData, name: str, default: int) -> int:
    raw = _str(form, name, 6)
    return int(raw) if raw.lstrip("-").isdigit() else default


def _options(form: FormData, name: str) -> list[str]:
    return [line.strip() for line in _str(form, name, 20000).splitlines() if line.strip()]


def _translated(form: FormData, prefix: str, languages: Sequence[str], label: bool) -> dict[str, Any]:
    """``<prefix>_label_<lang>`` and ``<prefix>_options_<lang>`` (one a line, blank lines kept so
    each stays beside its option) for the expo's other languages."""
    out: dict[str, Any] = {}
    for lang in languages:
        lines = [line.strip() for line in _str(form, f"{prefix}_options_{lang}", 20000).splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        text = {"label": _str(form, f"{prefix}_label_{lang}", 200) if label else "", "options": lines}
        if text["label"] or lines:
            out[lang] = text
    return out


def _new_key(label: str, taken: set[str]) -> str:
    base = _NOT_KEY.sub("_", label.lower()).strip("_")[:30]
    if not base or not base[0].isalpha():
        base = "q_" + base if base else "question"
    key, n = base, 2
    while key in taken or key in forms.BUILTIN_KINDS:
        key, n = f"{base}_{n}", n + 1
    return key


def _moment(form: FormData, name: str, tz: ZoneInfo) -> datetime | None:
    raw = _str(form, name, 20)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=tz)
    except ValueError:
        raise Invalid(N_("Give a date and time."), code="registration.invalid_form", field=name) from None


def parse(
    form: FormData, stored: RegistrationForm, tz: ZoneInfo, languages: Sequence[str] = ()
) -> tuple[forms.FormSpec, list[dict[str, Any]]]:
    """The submitted spec, and the rows to show again if it is refused. ``languages`` are the
    expo's other languages, whose labels, options and consent text the form also carries."""
    ranked: list[tuple[int, int, dict[str, Any]]] = []
    for index, key in enumerate(forms.BUILTIN_KINDS):
        mode = _str(form, f"{key}_mode", 10)
        mode = mode if mode in MODES else "off"
        options = _options(form, f"{key}_options") if key == "interests" else []
        row = {
            "key": key,
            "label": "",
            "kind": forms.BUILTIN_KINDS[key],
            "required": mode == "required",
            "options": options,
            "builtin": True,
            "mode": mode,
            "translations": _translated(form, key, languages, label=False) if key == "interests" else {},
        }
        ranked.append((_position(form, f"{key}_pos", index), len(ranked), row))
    custom = [q for q in stored.fields if q["key"] not in forms.BUILTIN_KINDS]
    for position, row in custom_rows(form, custom, languages, first=100):
        ranked.append((position, len(ranked), row))
    rows = [row for _, _, row in sorted(ranked, key=lambda r: (r[0], r[1]))]
    if sum(1 for r in rows if not r["builtin"]) > MAX_CUSTOM:
        raise Invalid(N_("A form has at most 16 questions."), code="registration.invalid_form")
    fields = questions_of([r for r in rows if r["mode"] != "off"])
    try:
        spec = forms.FormSpec(
            opens_at=_moment(form, "opens_at", tz),
            closes_at=_moment(form, "closes_at", tz),
            approval_required=form.get("approval_required") == "on",
            consent_text=_str(form, "consent_text"),
            translations={
                lang: forms.ConsentText(consent_text=_str(form, f"consent_text_{lang}")) for lang in languages
            },
            fields=fields,
        )
    except ValidationError as exc:
        raise _refused(exc) from None
    return spec, rows


def custom_rows(
    form: FormData, custom: Sequence[dict[str, Any]], languages: Sequence[str], first: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """The organizer's own questions as submitted, each with its typed position: the ``custom``
    questions stored (``c_<key>_*`` fields) but those removed, then the one added (``new_*``).
    ``first`` is the position a question gets when its position is not a number."""
    out: list[tuple[int, dict[str, Any]]] = []
    for index, question in enumerate(custom):
        key = question["key"]
        if form.get(f"c_{key}_remove") == "on":
            continue
        row = {
            "key": key,
            "label": _str(form, f"c_{key}_label", 200),
            "kind": _str(form, f"c_{key}_kind", 20) or question["kind"],
            "required": form.get(f"c_{key}_required") == "on",
            "options": _options(form, f"c_{key}_options"),
            "builtin": False,
            "mode": "",
            "translations": _translated(form, f"c_{key}", languages, label=True),
        }
        out.append((_position(form, f"c_{key}_pos", first + index), row))
    new_label = _str(form, "new_label", 200)
    if new_label:
        taken = {q["key"] for q in custom}
        row = {
            "key": _new_key(new_label, taken),
            "label": new_label,
            "kind": _str(form, "new_kind", 20) or "text",
            "required": form.get("new_required") == "on",
            "options": _options(form, "new_options"),
            "builtin": False,
            "mode": "",
            "translations": _translated(form, "new", languages, label=True),
        }
        out.append((_position(form, "new_pos", first + 900), row))
    return out


def questions_of(rows: Sequence[dict[str, Any]]) -> list[forms.Question]:
    """The rows as questions; :class:`Invalid` naming the first question (``field`` is its key)
    whose kind or texts are not valid, so the page shows the message beside that row."""
    out: list[forms.Question] = []
    for r in rows:
        try:
            out.append(
                forms.Question(
                    key=r["key"],
                    label=r["label"],
                    kind=r["kind"],
                    required=r["required"],
                    options=r["options"],
                    translations=r["translations"],
                )
            )
        except ValidationError:
            raise Invalid(
                N_("Check the questions: a label, kind or option is not valid."),
                code="registration.invalid_form",
                field=r["key"],
            ) from None
    return out


def _refused(exc: ValidationError) -> Invalid:
    first = exc.errors(include_url=False)[0]
    return Invalid(
        N_("Check the questions: a label, kind or option is not valid."),
        code="registration.invalid_form",
        field=".".join(str(p) for p in first["loc"]),
    )
