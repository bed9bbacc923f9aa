"""Charts drawn on the server as inline SVG: a time series (line and area), a horizontal bar
ranking and a sparkline.

Why SVG from Python rather than a JavaScript library: the figures are on the page the moment it
arrives, with no download and nothing to execute; a screen reader gets each chart's ``<title>``
and ``<desc>`` and the page puts the same numbers in a table beside it. Every piece of text is
escaped here (booth names are user input), and colours come from CSS classes, so the charts
follow the site's theme (``web/static/css/dashboards.css``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from unicodedata import east_asian_width

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_RIGHT = 16
MARGIN_TOP = 12
MARGIN_BOTTOM = 36
MAX_X_TICKS = 8
# Candidate spacings of the time axis, in seconds; the smallest giving at most MAX_X_TICKS wins.
_STEPS = (
    60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400, 365 * 86400,
)  # fmt: skip

TimePoint = tuple[datetime | date, float]


def _utc(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _num(value: float) -> str:
    """A coordinate: short, and without float noise in the markup."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def value_ticks(highest: float, most: int = 4) -> list[float]:
    """Round, whole-number ticks from 0 to at least ``highest``: at most ``most`` steps of 1, 2 or
    5 x 10^k (counts of people never get a 2.5 tick)."""
    step = next(
        float(f * 10**k) for k in itertools.count() for f in (1, 2, 5) if highest / (f * 10**k) <= most
    )
    steps = max(1, math.ceil(highest / step))
    return [step * i for i in range(steps + 1)]


def time_ticks(start: datetime, end: datetime, min_step: int = 60) -> tuple[list[datetime], str]:
    """Tick moments between ``start`` and ``end`` at a round spacing (at least ``min_step``
    seconds), and their ``strftime`` format."""
    span = max((end - start).total_seconds(), 1.0)
    step = next((s for s in _STEPS if s >= min_step and span / s <= MAX_X_TICKS), _STEPS[-1])
    # Clock-round ticks within a day (10:00, 10:15); day ticks count from the first day shown.
    origin = start.replace(hour=0, minute=0, second=0, microsecond=0) if step >= 86400 else start
    if origin < start:
        origin += timedelta(days=1)
    epoch = origin if step >= 86400 else datetime(1970, 1, 1, tzinfo=UTC)
    first = math.ceil((start - epoch).total_seconds() / step) * step
    ticks = []
    moment = epoch + timedelta(seconds=first)
    while moment <= end:
        ticks.append(moment)
        moment += timedelta(seconds=step)
    if step >= 86400:
        fmt = "%m-%d"
    elif start.date() != end.date():
        fmt = "%m-%d %H:%M"
    else:
        fmt = "%H:%M"
    return ticks, fmt


def _svg(parts: list[str]) -> Markup:
    # Safe by construction: every piece of text in ``parts`` went through escape() or is a number.
    return Markup("".join(parts))  # noqa: S704


def _frame(kind: str, title: str, desc: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart chart-{kind}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>",
    ]


