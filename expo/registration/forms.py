"""The organizer's registration form: which questions a visitor answers, and checking the answers.

A form is a list of questions in the order the visitor sees them. Four are built in (company,
country, job role, interests): the organizer asks them as required or optional, or leaves them
out; their labels are the platform's, so they are translated. Custom questions carry the
organizer's own label and are one of :data:`KINDS`. Answers are checked against the form and
errors are reported per question (``details``) so a page can show each beside its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from expo.errors import N_, Invalid
from expo.i18n import countries

KINDS = ("text", "textarea", "select", "multiselect", "checkbox")
Kind = Literal["text", "textarea", "select", "multiselect", "checkbox"]
BUILTIN_KINDS: dict[str, Kind] = {
    "company": "text",
    "country": "select",
    "job_role": "text",
    "interests": "multiselect",
}
BUILTIN_LABELS = {
    "company": N_("Company"),
    "country": N_("Country or region"),
    "job_role": N_("Job role"),
    "interests": N_("Interests"),
}
DEFAULT_FIELDS: list[dict[str, Any]] = [
    {"key": "company", "label": "", "kind": "text", "required": False, "options": []},
    {"key": "country", "label": "", "kind": "select", "required": False, "options": []},
]
MAX_QUESTIONS = 16  # the form-builder page posts 6 fields a question under the form-field limit
MAX_OPTIONS = 50
MAX_TEXT = 200
MAX_TEXTAREA = 2000
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class QuestionText(BaseModel):
    """A question in another of the expo's languages: its label and its options' labels, in the
    options' order (answers always store the main language's option, whatever the visitor read)."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=200)
    options: list[str] = Field(default_factory=list, max_length=MAX_OPTIONS)


class ConsentText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_text: str = Field(default="", max_length=5000)


class Question(BaseModel):
    """One question. For a built-in key, ``label`` and ``kind`` are the platform's (any given are
    replaced); ``options`` of ``interests`` are the organizer's list of topics."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=40, pattern=_KEY.pattern)
    label: str = Field(default="", max_length=200)
    kind: Kind = "text"
    required: bool = False
    options: list[str] = Field(default_factory=list, max_length=MAX_OPTIONS)
    translations: dict[str, QuestionText] = Field(default_factory=dict)


class FormSpec(BaseModel):
    """What an organizer sets; see :class:`expo.registration.models.RegistrationForm`."""

    model_config = ConfigDict(extra="forbid")

    opens_at: datetime | None = None
    closes_at: datetime | None = None
    approval_required: bool = False
    consent_text: str = Field(default="", max_length=5000)
    fields: list[Question] = Field(default_factory=lambda: [Question(**f) for f in DEFAULT_FIELDS])
    translations: dict[str, ConsentText] = Field(default_factory=dict)


def _field_error(key: str, message: str) -> Invalid:
    return Invalid(message, code="registration.invalid_form", details=[{"field": key, "message": message}])


def check_spec(spec: FormSpec) -> list[dict[str, Any]]:
    """The spec's questions as stored, or :class:`Invalid` naming the question at fault."""
    for moment, name in ((spec.opens_at, "opens_at"), (spec.closes_at, "closes_at")):
        if moment is not None and moment.tzinfo is None:
            raise _field_error(name, N_("Give dates with their time zone."))
    if spec.opens_at and spec.closes_at and spec.closes_at <= spec.opens_at:
        raise _field_error("closes_at", N_("Registration must close after it opens."))
    if len(spec.fields) > MAX_QUESTIONS:
        raise _field_error("fields", N_("A form has at most 16 questions."))
    seen: set[str] = set()
    stored: list[dict[str, Any]] = []
    for question in spec.fields:
        if question.key in seen:
            raise _field_error(question.key, N_("Two questions have the same key."))
        seen.add(question.key)
        options = [" ".join(o.split())[:MAX_TEXT] for o in question.options if o.strip()]
        if len(set(options)) != len(options):
            raise _field_error(question.key, N_("A question lists the same option twice."))
        if question.key in BUILTIN_KINDS:
            kind, label = BUILTIN_KINDS[question.key], ""
            if question.key == "country":
                options = []  # the list of countries is the platform's
        else:
            kind, label = question.kind, question.label.strip()
            if not label:
                raise _field_error(question.key, N_("Every question needs a label."))
        if kind in ("select", "multiselect") and question.key != "country" and not options:
            raise _field_error(question.key, N_("A choice question needs at least one option."))
        if kind not in ("select", "multiselect"):
            options = []
        row: dict[str, Any] = {
            "key": question.key,
            "label": label,
            "kind": kind,
            "required": question.required,
            "options": options,
        }
        translations = _question_translations(question, label, options)
        if translations:
            row["translations"] = translations
        stored.append(row)
    return stored


