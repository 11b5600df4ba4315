"""The cluster page's compute panel: the period's document (compliance.compute.selectors.cluster_compute)
and the geometry of its two charts, numbers in and coordinates out (the templates draw the SVG, so every
label is autoescaped).

GPU-hours per week and chip model reuse the shared line chart.  Operations need a log scale — a week
of a small cluster is ~1e21, the thresholds are 1e25 and 1e26 — so the timeline is drawn here: each
detected run as a box spanning its hours horizontally and its operations range vertically, the
cluster's cumulative lower and upper bound as two lines, and the thresholds as horizontal rules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max
from django.urls import reverse

from ..api.compute import ComputeQuerySerializer
from ..compute import selectors
from ..compute.models import ComputeBucket
from . import charts

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 1000, 64, 150, 10, 200
SERIES_CSS = ("series-chip-0", "series-chip-1", "series-chip-2", "series-chip-3")


@dataclass
class RunBox:
    x: float
    y: float
    width: float
    height: float
    label: str
    href: str


@dataclass
class Rule:
    y: float
    label: str
    citation: str
    status: str


@dataclass
class OpsTimeline:
    title: str
    width: int = WIDTH
    height: int = BOTTOM + 30
    left: int = LEFT
    right: int = WIDTH - RIGHT
    bottom: int = BOTTOM
    ticks: list[tuple[float, str]] = field(default_factory=list)
    labels: list[tuple[float, str]] = field(default_factory=list)
    lower: str = ""
    upper: str = ""
    rules: list[Rule] = field(default_factory=list)
    runs: list[RunBox] = field(default_factory=list)


def ops_timeline(document: dict) -> OpsTimeline:
    """Runs, cumulative bounds and thresholds on one log-scaled time axis."""
    start, end = datetime.fromisoformat(document["start"]), datetime.fromisoformat(document["end"])
    chart = OpsTimeline(title="Estimated operations (log scale): runs, cumulative bounds, thresholds")
    values = [t["value"] for t in document["thresholds"] if t["kind"] == "operations"]
    values += [r["ops_upper"] or r["ops_lower"] for r in document["runs"]]
    values += [document["totals"]["ops_upper"] or document["totals"]["ops_lower"]]
    top_decade = math.ceil(math.log10(max(v for v in values if v) * 1.5))
    bottom_decade = top_decade - 9
    span_seconds = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        share = min(max((moment - start).total_seconds() / span_seconds, 0.0), 1.0)
        return round(chart.left + (chart.right - chart.left) * share, 1)

    def y_of(value: float) -> float:
        decade = math.log10(value) if value > 0 else bottom_decade
        share = (min(max(decade, bottom_decade), top_decade) - bottom_decade) / (top_decade - bottom_decade)
        return round(chart.bottom - (chart.bottom - TOP) * share, 1)

    chart.ticks = [(y_of(10.0 ** d), f"1e{d}") for d in range(bottom_decade, top_decade + 1, 2)]
    weeks = document["weeks"]
    chart.labels = [(x_of(datetime.fromisoformat(w["week"]).replace(tzinfo=start.tzinfo)), w["week"][5:])
                    for w in weeks]
    lower = upper = 0.0
    lower_points, upper_points = [], []
    for week in weeks:
        moment = datetime.fromisoformat(week["week"]).replace(tzinfo=start.tzinfo)
        lower += week["ops_lower"]
        upper = None if upper is None or week["ops_upper"] is None else upper + week["ops_upper"]
        lower_points.append(f"{x_of(moment)},{y_of(lower)}")
        if upper is not None:
            upper_points.append(f"{x_of(moment)},{y_of(upper)}")
    chart.lower, chart.upper = " ".join(lower_points), " ".join(upper_points)
    chart.rules = [Rule(y=y_of(t["value"]), label=f"{t['value']:.0e} {t['key']}", citation=t["citation"],
                        status=t["status"]) for t in document["thresholds"] if t["kind"] == "operations"]
    for run in document["runs"]:
        x0, x1 = x_of(datetime.fromisoformat(run["start"])), x_of(datetime.fromisoformat(run["end"]))
        y_top = y_of(run["ops_upper"]) if run["ops_upper"] is not None else TOP
        y_low = y_of(run["ops_lower"])
        upper_text = "unbounded" if run["ops_upper"] is None else f"{run['ops_upper']:.2g}"
        chart.runs.append(RunBox(
            x=x0, y=y_top, width=max(x1 - x0, 2.0), height=max(y_low - y_top, 2.0),
            label=(f"{run['peak_gpus']} GPUs, {run['start'][:13]}h – {run['end'][:13]}h UTC, "
                   f"{run['gpu_hours']:,.0f} GPU-hours, {run['ops_lower']:.2g}–{upper_text} operations"),
            href=reverse("web:finding", args=[run["finding_id"]]) if run["finding_id"] else ""))
    return chart


def gpu_hours_chart(document: dict) -> charts.LineChart:
    weeks = [w["week"] for w in document["weeks"]]
    chips = sorted({r["chip_name"] for r in document["rows"]})
    hours = {(r["week"], r["chip_name"]): r["gpu_hours"] for r in document["rows"]}
    return charts.line_chart("GPU-hours per week by chip model", [w[5:] for w in weeks],
                             [(chip or "unnamed", SERIES_CSS[i % len(SERIES_CSS)],
                               [round(hours.get((w, chip), 0)) for w in weeks]) for i, chip in enumerate(chips)])


def compute_panel(*, cluster_id: int, params) -> dict:
    """The panel's context: the period asked for (`compute_start`/`compute_end`, dates) or the last
    12 weeks, its document and charts; an unreadable period is named and the default shown."""
    query = ComputeQuerySerializer(data={k: params[f"compute_{k}"] for k in ("start", "end")
                                         if params.get(f"compute_{k}")})
    error = None
    if not query.is_valid():
        error = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in query.errors.items())
        query = ComputeQuerySerializer(data={})
        query.is_valid(raise_exception=True)
    period = query.validated_data
    document = selectors.cluster_compute(cluster_id=cluster_id, start=period["start"], end=period["end"])
    # The panel reads the rollup, not raw samples: say how fresh it is, so an empty panel is not read as "idle".
    rolled_up_at = ComputeBucket.objects.filter(cluster_id=cluster_id).aggregate(at=Max("computed_at"))["at"]
    return {"doc": document, "error": error, "rolled_up_at": rolled_up_at, "start": period["start"].date(), "end": period["end"].date(),
            "gpu_hours_chart": gpu_hours_chart(document) if document["weeks"] else None,
            "timeline": ops_timeline(document)}
