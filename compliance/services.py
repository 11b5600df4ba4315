"""Writes of the compliance side: evaluations, classifications, scores.

The law lives in `compliance.core` (pure); this module feeds it inventory rows and
stores what it answers.  Fleet-wide work is set-based: one aggregate query over
the GPU table, the core run once per (chip, date), bulk writes.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from chipwatch_agent.protocol import canonical_json, sha256_hex

from compliance.attestation.selectors import attestation_as_of, attested_compute_share
from inventory.models import Cluster, Gpu, Host, License
from inventory.selectors import full_identities_as_of

from .core import InsufficientSpec, chip as catalog_chip, classify, score_cluster
from .identify import identify
from .models import ClusterScore, Finding, GpuClassification
from .selectors import Family, families, holding, licence_holders

log = logging.getLogger(__name__)


def hosts_pending_evaluation(*, older_than_seconds: float, limit: int = 10_000) -> list[int]:
    """Hosts marked longer ago than the bound: their evaluation message was lost (or is still
    queued behind a backlog, when re-enqueueing costs a no-op).  Fresh marks have a message."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(Host.objects.filter(needs_evaluation__lte=cutoff).order_by("needs_evaluation")
                .values_list("id", flat=True)[:limit])


def host_evaluate(*, host_id: int, as_of: date | None = None) -> None:
    """Classify the host's GPUs, re-score its cluster, run the host detectors, clear the outbox mark.

    Idempotent: the same inputs write the same rows.  The mark is cleared only if no
    newer report set it meanwhile (compare-and-clear), so no evaluation is lost.
    """
    host = Host.objects.filter(pk=host_id).only("id", "cluster_id", "needs_evaluation").first()
    if host is None or host.needs_evaluation is None:
        return
    marked_at = host.needs_evaluation
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        gpus_classify(gpus=Gpu.objects.filter(host_id=host_id), as_of=as_of)
        if host.cluster_id is not None:
            clusters_score(cluster_ids=[host.cluster_id], as_of=as_of)
        from .detectors import run_host_detectors

        run_host_detectors(host_id=host_id)
        cleared = Host.objects.filter(pk=host_id, needs_evaluation=marked_at).update(needs_evaluation=None)
        if not cleared:
            # A report arrived while we evaluated; it did not enqueue (one was pending): we do.
            from .tasks import evaluate_host

            transaction.on_commit(lambda: evaluate_host.delay(host_id))


def gpus_classify(*, gpus, as_of: date) -> int:
    """Match each GPU to the catalog and store its classification (bulk upsert)."""
    now = timezone.now()
    rows = []
    for gpu in gpus.only("id", "name", "pci_device_id", "last_observation_id"):
        match = identify(pci_device_id=gpu.pci_device_id, name=gpu.name)
        eccn = paragraph = rule = ""
        if match.chip is not None:
            try:
                verdict = classify(match.chip, as_of)
                eccn, paragraph, rule = verdict.eccn or "", verdict.paragraph or "", verdict.rule or ""
            except InsufficientSpec as missing:
                paragraph, rule = "undetermined", missing.needed_for[:120]
        rows.append(GpuClassification(
            gpu_id=gpu.id, catalog_model=match.chip.key if match.chip else "", match_basis=match.basis[:200],
            eccn=eccn, paragraph=paragraph, rule=rule, as_of=as_of, evaluated_at=now,
            observation_id=gpu.last_observation_id,
        ))
    GpuClassification.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["gpu"],
        update_fields=["catalog_model", "match_basis", "eccn", "paragraph", "rule", "as_of", "evaluated_at",
                       "observation"],
    )
    return len(rows)


# --- cluster scores --------------------------------------------------------------


def _licenses_in_force(as_of: date) -> dict[int, list[License]]:
    """Licences valid on `as_of`, by holder, with their site scope prefetched."""
    by_holder = defaultdict(list)
    valid = License.objects.filter(valid_from__lte=as_of).exclude(valid_until__lt=as_of).prefetch_related("sites")
    for lic in valid:
        by_holder[lic.holder_id].append(lic)
    return by_holder


def _licenses_at(by_holder: dict[int, list[License]], cluster: Cluster,
                 family_of: dict[int, Family]) -> list[tuple[str, tuple[str, ...]]]:
    """(number, ECCNs) of the licences any of the cluster's licence holders has for its country and site."""
    country, site_id = cluster.site.country, cluster.site_id
    return sorted({
        (lic.number, tuple(lic.eccns))
        for holder in licence_holders(cluster, family_of) for lic in by_holder.get(holder, [])
        if lic.destination_country == country
        and (not lic.sites.all() or any(s.id == site_id for s in lic.sites.all()))
    })


_SUMMARY_FIELDS = ("eccn", "paragraph", "rule", "tpp", "performance_density", "license_exception")


