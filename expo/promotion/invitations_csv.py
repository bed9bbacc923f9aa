"""Reading an organizer's list of investors to invite: a UTF-8 CSV file (a byte-order mark is fine)
whose header names the columns ``name,email,company,language`` in any order; ``name`` and
``email`` are required, ``company`` and ``language`` (``en`` or ``zh``; empty: ``en``) may be
missing or empty.

The file comes from anywhere, so every row is checked and every bad one is reported with its line
number and the reasons: :func:`read_invitees` returns the good rows and the problems side by side,
and the caller decides (nothing is sent while there are problems, unless the organizer asks for
the good rows only). Rows are plain text: control characters are refused, and an address twice in
the file is refused the second time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from expo.accounts.services import normalise_email
from expo.errors import Invalid
from expo.http.inputs import CONTROL, csv_header

COLUMNS = ("name", "email", "company", "language")
REQUIRED = ("name", "email")
# What a spreadsheet may say in the language column, and the locale each means.
LANGUAGES = {"en": "en", "zh": "zh_Hans", "zh_hans": "zh_Hans", "zh-hans": "zh_Hans", "zh-cn": "zh_Hans"}
MAX_FILE_BYTES = 512 * 1024
MAX_ROWS = 2000
MAX_PROBLEMS = 100
_LIMITS = {"name": 120, "email": 254, "company": 200, "language": 16}


@dataclass(frozen=True)
class Invitee:
    """One good row: whom to invite, in which language (``en`` or ``zh_Hans``)."""

    line: int
    name: str
    email: str
    company: str
    language: str


@dataclass(frozen=True)
class Problem:
    """A bad line (0: the file as a whole) and what is wrong with it."""

    line: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "message": "; ".join(self.reasons)}


@dataclass
class Reading:
    """What a file holds: the good rows, and the problems of the others."""

    invitees: list[Invitee] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems and bool(self.invitees)


def _whole(reason: str) -> Reading:
    return Reading(problems=[Problem(0, (reason,))])


def normal_email(address: str) -> str | None:
    """The address as accounts store it (lowercased), or ``None`` when it is not an address."""
    try:
        return normalise_email(address)
    except Invalid:
        return None


def _check_row(line: int, record: dict[str, str], seen: set[str]) -> Invitee | Problem:
    values = {name: (record.get(name) or "").strip() for name in COLUMNS}
    reasons: list[str] = []
    for name in COLUMNS:
        if CONTROL.search(values[name]):
            reasons.append(f"{name} contains a control character")
        elif len(values[name]) > _LIMITS[name]:
            reasons.append(f"{name} is longer than {_LIMITS[name]} characters")
    for name in REQUIRED:
        if not values[name]:
            reasons.append(f"the {name} is empty")
    email = normal_email(values["email"]) if values["email"] else None
    if values["email"] and email is None:
        reasons.append(f"{values['email'][:60]!r} is not an e-mail address")
    elif email is not None and email in seen:
        reasons.append(f"{email} is already on an earlier line")
    language = LANGUAGES.get(values["language"].lower() or "en")
    if language is None:
        reasons.append(f"language {values['language'][:20]!r} is not en or zh")
    if reasons:
        return Problem(line, tuple(reasons))
    assert email is not None and language is not None
    seen.add(email)
    return Invitee(line, values["name"], email, values["company"], language)


def _header(reader: Iterator[list[str]]) -> list[str] | Reading:
    try:
        return csv_header(reader, COLUMNS, REQUIRED, shown=30)
    except ValueError as exc:
        return Reading(problems=[Problem(1, (str(exc),))])


def read_invitees(data: bytes) -> Reading:
    """Every row of the file, checked (at most :data:`MAX_PROBLEMS` problems are listed)."""
    if len(data) > MAX_FILE_BYTES:
        return _whole(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return Reading(problems=[Problem(line, ("the file is not UTF-8 text; save it as CSV UTF-8",))])
    if "\x00" in content:
        return _whole("the file contains NUL bytes: not a CSV file")
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    names = _header(reader)
    if isinstance(names, Reading):
        return names
    reading = Reading()
    seen: set[str] = set()
    line = reader.line_num + 1
    while len(reading.problems) < MAX_PROBLEMS:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # an unclosed quote: the rest of the file cannot be read
            reading.problems.append(Problem(line, (f"not valid CSV: {exc}",)))
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # blank lines, as spreadsheets write them
        if len(record) != len(names):
            reading.problems.append(
                Problem(start, (f"{len(record)} fields where the header has {len(names)}",))
            )
            continue
        if len(reading.invitees) >= MAX_ROWS:
            reading.problems.append(Problem(start, (f"a file invites at most {MAX_ROWS} investors",)))
            break
        checked = _check_row(start, dict(zip(names, record, strict=True)), seen)
        if isinstance(checked, Problem):
            reading.problems.append(checked)
        else:
            reading.invitees.append(checked)
    if not reading.invitees and not reading.problems:
        reading.problems.append(Problem(0, ("the file lists nobody to invite",)))
    return reading
