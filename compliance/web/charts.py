"""Chart geometry for server-side inline SVG: numbers in, coordinates out.

The templates (web/charts/*.html) draw the SVG, so every label goes through Django's
autoescaping; nothing here builds markup.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, BAR_AREA, VALUE_WIDTH = 18, 6, 170, 260, 80


@dataclass
class Bar:
    label: str
    value: float
    display: str
    y: int
    width: float
    css: str = ""
    href: str = ""


@dataclass
class BarChart:
    title: str
    bars: list[Bar]
    width: int = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    label_width: int = LABEL_WIDTH
    value_x: int = LABEL_WIDTH + BAR_AREA + 6
    height: int = 0
    empty_text: str = "nothing to show yet"

    def __post_init__(self):
        self.height = max(len(self.bars), 1) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower())


def _display(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def bar_chart(title: str, items: list[tuple[str, float]], *, css: dict[str, str] | None = None,
              links: dict[str, str] | None = None, limit: int = 12) -> BarChart:
    """Horizontal bars, largest first (at most `limit`, the rest summed into "other").

    `links` maps a label to the page listing what its bar counts (the bar is then a link).
    """
    items = sorted(items, key=lambda item: (-item[1], item[0]))
    if len(items) > limit:
        items = items[:limit - 1] + [("other", sum(value for _, value in items[limit - 1:]))]
    top = max((value for _, value in items), default=0) or 1
    bars = [
        Bar(label=label, value=value, display=_display(value), y=BAR_GAP + i * (BAR_HEIGHT + BAR_GAP),
            width=round(BAR_AREA * value / top, 1), css=(css or {}).get(label, ""),
            href=(links or {}).get(label, ""))
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(title=title, bars=bars)


@dataclass
class Series:
    name: str
    css: str
    points: str = ""
    dots: list[tuple[float, float, int]] = field(default_factory=list)


@dataclass
class LineChart:
    title: str
    labels: list[tuple[float, str]]
    series: list[Series]
    ticks: list[tuple[float, int]]
    width: int = 1000
    height: int = 210
    left: int = 36
    bottom: int = 180


def line_chart(title: str, labels: list[str], series: list[tuple[str, str, list[int]]]) -> LineChart:
    """One polyline per series over shared x labels (e.g. weeks)."""
    chart = LineChart(title=title, labels=[], series=[], ticks=[])
    top = max((max(values, default=0) for _, _, values in series), default=0) or 1
    span_x = chart.width - chart.left - 40
    step = span_x / max(len(labels) - 1, 1)
    plot_height = chart.bottom - 10

    def y_of(value: float) -> float:
        return round(chart.bottom - plot_height * value / top, 1)

    chart.labels = [(round(chart.left + i * step, 1), label) for i, label in enumerate(labels)]
    chart.ticks = [(y_of(v), v) for v in sorted({0, top // 2, top})]
    for name, css, values in series:
        dots = [(round(chart.left + i * step, 1), y_of(v), v) for i, v in enumerate(values)]
        chart.series.append(Series(name=name, css=css, points=" ".join(f"{x},{y}" for x, y, _ in dots), dots=dots))
    return chart
