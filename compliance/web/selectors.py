"""Reads for the officer UI: the dashboard's aggregates, all narrowed to the viewer's scope.

Every figure is one aggregate query (GROUP BY in the database), never a loop over the fleet.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, Max, OuterRef, Subquery, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from inventory.models import Gpu, Organization
from inventory.selectors import organization_roots

from ..access.scope import Scope
from ..models import ClusterScore, Finding, FindingEvent

UNRESOLVED = (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED)
CLOSED = (Finding.Status.RESOLVED, Finding.Status.FALSE_POSITIVE)
FINDING_SCOPE = ("organization", "cluster__operator")


def _label(value, *, missing: str, empty: str) -> str:
    if value is None:
        return missing
    return value or empty


# Each figure comes with the GPU/cluster/finding list filters that select what it counts (None: no
# filter can, e.g. GPUs not classified yet), so a dashboard bar opens its rows.

def gpus_by_model(scope: Scope) -> list[tuple[str, int, dict | None]]:
    rows = (scope.filter(Gpu.objects.all(), ("host__cluster__operator",))
            .values("classification__catalog_model").annotate(n=Count("id")).order_by())
    return [(_label(r["classification__catalog_model"], missing="not yet classified", empty="no catalog match"),
             r["n"], {"model": r["classification__catalog_model"]} if r["classification__catalog_model"] else None)
            for r in rows]


def gpus_by_classification(scope: Scope) -> list[tuple[str, int, dict | None]]:
    rows = (scope.filter(Gpu.objects.all(), ("host__cluster__operator",))
            .values("classification__eccn", "classification__paragraph").annotate(n=Count("id")).order_by())
    out, params = defaultdict(int), {}
    for r in rows:
        eccn = _label(r["classification__eccn"], missing="not yet classified", empty="not 3A090")
        label = r["classification__paragraph"] or eccn
        out[label] += r["n"]
        if r["classification__eccn"]:
            params[label] = {"eccn": r["classification__eccn"], "paragraph": r["classification__paragraph"] or ""}
    return [(label, n, params.get(label)) for label, n in out.items()]


def latest_scores(scope: Scope):
    """Each cluster's most recent score (the fleet's current figures)."""
    newest = (ClusterScore.objects.filter(cluster_id=OuterRef("cluster_id")).order_by()
              .values("cluster_id").annotate(newest=Max("as_of")).values("newest"))
    return scope.filter(ClusterScore.objects.filter(as_of=Subquery(newest)), ("cluster__operator",))


def compute_by_country(scope: Scope) -> list[dict]:
    rows = (latest_scores(scope).values("cluster__site__country")
            .annotate(tpp=Sum("aggregate_tpp"), h100e=Sum("h100_equivalents"), clusters=Count("id"))
            .order_by("cluster__site__country"))
    return [{"label": r["cluster__site__country"], "tpp": r["tpp"], "h100e": r["h100e"],
             "clusters": r["clusters"]} for r in rows]


def compute_by_family(scope: Scope) -> list[dict]:
    """Summed per operator in SQL, then per ultimate parent (one query per ownership level)."""
    rows = list(latest_scores(scope).values("cluster__operator_id")
                .annotate(tpp=Sum("aggregate_tpp"), h100e=Sum("h100_equivalents"), clusters=Count("id"))
                .order_by())
    root_of = organization_roots([r["cluster__operator_id"] for r in rows])
    names = dict(Organization.objects.filter(id__in=set(root_of.values())).values_list("id", "name"))
    families = defaultdict(lambda: {"tpp": 0.0, "h100e": 0.0, "clusters": 0})
    for r in rows:
        family = families[root_of[r["cluster__operator_id"]]]
        family["tpp"] += r["tpp"]
        family["h100e"] += r["h100e"]
        family["clusters"] += r["clusters"]
    return sorted(({"label": names[root], "root_id": root, **figures} for root, figures in families.items()),
                  key=lambda f: f["label"])


def unresolved_findings(scope: Scope, by: str) -> list[tuple[str, int, dict]]:
    rows = (scope.filter(Finding.objects.filter(status__in=UNRESOLVED), FINDING_SCOPE)
            .values(by).annotate(n=Count("id")).order_by())
    unresolved = {"status": [str(status) for status in UNRESOLVED]}
    if by == "severity":
        labels = dict(Finding.Severity.choices)
        return [(labels.get(r["severity"], str(r["severity"])), r["n"],
                 {"severity": labels.get(r["severity"], str(r["severity"])), **unresolved}) for r in rows]
    return [(r[by], r["n"], {by: r[by], **unresolved}) for r in rows]


def findings_over_time(scope: Scope, *, weeks: int = 12) -> tuple[list[str], list[int], list[int]]:
    """Per week: findings raised, and findings closed (resolved or false positive)."""
    today = timezone.now()
    start = (today - timedelta(weeks=weeks - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=start.weekday())
    week_starts = [(start + timedelta(weeks=i)).date() for i in range(weeks)]
    findings = scope.filter(Finding.objects.all(), FINDING_SCOPE)

    def per_week(queryset, field: str) -> dict:
        rows = (queryset.filter(**{f"{field}__gte": start}).annotate(week=TruncWeek(field))
                .values("week").annotate(n=Count("id")).order_by())
        return {(r["week"].date() if hasattr(r["week"], "date") else r["week"]): r["n"] for r in rows}

    raised = per_week(findings, "first_seen")
    closed = per_week(FindingEvent.objects.filter(to_status__in=CLOSED, finding__in=findings), "at")
    return ([w.strftime("%d %b") for w in week_starts], [raised.get(w, 0) for w in week_starts],
            [closed.get(w, 0) for w in week_starts])