def _question_translations(question: Question, label: str, options: list[str]) -> dict[str, Any]:
    """What a question says in other languages, as stored: no empty texts, options only beside
    the options they translate (one a line, in the same order)."""
    out: dict[str, Any] = {}
    for lang, text in question.translations.items():
        translated = [" ".join(o.split())[:MAX_TEXT] for o in text.options]
        while translated and not translated[-1]:
            translated.pop()
        if len(translated) > len(options):
            raise _field_error(question.key, N_("Give one translated option a line, as many as the options."))
        kept: dict[str, Any] = {}
        if label and text.label.strip():  # built-in labels are the platform's, translated already
            kept["label"] = text.label.strip()
        if any(translated):
            kept["options"] = translated
        if kept:
            out[lang] = kept
    return out


def question_label(question: Mapping[str, Any], locale: str) -> str:
    """The organizer's label of a custom question in ``locale``, else as stored (``""`` for a
    built-in question: pages show the platform's translated label)."""
    translated = (question.get("translations") or {}).get(locale) or {}
    return str(translated.get("label") or question.get("label") or "")


def option_label(question: Mapping[str, Any], option: str, locale: str) -> str:
    """How an option of the question reads in ``locale`` (the option itself without a translation)."""
    translated = ((question.get("translations") or {}).get(locale) or {}).get("options") or []
    options = list(question.get("options") or [])
    index = options.index(option) if option in options else -1
    return str(translated[index]) if 0 <= index < len(translated) and translated[index] else option


def label_of(question: Mapping[str, Any]) -> str:
    """The question's label (untranslated: pages pass built-in labels through ``_``)."""
    return str(question.get("label") or BUILTIN_LABELS.get(question["key"], question["key"]))


def _one(raw: str | Sequence[str] | None) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw.strip()
    return raw[0].strip() if raw else ""


def _many(raw: str | Sequence[str] | None) -> list[str]:
    if raw is None:
        return []
    values = [raw] if isinstance(raw, str) else list(raw)
    return [v.strip() for v in values if v.strip()]


def check_answers(
    fields: Sequence[Mapping[str, Any]], raw: Mapping[str, str | Sequence[str]]
) -> dict[str, Any]:
    """The answers to keep, or :class:`Invalid` with one ``details`` entry per question at fault.

    ``raw`` maps question keys to the submitted text (or list, for multiple choice); answers to
    questions not on the form are ignored. Unanswered optional questions are left out.
    """
    answers: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for question in fields:
        key, kind, required = question["key"], question["kind"], bool(question["required"])
        options: list[str] = sorted(countries()) if key == "country" else list(question["options"])
        value: Any
        problem: str | None = None
        if kind == "multiselect":
            value = _many(raw.get(key))
            if any(v not in options for v in value):
                problem = N_("Choose from the list.")
            elif len(set(value)) != len(value):
                value = list(dict.fromkeys(value))
        elif kind == "checkbox":
            value = _one(raw.get(key)) in ("on", "true", "1", "yes")
        else:
            value = _one(raw.get(key))
            if key == "country":
                value = value.upper()
            limit = MAX_TEXTAREA if kind == "textarea" else MAX_TEXT
            if kind == "select" and value and value not in options:
                problem = N_("Choose from the list.")
            elif len(value) > limit:
                problem = N_("This answer is too long.")
        if problem is None and required and not value:
            problem = N_("This question is required.")
        if problem is not None:
            errors.append({"field": key, "message": problem})
        elif value:
            answers[key] = value
    if errors:
        raise Invalid(errors[0]["message"], code="registration.invalid_answers", details=errors)
    return answers


def answer_text(question: Mapping[str, Any], value: Any) -> str:
    """An answer as one line of text (CSV cells, the organizer's list)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)
