"""The inline-SVG bar chart builder: scale, bars, labels, legend, accessibility, empty data."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from services.console.charts import bar_chart, day_label, format_number, nice_ticks, with_unit

D1, D2, D3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (10, [0, 5, 10]),
        (100, [0, 50, 100]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_nice_ticks_start_at_zero_and_reach_a_round_number_above_the_maximum(
    maximum: int, expected: list[int]
) -> None:
    assert nice_ticks(maximum) == expected


def test_nice_ticks_allow_fractions_when_not_integer() -> None:
    assert nice_ticks(1, integer=False) == [0, 0.25, 0.5, 0.75, 1]
    assert nice_ticks(0.3, integer=False) == [0, 0.1, 0.2, 0.3]


def test_stacked_bar_heights_are_proportional_to_the_scale_top() -> None:
    chart = bar_chart(
        categories=[D1, D2],
        series=["summary", "classifier"],
        values={(D1, "summary"): 4, (D2, "summary"): 1, (D2, "classifier"): 1},
        title="Calls per day",
        unit="calls",
        height=240,
    )
    assert chart.ticks == (0, 1, 2, 3, 4)
    by_key = {(bar.category, bar.series): bar for bar in chart.bars}
    full = by_key[(D1, "summary")].height
    assert full == pytest.approx(240 - 10 - 38)  # the plot's height: 4 is the top tick
    assert by_key[(D2, "summary")].height == pytest.approx(full / 4)
    # Stacked: the second series sits on the first in the same column.
    lower, upper = by_key[(D2, "summary")], by_key[(D2, "classifier")]
    assert upper.x == lower.x
    assert upper.y + upper.height == pytest.approx(lower.y)


def test_grouped_bars_stand_side_by_side_on_their_own_scale() -> None:
    chart = bar_chart(
        categories=[D1],
        series=["a", "b"],
        values={(D1, "a"): 2, (D1, "b"): 2},
        title="Calls",
        stacked=False,
    )
    a, b = chart.bars
    assert chart.ticks[-1] == 2  # not 4: values are not summed
    assert b.x == pytest.approx(a.x + a.width)
    assert a.height == b.height


def test_one_rect_per_non_zero_value_with_tooltip_and_data_attributes() -> None:
    chart = bar_chart(
        categories=[D1, D2, D3],
        series=["summary", "webscraper"],
        values={(D1, "summary"): 3, (D2, "webscraper"): 1, (D3, "summary"): 0},
        title="Calls per day",
        unit="calls",
    )
    svg = str(chart.svg)
    rects = re.findall(r"<rect [^>]*>", svg)
    assert len(rects) == 2 == len(chart.bars)
    assert 'data-category="2024-05-01" data-series="summary" data-value="3"' in svg
    assert "<title>2024-05-01 · summary: 3 calls</title>" in svg
    assert "<title>2024-05-02 · webscraper: 1 call</title>" in svg


def test_axis_labels_legend_and_accessible_label() -> None:
    chart = bar_chart(
        categories=[D1, D2],
        series=["summary", "unused"],
        values={(D1, "summary"): 2},
        title="Credits per day",
        unit="credits",
        description="See the table.",
    )
    svg = str(chart.svg)
    assert 'role="img"' in svg
    assert 'aria-label="Credits per day: 2 credits in all, May 1 to May 2. See the table."' in svg
    assert ">May 1</text>" in svg and ">May 2</text>" in svg
    assert ">Day (UTC)</text>" in svg and ">Credits</text>" in svg
    assert chart.legend == (("summary", "s0"),)  # only series that drew something
    html = str(chart)
    assert html.startswith('<figure class="chart-figure" id="chart"><figcaption>Credits per day')
    assert '<ul class="chart-legend"' in html and "summary</li>" in html
    assert "unused" not in html


def test_x_labels_are_thinned_for_long_ranges() -> None:
    days = [D1 + timedelta(days=n) for n in range(366)]
    chart = bar_chart(
        categories=days, series=["s"], values={(days[0], "s"): 1}, title="T", max_labels=8
    )
    assert len(re.findall(r'class="axis tick-x"', str(chart.svg))) <= 8


def test_empty_data_draws_no_bars_and_says_so() -> None:
    chart = bar_chart(categories=[D1, D2], series=["summary"], values={}, title="Calls")
    svg = str(chart.svg)
    assert chart.is_empty
    assert "<rect" not in svg
    assert "No data for this period" in svg
    assert 'aria-label="Calls: no data, May 1 to May 2"' in svg
    assert chart.ticks == (0, 1)
    assert "chart-legend" not in str(chart)


def test_no_categories_at_all_still_renders() -> None:
    chart = bar_chart(categories=[], series=[], values={}, title="Calls")
    assert "<svg" in str(chart.svg) and chart.is_empty


def test_text_is_escaped() -> None:
    chart = bar_chart(categories=["<a>"], series=['"x"'], values={("<a>", '"x"'): 1}, title="<b>")
    html = str(chart)
    assert "<a>" not in html and "<b>" not in html
    assert "&lt;a&gt;" in html and "&quot;x&quot;" in html


def test_number_formatting() -> None:
    assert format_number(1234) == "1,234"
    assert format_number(2.5) == "2.5"
    assert format_number(3.0) == "3"
    assert with_unit(1, "calls") == "1 call"
    assert with_unit(2, "calls") == "2 calls"
    assert day_label(date(2024, 12, 9)) == "Dec 9"
    assert day_label("x") == "x"