@lru_cache(maxsize=8192)
def _model_verdict(key: str, as_of: date, country: str, headquarters: str, ultimate_parent_hq: str,
                   explain: bool) -> dict:
    """`holding()` as JSON for a score's figures; without `explain` the classification is
    summarised (the audit report carries every threshold).  Cached like `holding`."""
    found = holding(key, country=country, headquarters=headquarters, ultimate_parent_hq=ultimate_parent_hq,
                    as_of=as_of)
    if found is None:
        return {"classification": None, "undetermined": "a figure the rule in force needs is not in the catalog"}
    classification = found.classification.to_dict()
    if not explain:
        classification = {name: classification[name] for name in _SUMMARY_FIELDS}
    return {"classification": classification, "license": found.determination.to_dict()}


def cluster_figures(*, counts: dict[str, int], unidentified: int, as_of: date, country: str, headquarters: str,
                    ultimate_parent_hq: str, licenses: list[tuple[str, tuple[str, ...]]],
                    explain: bool = False) -> dict:
    """Everything the law says about one cluster's inventory on `as_of`: the core's score, the
    licence determination per controlled model, and what could not be identified."""
    chips = {key: catalog_chip(key) for key in counts}
    determinations, controlled_eccns = {}, set()
    for key in sorted(chips):
        determinations[key] = verdict = _model_verdict(key, as_of, country, headquarters, ultimate_parent_hq,
                                                       explain)
        if verdict.get("license", {}).get("license_required") and verdict["classification"]["eccn"]:
            controlled_eccns.add(verdict["classification"]["eccn"])
    license_required = any(d.get("license", {}).get("license_required") for d in determinations.values())
    # A licence with no ECCN list covers everything at its destination; otherwise it must name each one.
    covering = [number for number, eccns in licenses if not eccns or controlled_eccns <= set(eccns)]
    licensed = not license_required or bool(covering)
    score = score_cluster([(chips[k], n) for k, n in counts.items()], as_of=as_of, licensed=licensed)
    figures = score.to_dict()
    figures.update({
        "unidentified_gpus": unidentified,
        "destination": country,
        "headquarters": headquarters,
        "ultimate_parent_headquarters": ultimate_parent_hq,
        "license_required": license_required,
        "licenses_on_record": covering,
        "models": determinations,
    })
    return figures


def clusters_score(*, cluster_ids: list[int] | None = None, as_of: date) -> int:
    """Score clusters (all when `cluster_ids` is None) from one GROUP BY over the GPU table.

    The core runs once per cluster on its (model, count) list, never per GPU; the rows are
    upserted on (cluster, as_of), so a re-run on the same day rewrites the same figures.
    """
    gpus = Gpu.objects.filter(host__cluster__isnull=False)
    clusters = Cluster.objects.select_related("site")
    if cluster_ids is not None:
        gpus = gpus.filter(host__cluster_id__in=cluster_ids)
        clusters = clusters.filter(pk__in=cluster_ids)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    unidentified: dict[int, int] = defaultdict(int)
    for cluster_id, model, n in (gpus.values_list("host__cluster_id", "classification__catalog_model")
                                 .annotate(n=Count("id")).order_by()):
        if model:
            counts[cluster_id][model] = n
        else:
            unidentified[cluster_id] += n
    family_of = families()
    licenses = _licenses_in_force(as_of)
    now = timezone.now()
    rows = []
    for cluster in clusters:
        family = family_of[cluster.operator_id]
        figures = cluster_figures(
            counts=counts.get(cluster.id, {}), unidentified=unidentified.get(cluster.id, 0), as_of=as_of,
            country=cluster.site.country, headquarters=family.headquarters,
            ultimate_parent_hq=family.ultimate_parent_hq,
            licenses=_licenses_at(licenses, cluster, family_of),
        )
        rows.append(_score_row(cluster.id, as_of, figures, now))
    _scores_upsert(rows)
    return len(rows)


_SCORE_FIELDS = ("cluster_id", "as_of", "rule", "gpu_count", "controlled_gpu_count", "aggregate_tpp",
                 "h100_equivalents", "risk_score", "figures", "content_sha256", "computed_at")


def _scores_upsert(rows: list[ClusterScore]) -> None:
    """Insert or replace scores on (cluster, as_of).

    On PostgreSQL through COPY into a temporary table and one INSERT … ON CONFLICT: the ORM's
    bulk upsert spends most of a 10 k-cluster re-score quoting JSON into array literals.
    """
    if connection.vendor != "postgresql":
        ClusterScore.objects.bulk_create(rows, update_conflicts=True, unique_fields=["cluster", "as_of"],
                                         update_fields=[f.removesuffix("_id") for f in _SCORE_FIELDS[2:]])
        return
    columns = ", ".join(_SCORE_FIELDS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _SCORE_FIELDS[2:])
    table = ClusterScore._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropped explicitly, not ON COMMIT: an enclosing transaction may score again before it commits.
        cursor.execute(f"CREATE TEMP TABLE score_load AS SELECT {columns} FROM {table} WITH NO DATA")
        with cursor.connection.cursor().copy(f"COPY score_load ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([getattr(row, f) if f != "figures" else row.figures_json for f in _SCORE_FIELDS])
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM score_load "
                       f"ON CONFLICT (cluster_id, as_of) DO UPDATE SET {updates}")
        cursor.execute("DROP TABLE score_load")


