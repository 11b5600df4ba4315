"""relocation — a GPU reported at one site and later at another.

Pattern.  The per-GPU time series (GpuSample: GPU → host → cluster → site) over the last
CHIPWATCH_RELOCATION_LOOKBACK_DAYS is cut into one reporting period per site (server receive
times, which the host cannot back-date).  Two periods one after the other — the GPU stopped
reporting at site A before it started at site B — are a move.  Periods that overlap are
the same identity at two sites at once, which ``duplicate_identity`` judges; a GPU that
returns to a site it left is therefore not reported here.  Limits: the site of a sample is
its host's *current* cluster (hosts have no cluster history), so re-assigning a host to
another cluster moves its whole history with it and is not seen as a move.

A move is judged against the records: a Transfer for the GPU to the new site (from the old
one or from anywhere) dated on or before its first report there makes it authorised, and
the licence determination of the core (``determine_license`` for the GPU's catalog model,
the site's country, and the operator's and ultimate parent's headquarters) says whether the
new place needs a licence the old one did not.

Red flag.  Supp. No. 3 to part 732 and the May 13 2025 BIS diversion guidance (transshipment,
ultimate delivery address differing from the customer's; BIS, Industry Guidance to Prevent Diversion of Advanced Computing ICs, May 13 2025); the proposed Chip
Security Act's duty to report a product "in a location other than licensed" (S.1705 / H.R.3447, Sec. 4).

Evidence.  Per GPU: the old and new site and country, the last observation at the old site
and the first at the new one, the Transfer if any, and the licence determinations at both.

Severity.  Critical when the new place needs a licence the old one did not and none is on
record (for the operator or its ultimate parent); high for a border crossed with no Transfer;
medium for a move within a country with no Transfer.  An authorised move (Transfer on record)
that needs no new licence is not a finding.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Min
from django.utils import timezone

from inventory.models import Cluster, GpuSample, Transfer

from ..findings import FindingSpec
from ..selectors import Holding, families, holding, licence_holders
from ._fleet import Severity, Subject, in_scope, licences_on_record

KIND = "relocation"
CITATION = ("15 CFR part 732 Supp. No. 3 (red flags); BIS diversion guidance of May 13 2025; "
            "Chip Security Act (S.1705/H.R.3447, proposed) on unlicensed locations")


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    since = timezone.now() - timedelta(days=settings.CHIPWATCH_RELOCATION_LOOKBACK_DAYS)
    window = GpuSample.objects.filter(observation__received_at__gte=since, host__cluster__isnull=False)
    moved = window.values("gpu_id").annotate(sites=Count("host__cluster__site_id", distinct=True)).filter(sites__gte=2)
    if host_ids is not None:
        moved = moved.filter(gpu_id__in=in_scope(window, host_ids).values("gpu_id"))
    periods = (window.filter(gpu_id__in=moved.values("gpu_id"))
               .values("gpu_id", site_id=F("host__cluster__site_id"))
               .annotate(uuid=Max("gpu__uuid"), model=Max("gpu__classification__catalog_model"),
                         cluster_id=Max("host__cluster_id"), host_id=Max("host_id"),
                         first=Min("observation__received_at"), last=Max("observation__received_at"),
                         first_observation_id=Min("observation_id"), last_observation_id=Max("observation_id"))
               .order_by("gpu_id", "first"))
    by_gpu = defaultdict(list)
    for period in periods:
        by_gpu[period["gpu_id"]].append(period)
    moves = [(old, new) for gpu_periods in by_gpu.values()
             for old, new in zip(gpu_periods, gpu_periods[1:]) if old["last"] < new["first"]]
    if not moves:
        return
    judge = _Judge({p["cluster_id"] for move in moves for p in move}, {move[0]["uuid"] for move in moves})
    by_route = defaultdict(list)
    for old, new in moves:
        verdict = judge(old, new)
        if verdict is not None:
            by_route[(old["site_id"], new["site_id"])].append(verdict)
    for (old_site, new_site), gpus in by_route.items():
        newest = max(gpus, key=lambda g: g["arrived"])
        cluster = judge.clusters[newest["new_cluster_id"]]
        yield FindingSpec(
            kind=KIND,
            severity=max(g["severity"] for g in gpus),
            subject_type=Subject.CLUSTER,
            subject_id=cluster.id,
            dedup_key=f"{KIND}:site{old_site}-site{new_site}",
            title=(f"{len(gpus)} GPU(s) moved from {gpus[0]['from']} to {gpus[0]['to']}"
                   + ("" if any(g["transfer"] for g in gpus) else " with no recorded transfer")),
            citation=CITATION,
            observation_ids=tuple(obs for g in gpus for obs in (g["left_observation_id"], g["arrived_observation_id"])),
            figures={"gpus": sorted(({k: v for k, v in g.items() if k not in ("severity", "new_cluster_id")}
                                     for g in gpus), key=lambda g: g["uuid"])},
            cluster_id=cluster.id,
            organization_id=cluster.operator_id,
        )


class _Judge:
    """Severity of one move, from the Transfers and licence determinations it touches."""

    def __init__(self, cluster_ids: set[int], uuids: set[str]):
        self.clusters = {c.id: c for c in Cluster.objects.filter(pk__in=cluster_ids).select_related("site")}
        self.transfers = defaultdict(list)
        for transfer in Transfer.objects.filter(gpu_uuid__in=uuids):
            self.transfers[transfer.gpu_uuid].append(transfer)
        self.families = families()
        self.today = timezone.localdate()

    def __call__(self, old: dict, new: dict) -> dict | None:
        before, after = self.clusters[old["cluster_id"]], self.clusters[new["cluster_id"]]
        transfer = next((t for t in self.transfers[new["uuid"]] if t.to_site_id == new["site_id"]
                         and t.from_site_id in (None, old["site_id"]) and t.effective_date <= new["first"].date()), None)
        crossed = before.site.country != after.site.country
        needed_before, needed_after = self._needs(old["model"], before), self._needs(new["model"], after)
        unlicensed = needed_after and not needed_before and not licences_on_record(
            holders=licence_holders(after, self.families),
            country=after.site.country, site_id=after.site_id, eccn=needed_after.eccn, as_of=self.today)
        if unlicensed:
            severity = Severity.CRITICAL
        elif transfer is not None:
            return None
        else:
            severity = Severity.HIGH if crossed else Severity.MEDIUM
        return {
            "uuid": new["uuid"], "catalog_model": new["model"], "severity": severity,
            "from": f"{before.site.name} ({before.site.country})", "to": f"{after.site.name} ({after.site.country})",
            "left": old["last"].isoformat(), "arrived": new["first"].isoformat(),
            "left_observation_id": old["last_observation_id"], "arrived_observation_id": new["first_observation_id"],
            "transfer": transfer.pk if transfer else None, "border_crossed": crossed,
            "licence_required_before": bool(needed_before), "licence_required_after": bool(needed_after),
            "licence_reasons_after": list(needed_after.determination.reasons) if needed_after else [],
            "new_cluster_id": after.id,
        }

    def _needs(self, model: str | None, cluster: Cluster) -> Holding | None:
        """The holding of ``model`` in ``cluster`` when it needs a licence, else None."""
        if not model:
            return None
        family = self.families[cluster.operator_id]
        verdict = holding(model, country=cluster.site.country, headquarters=family.headquarters,
                          ultimate_parent_hq=family.ultimate_parent_hq, as_of=self.today)
        return verdict if verdict is not None and verdict.license_required else None