def time_chart(
    points: Sequence[TimePoint],
    *,
    title: str,
    desc: str,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """A line with the area under it, over a UTC time axis; each point a circle with a tooltip.

    ``points`` are ``(moment, value)`` oldest first; dates (a series of days) are midnight UTC and
    get day ticks. With no points only the axes are drawn.
    """
    parts = _frame("time", title, desc, width, height)
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_h
    moments = [_utc(m) for m, _ in points]
    values = [float(v) for _, v in points]
    if moments:
        start, end = moments[0], moments[-1]
    else:
        start = end = datetime.now(UTC).replace(second=0, microsecond=0)
    # A series of days gets day ticks however short it is.
    daily = bool(points) and not isinstance(points[0][0], datetime)
    if start == end:  # one point: centre it in a window around it
        pad = timedelta(hours=12) if daily else timedelta(minutes=5)
        start, end = start - pad, end + pad
    span = (end - start).total_seconds()
    levels = value_ticks(max(values, default=0))
    top = levels[-1]

    def x_of(moment: datetime) -> float:
        return MARGIN_LEFT + plot_w * (moment - start).total_seconds() / span

    def y_of(value: float) -> float:
        return bottom - plot_h * value / top

    parts.append('<g class="chart-grid">')
    for level in levels:
        level_y = _num(y_of(level))
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{level_y}" y2="{level_y}"/>')
    parts.append("</g>")
    parts.append('<g class="chart-axis chart-y-axis">')
    for level in levels:
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{_num(y_of(level) + 4)}" text-anchor="end">'
            f"{_figure(level)}</text>"
        )
    parts.append("</g>")
    ticks, fmt = time_ticks(start, end, min_step=86400 if daily else 60)
    parts.append('<g class="chart-axis chart-x-axis">')
    parts.append(f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{bottom}" y2="{bottom}"/>')
    for tick in ticks:
        at = _num(x_of(tick))
        parts.append(f'<line x1="{at}" x2="{at}" y1="{bottom}" y2="{bottom + 4}"/>')
        parts.append(
            f'<text x="{at}" y="{bottom + 18}" text-anchor="middle" data-tick="{tick.isoformat()}">'
            f"{escape(tick.strftime(fmt))}</text>"
        )
    parts.append(
        f'<text class="chart-note" x="{MARGIN_LEFT + plot_w}" y="{height - 2}" text-anchor="end">UTC</text>'
    )
    parts.append("</g>")
    if moments:
        coords = [(x_of(m), y_of(v)) for m, v in zip(moments, values, strict=True)]
        line = " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
        area = f"{_num(coords[0][0])},{bottom} {line} {_num(coords[-1][0])},{bottom}"
        parts.append(f'<polygon class="chart-area" points="{area}"/>')
        parts.append(f'<polyline class="chart-line" points="{line}"/>')
        parts.append('<g class="chart-points">')
        suffix = f" {unit}" if unit else ""
        for (x, y), moment, value in zip(coords, moments, values, strict=True):
            stamp = moment.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M UTC")
            label = f"{stamp}: {_figure(value)}{suffix}"
            parts.append(
                f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" data-x="{moment.isoformat()}" '
                f'data-value="{_num(value)}"><title>{escape(label)}</title></circle>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return _svg(parts)


def text_width(text: str, font_size: float) -> float:
    """Roughly how wide ``text`` is drawn: wide (CJK) characters take a full em, others ~0.6 em."""
    return sum(font_size if east_asian_width(ch) in "WF" else font_size * 0.6 for ch in text)


def fit_label(text: str, room: float, font_size: float) -> str:
    """``text`` if it fits in ``room`` pixels, else as much of it as fits followed by "…"."""
    if text_width(text, font_size) <= room:
        return text
    kept = ""
    for ch in text:
        if text_width(kept + ch + "…", font_size) > room:
            break
        kept += ch
    return kept.rstrip() + "…"


def bar_ranking(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    desc: str,
    width: int = 400,
    bar_height: int = 14,
    font_size: int = 12,
) -> Markup:
    """Horizontal bars, longest first as given: each name on its own line above its bar, so names
    of any length and script get the chart's whole width (a name that still does not fit is
    shortened with "…"; the row's tooltip has it in full), and the value at the bar's end."""
    value_w = 56
    gap = 10
    line = font_size + 4
    row_h = line + bar_height + gap
    height = max(1, len(rows)) * row_h
    parts = _frame("bars", title, desc, width, height)
    top = max((value for _, value in rows), default=0) or 1
    span = width - value_w
    for i, (name, value) in enumerate(rows):
        y = i * row_h
        bar_y = y + line
        length = span * value / top
        # One unit in from the edge: a glyph such as "T" or "J" overhangs its origin and would be clipped.
        shown = fit_label(name, width - 1, font_size)
        parts.append(f'<g class="chart-row" data-label="{escape(name)}" data-value="{_num(value)}">')
        parts.append(f"<title>{escape(name)}: {_figure(value)}</title>")
        parts.append(f'<text class="chart-label" x="1" y="{_num(y + font_size)}">{escape(shown)}</text>')
        parts.append(
            f'<rect class="chart-bar" x="0" y="{bar_y}" width="{_num(max(length, 1 if value else 0))}" '
            f'height="{bar_height}" rx="3"/>'
        )
        parts.append(
            f'<text class="chart-value" x="{_num(length + 6)}" y="{_num(bar_y + bar_height - 2)}">'
            f"{_figure(value)}</text>"
        )
        parts.append("</g>")
    parts.append("</svg>")
    return _svg(parts)


def sparkline(values: Sequence[float], *, title: str, width: int = 120, height: int = 28) -> Markup:
    """A small trend line without axes, for a figure's recent history next to the figure."""
    parts = _frame("spark", title, title, width, height)
    if values:
        top = max(values) or 1
        step = width / max(len(values) - 1, 1)
        line = " ".join(
            f"{_num(i * step)},{_num(height - 2 - (height - 4) * v / top)}" for i, v in enumerate(values)
        )
        parts.append(f'<polyline class="chart-line" points="{line}"/>')
    parts.append("</svg>")
    return _svg(parts)
