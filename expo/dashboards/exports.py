"""CSV exports of broadcast audiences: totals per broadcast, and the per-minute concurrency.

Every cell goes through :func:`booths.leads.safe_cell`, so a broadcast titled ``=HYPERLINK(...)``
opens in a spreadsheet as text, not as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from booths.leads import safe_cell
from expo.dashboards.figures import BroadcastFigures

TOTALS_COLUMNS = (
    "broadcast_id",
    "title",
    "status",
    "peak_viewers",
    "total_views",
    "unique_viewers",
    "average_watch_seconds",
)
MINUTES_COLUMNS = ("broadcast_id", "title", "minute_utc", "viewers")


def table_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header row and the rows, each cell made safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def audience_totals_csv(broadcasts: Sequence[BroadcastFigures]) -> str:
    """One row per broadcast: peak, views, unique viewers, average watch time in seconds."""
    return table_csv(
        TOTALS_COLUMNS,
        (
            (
                b.id,
                b.title,
                b.status,
                b.peak_viewers,
                b.total_views,
                b.unique_viewers,
                b.average_watch_seconds,
            )
            for b in broadcasts
        ),
    )


def audience_minutes_csv(broadcasts: Sequence[BroadcastFigures]) -> str:
    """One row per broadcast and minute: the highest number watching at once in that minute."""
    return table_csv(
        MINUTES_COLUMNS,
        (
            (b.id, b.title, point["minute"].strftime("%Y-%m-%dT%H:%M:00Z"), point["viewers"])
            for b in broadcasts
            for point in b.series
        ),
    )
