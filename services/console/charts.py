"""Server-side inline-SVG bar charts (per day by series, stacked or grouped), no JavaScript."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Series colours are CSS classes s0…s11 (static/css/console.css), so dark mode can restyle them.
PALETTE_SIZE = 12

Number = int | float


@dataclass(frozen=True)
class Bar:
    """One drawn rectangle: `value` of `series` on `category`, in SVG user units."""

    category: Hashable
    series: str
    value: Number
    x: float
    y: float
    width: float
    height: float
    css_class: str
    tooltip: str


@dataclass(frozen=True)
class BarChart:
    """A rendered chart. `{{ chart }}` in a template renders the figure (SVG and legend);
    `svg`, `bars`, `ticks` and `legend` are there for callers and tests."""

    title: str
    svg: SafeString
    bars: tuple[Bar, ...]
    ticks: tuple[Number, ...]
    legend: tuple[tuple[str, str], ...]
    chart_id: str

    @property
    def is_empty(self) -> bool:
        return not self.bars

    def legend_html(self) -> SafeString:
        if not self.legend:
            return mark_safe("")
        items = format_html_join(
            "",
            '<li><span class="swatch {}" aria-hidden="true"></span>{}</li>',
            ((css, name) for name, css in self.legend),
        )
        return format_html('<ul class="chart-legend" aria-label="Legend">{}</ul>', items)

    def __html__(self) -> str:
        return str(
            format_html(
                '<figure class="chart-figure" id="{}"><figcaption>{}</figcaption>{}{}</figure>',
                self.chart_id,
                self.title,
                self.svg,
                self.legend_html(),
            )
        )

    def __str__(self) -> str:
        return self.__html__()


def format_number(value: Number) -> str:
    """1234 → "1,234"; 2.5 → "2.5"."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def nice_ticks(maximum: Number, count: int = 4, *, integer: bool = True) -> list[Number]:
    """Axis ticks from 0 to a round number ≥ `maximum`, about `count` steps of 1, 2, 2.5 or 5
    times a power of ten (whole numbers only when `integer`). An empty scale is [0, 1]."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step: Number = magnitude * 10
    for factor in (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            step = factor * magnitude
            break
    if integer:
        step = max(1, math.ceil(step))
    steps = math.ceil(maximum / step - 1e-9)
    ticks: list[Number] = []
    for i in range(steps + 1):
        tick = round(i * step, 10)
        ticks.append(int(tick) if float(tick).is_integer() else tick)
    return ticks


def day_label(value: Any) -> str:
    """A short axis label: dates as "May 4", anything else as str()."""
    if isinstance(value, date):
        return f"{value:%b} {value.day}"
    return str(value)


def with_unit(value: Number, unit: str) -> str:
    """ "1 call", "3 calls": a unit given in the plural loses its "s" for exactly one."""
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{format_number(value)} {unit}".strip()


def _key(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _c(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    *,
    categories: Sequence[Hashable],
    series: Sequence[str],
    values: Mapping[tuple[Any, str], Number],
    title: str,
    unit: str = "",
    stacked: bool = True,
    x_label: str = "Day (UTC)",
    category_label: Callable[[Any], str] = day_label,
    description: str = "",
    chart_id: str = "chart",
    width: int = 720,
    height: int = 240,
    max_labels: int = 8,
    integer: bool = True,
) -> BarChart:
    """Bars of `values[(category, series)]` for each category (in order), one colour per series.

    `stacked` piles a category's series into one column; otherwise they stand side by side.
    Values ≤ 0 draw nothing. Each bar carries a <title> tooltip and data-* attributes; the SVG
    has role="img" and an aria-label that sums it up — give the same numbers in a table too.
    Pure: no database, no request.
    """
    left, right, top, bottom = 52, 8, 10, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    unit_name = unit or "value"
    css = {name: f"s{i % PALETTE_SIZE}" for i, name in enumerate(series)}

    def value_of(category: Any, name: str) -> Number:
        v = values.get((category, name), 0) or 0
        return v if v > 0 else 0

    if stacked:
        peak = max((sum(value_of(c, s) for s in series) for c in categories), default=0)
    else:
        peak = max((value_of(c, s) for c in categories for s in series), default=0)
    ticks = nice_ticks(peak, integer=integer)
    scale_top = ticks[-1]

    def y_of(v: Number) -> float:
        return top + plot_h - (v / scale_top) * plot_h

    n = max(len(categories), 1)
    slot = plot_w / n
    bars: list[Bar] = []
    for index, category in enumerate(categories):
        slot_x = left + index * slot
        label = _key(category)
        if stacked:
            bar_w = max(slot * 0.7, 0.5)
            x = slot_x + (slot - bar_w) / 2
            base = 0.0
            for name in series:
                v = value_of(category, name)
                if not v:
                    continue
                y = y_of(base + v)
                h = y_of(base) - y
                base += v
                bars.append(
                    Bar(
                        category,
                        name,
                        v,
                        x,
                        y,
                        bar_w,
                        h,
                        css[name],
                        f"{label} · {name}: {with_unit(v, unit)}",
                    )
                )
        else:
            group_w = slot * 0.8
            bar_w = max(group_w / max(len(series), 1), 0.5)
            for position, name in enumerate(series):
                v = value_of(category, name)
                if not v:
                    continue
                x = slot_x + (slot - group_w) / 2 + position * bar_w
                y = y_of(v)
                bars.append(
                    Bar(
                        category,
                        name,
                        v,
                        x,
                        y,
                        bar_w,
                        y_of(0) - y,
                        css[name],
                        f"{label} · {name}: {with_unit(v, unit)}",
                    )
                )

    parts: list[str] = []
    # Horizontal grid lines with their values on the y axis.
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            format_html(
                '<line class="grid-line" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
                '<text class="axis tick-y" x="{}" y="{}" text-anchor="end" '
                'dominant-baseline="middle">{}</text>',
                _c(left),
                _c(left + plot_w),
                _c(y),
                _c(y),
                _c(left - 6),
                _c(y),
                format_number(tick),
            )
        )
    # Category labels, thinned so that at most `max_labels` show.
    every = max(1, math.ceil(len(categories) / max(max_labels, 1)))
    for index, category in enumerate(categories):
        if index % every:
            continue
        parts.append(
            format_html(
                '<text class="axis tick-x" x="{}" y="{}" text-anchor="middle">{}</text>',
                _c(left + index * slot + slot / 2),
                _c(top + plot_h + 14),
                category_label(category),
            )
        )
    # Axis titles.
    parts.append(
        format_html(
            '<text class="axis axis-label" x="{}" y="{}" text-anchor="middle">{}</text>',
            _c(left + plot_w / 2),
            _c(height - 4),
            x_label,
        )
    )
    parts.append(
        format_html(
            '<text class="axis axis-label" x="12" y="{}" text-anchor="middle" '
            'transform="rotate(-90 12 {})">{}</text>',
            _c(top + plot_h / 2),
            _c(top + plot_h / 2),
            unit_name.capitalize(),
        )
    )
    for bar in bars:
        parts.append(
            format_html(
                '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}" '
                'data-category="{}" data-series="{}" data-value="{}"><title>{}</title></rect>',
                bar.css_class,
                _c(bar.x),
                _c(bar.y),
                _c(bar.width),
                _c(bar.height),
                _key(bar.category),
                bar.series,
                format_number(bar.value),
                bar.tooltip,
            )
        )
    if not bars:
        parts.append(
            format_html(
                '<text class="axis empty-note" x="{}" y="{}" text-anchor="middle">{}</text>',
                _c(left + plot_w / 2),
                _c(top + plot_h / 2),
                "No data for this period",
            )
        )

    total = sum(bar.value for bar in bars)
    if categories:
        span = f"{category_label(categories[0])} to {category_label(categories[-1])}"
    else:
        span = "no period"
    summary = (
        f"{title}: {with_unit(total, unit)} in all, {span}" if bars else f"{title}: no data, {span}"
    )
    if description:
        summary = f"{summary}. {description}"
    svg = format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMidYMid meet">{}</svg>',
        width,
        height,
        summary,
        mark_safe("".join(parts)),  # noqa: S308 - built with format_html
    )
    used = [name for name in series if any(bar.series == name for bar in bars)]
    return BarChart(
        title=title,
        svg=svg,
        bars=tuple(bars),
        ticks=tuple(ticks),
        legend=tuple((name, css[name]) for name in used),
        chart_id=chart_id,
    )