def _score_row(cluster_id: int, as_of: date, figures: dict, now) -> ClusterScore:
    canonical = canonical_json(figures)
    row = ClusterScore(
        cluster_id=cluster_id, as_of=as_of, rule=figures["rule"] or "none in force",
        gpu_count=figures["gpu_count"] + figures["unidentified_gpus"],
        controlled_gpu_count=figures["controlled_gpus"], aggregate_tpp=figures["aggregate_tpp"],
        h100_equivalents=figures["h100_equivalents"], risk_score=figures["risk_score"], figures=figures,
        content_sha256=sha256_hex(canonical), computed_at=now,
    )
    row.figures_json = canonical.decode()  # serialised once: hashed here, loaded as-is by COPY
    return row


def fleet_rescore(*, as_of: date | None = None) -> int:
    """The periodic re-score: every cluster, then the fleet-wide detectors."""
    as_of = as_of or timezone.localdate()
    scored = clusters_score(as_of=as_of)
    from .detectors import run_detectors

    run_detectors(host_ids=None)
    return scored


# --- reproducible audit ------------------------------------------------------------


def cluster_audit_report(*, cluster: Cluster, as_of: date) -> dict:
    """The cluster as it was on `as_of`, judged by the rules then in force.

    Built only from history up to the end of that day — each host's last full-identity
    observation, findings raised by then with their status then — so asking again later
    gives the same content.  Deliberately no "generated at" field.
    """
    end = timezone.make_aware(timezone.datetime.combine(as_of, timezone.datetime.max.time()))
    # What the server had received by then, named as then reported (inventory.selectors.full_identities_as_of).
    hosts = list(cluster.hosts.order_by("id").only("id"))
    latest = full_identities_as_of(host_ids=[host.id for host in hosts], received_by=end)
    inventory, counts, unidentified = [], defaultdict(int), 0
    for host in hosts:
        obs = latest.get(host.id)
        if obs is None:
            continue
        for gpu in obs.payload["identity"]["gpus"]:
            pci = gpu["pci"] if "bus_id" in gpu["pci"] else {}
            device_id = pci.get("device_id")
            name = gpu["name"] if isinstance(gpu["name"], str) else None
            match = identify(pci_device_id=device_id >> 16 if device_id is not None else None, name=name)
            links = gpu.get("nvlinks") if isinstance(gpu.get("nvlinks"), list) else []
            inventory.append({
                "host": obs.payload["host"]["hostname"], "observation_id": obs.id, "collected_at": obs.collected_at.isoformat(),
                "uuid": gpu["uuid"], "reported_name": name, "pci_device_id": device_id,
                "active_nvlinks": sum(1 for link in links if link["state"] == "active"),
                "catalog_model": match.chip.key if match.chip else None, "match_basis": match.basis,
                "provenance": "reported",
            })
            if match.chip:
                counts[match.chip.key] += 1
            else:
                unidentified += 1
    attested = attestation_as_of(gpu_uuids=[row["uuid"] for row in inventory], end=end)  # reported vs attested
    for row in inventory:
        row["attestation"] = attested.get(row["uuid"])
    family_of = families()
    family = family_of[cluster.operator_id]
    figures = cluster_figures(
        counts=dict(counts), unidentified=unidentified, as_of=as_of, country=cluster.site.country,
        headquarters=family.headquarters, ultimate_parent_hq=family.ultimate_parent_hq, explain=True,
        licenses=_licenses_at(_licenses_in_force(as_of), cluster, family_of),
    )
    findings = []
    for finding in Finding.objects.filter(cluster=cluster, first_seen__lte=end).order_by("id"):
        events = [e for e in finding.events.all() if e.at <= end]
        findings.append({
            "id": finding.id, "kind": finding.kind, "severity": finding.get_severity_display(),
            "title": finding.title, "citation": finding.citation, "first_seen": finding.first_seen.isoformat(),
            "status": events[-1].to_status if events else Finding.Status.OPEN,
            "evidence_observation_ids": [i for i in finding.evidence.get("observation_ids", [])],
        })
    return {
        "cluster": {"id": cluster.id, "name": cluster.name, "site": cluster.site.name,
                    "country": cluster.site.country, "operator": cluster.operator.name,
                    "declared_purpose": cluster.declared_purpose},
        "as_of": as_of.isoformat(),
        "rule_in_force": figures["rule"],
        "inventory": sorted(inventory, key=lambda g: (g["host"], str(g["uuid"]))),
        "figures": figures,
        "attested_compute": attested_compute_share(inventory=inventory, models=figures["models"]),
        "findings": findings,
        "evidence_observation_ids": sorted({g["observation_id"] for g in inventory}),
    }
