"""The SVG charts, parsed as XML: every point where its value puts it, labels escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest

from expo.dashboards import charts

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_time_chart_places_each_minute_on_its_value_with_readable_ticks() -> None:
    start = datetime(2026, 11, 22, 9, 58, tzinfo=UTC)
    points = [(start + timedelta(minutes=i), v) for i, v in enumerate([0, 3, 7, 5, 12])]
    svg = parse(charts.time_chart(points, title="Viewers per minute", desc="Peak 12", unit="viewers"))
    assert svg.find("svg:title", NS).text == "Viewers per minute"  # type: ignore[union-attr]
    assert svg.find("svg:desc", NS).text == "Peak 12"  # type: ignore[union-attr]
    circles = svg.findall(".//svg:g[@class='chart-points']/svg:circle", NS)
    assert [float(c.get("data-value", "")) for c in circles] == [0, 3, 7, 5, 12]
    assert [c.get("data-x") for c in circles] == [p[0].isoformat() for p in points]
    # x grows with time, y falls as the value rises (SVG's y axis points down)
    xs = [float(c.get("cx", "")) for c in circles]
    ys = [float(c.get("cy", "")) for c in circles]
    assert xs == sorted(xs) and xs[0] == charts.MARGIN_LEFT
    assert ys[0] == charts.HEIGHT - charts.MARGIN_BOTTOM  # 0 sits on the axis
    assert ys[4] < ys[2] < ys[3] < ys[1] < ys[0]
    # The y axis tops out at a round 15 (whole steps of 5 above 12), the x axis is labelled in minutes.
    y_labels = [t.text for t in svg.findall(".//svg:g[@class='chart-axis chart-y-axis']/svg:text", NS)]
    assert y_labels == ["0", "5", "10", "15"]
    x_labels = [
        t.text for t in svg.findall(".//svg:g[@class='chart-axis chart-x-axis']/svg:text[@data-tick]", NS)
    ]
    assert x_labels == ["09:58", "09:59", "10:00", "10:01", "10:02"]
    tooltip = circles[4].find("svg:title", NS)
    assert tooltip is not None and tooltip.text == "2026-11-22 10:02 UTC: 12 viewers"
    polyline = svg.find(".//svg:polyline[@class='chart-line']", NS)
    assert polyline is not None and len(polyline.get("points", "").split()) == 5


def test_daily_series_gets_day_ticks_and_a_lone_day_is_centred() -> None:
    days = [(date(2026, 11, 1) + timedelta(days=i), i) for i in range(30)]
    svg = parse(charts.time_chart(days, title="Registrations", desc="d"))
    labels = [t.text for t in svg.findall(".//svg:text[@data-tick]", NS)]
    assert labels[0] == "11-01" and all(len(label or "") == 5 for label in labels)
    assert 3 <= len(labels) <= charts.MAX_X_TICKS
    one = parse(charts.time_chart([(date(2026, 11, 1), 4)], title="R", desc="d"))
    circle = one.find(".//svg:circle", NS)
    assert circle is not None
    assert (
        float(circle.get("cx", ""))
        == charts.MARGIN_LEFT + (charts.WIDTH - charts.MARGIN_LEFT - charts.MARGIN_RIGHT) / 2
    )


def test_value_axis_steps_are_whole_and_round() -> None:
    assert charts.value_ticks(0) == [0, 1]
    assert charts.value_ticks(3) == [0, 1, 2, 3]
    assert charts.value_ticks(5) == [0, 2, 4, 6]
    assert charts.value_ticks(99) == [0, 50, 100]
    assert charts.value_ticks(1001) == [0, 500, 1000, 1500]


def test_empty_chart_still_draws_axes() -> None:
    svg = parse(charts.time_chart([], title="Nothing yet", desc="No data"))
    assert svg.findall(".//svg:circle", NS) == []
    assert svg.find(".//svg:g[@class='chart-axis chart-x-axis']", NS) is not None


def test_bar_ranking_lengths_follow_values_and_names_are_escaped() -> None:
    hostile = '<script>alert("x")</script> & "Co"'
    svg_text = charts.bar_ranking(
        [(hostile, 40), ("Lumen Works", 10), ("Quiet", 0)], title="Booths <by> visits", desc="d"
    )
    assert "<script>" not in svg_text
    svg = parse(svg_text)
    assert svg.find("svg:title", NS).text == "Booths <by> visits"  # type: ignore[union-attr]
    rows = svg.findall("svg:g[@class='chart-row']", NS)
    assert [r.get("data-label") for r in rows] == [hostile, "Lumen Works", "Quiet"]
    widths = [float(r.find("svg:rect", NS).get("width", "")) for r in rows]  # type: ignore[union-attr]
    assert widths[0] == pytest.approx(4 * widths[1], abs=0.3) and widths[2] == 0
    assert [r.find("svg:text[@class='chart-value']", NS).text for r in rows] == ["40", "10", "0"]  # type: ignore[union-attr]
    assert rows[0].find("svg:text[@class='chart-label']", NS).text == hostile  # type: ignore[union-attr]


def test_bar_labels_fit_the_chart_and_long_ones_keep_their_full_name_in_the_tooltip() -> None:
    long_name = "Shenzhen Brightwave Consumer Electronics International Trading Company Limited"
    chinese = "深圳明浪电子有限公司国际贸易部门展台特别长的名字用于测试" * 2
    svg = parse(
        charts.bar_ranking([(long_name, 5), (chinese, 3), ("Short", 1)], title="t", desc="d", width=400)
    )
    rows = svg.findall("svg:g[@class='chart-row']", NS)
    labels = [r.find("svg:text[@class='chart-label']", NS) for r in rows]
    for row, label, name in zip(rows, labels, [long_name, chinese, "Short"], strict=True):
        assert label is not None and label.text is not None
        # Drawn one unit in from the left edge (room for a glyph's overhang), never wider than the chart.
        assert float(label.get("x", "")) == 1 and charts.text_width(label.text, 12) <= 399
        assert row.find("svg:title", NS).text.startswith(name)  # type: ignore[union-attr]
    assert labels[0].text.endswith("…") and labels[1].text.endswith("…")  # type: ignore[union-attr]
    assert labels[2].text == "Short"  # type: ignore[union-attr]


def test_sparkline_spans_its_width() -> None:
    svg = parse(charts.sparkline([1, 4, 2], title="Trend"))
    points = svg.find("svg:polyline", NS).get("points", "").split()  # type: ignore[union-attr]
    assert [p.split(",")[0] for p in points] == ["0", "60", "120"]
