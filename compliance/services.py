"""Writes of the compliance side: classifications, scores, transfer findings (evaluation after
reports: compliance.evaluation).

The law lives in `compliance.core` (pure); this module feeds it inventory rows and
stores what it answers.  Fleet-wide work is set-based: one aggregate query over
the GPU table, the core run once per (chip, date), bulk writes.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import date
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from chipwatch_agent.protocol import canonical_json, sha256_hex

from compliance.attestation.selectors import attestation_as_of, attested_compute_share
from compliance.compute.selectors import compute_as_of
from inventory.models import Cluster, Gpu, License, Organization, Transfer
from inventory.selectors import full_identities_as_of

from .core import InsufficientSpec, LicenceGap, UnknownChip, chip as catalog_chip, classify, score_cluster
from .core.destinations import UNDETERMINED
from .core.origin import jurisdiction
from .core.parties import (PartyDetermination, affiliate_determination, listed_party_determination,
                           strictest_policy)
from .core.regimes import regime_in_force
from .core.systems import SystemClassification, classify_components
from .detectors import licence_gap
from .detectors import transfers as transfer_findings
from .findings import OPEN_STATES, finding_condition_ended, finding_raise
from .identify import identify
from .models import ClusterScore, Finding, GpuClassification, HostClassification
from .screening.models import Adjudication, ScreeningHit
from .selectors import Family, families, holding, licence_holders

log = logging.getLogger(__name__)


def gpus_classify(*, gpus, as_of: date) -> int:
    """Match each GPU to the catalog and store its classification (bulk upsert)."""
    now = timezone.now()
    rows = [gpu_classification(gpu_id=gpu.id, name=gpu.name, pci_device_id=gpu.pci_device_id,
                               observation_id=gpu.last_observation_id, as_of=as_of, now=now)
            for gpu in gpus.only("id", "name", "pci_device_id", "last_observation_id")]
    classifications_upsert(rows)
    return len(rows)


def gpu_classification(*, gpu_id: int, name: str, pci_device_id: int | None, observation_id: int | None,
                       as_of: date, now) -> GpuClassification:
    """One GPU's catalog match and export classification, from the identity it last reported."""
    match = identify(pci_device_id=pci_device_id, name=name)
    eccn = paragraph = rule = ""
    if match.chip is not None:
        try:
            verdict = classify(match.chip, as_of)
            eccn, paragraph, rule = verdict.eccn or "", verdict.paragraph or "", verdict.rule or ""
        except InsufficientSpec as missing:
            paragraph, rule = "undetermined", missing.needed_for[:120]
    return GpuClassification(
        gpu_id=gpu_id, catalog_model=match.chip.key if match.chip else "", match_basis=match.basis[:200],
        eccn=eccn, paragraph=paragraph, rule=rule, as_of=as_of, evaluated_at=now, observation_id=observation_id,
    )


def classifications_upsert(rows: list[GpuClassification]) -> None:
    GpuClassification.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["gpu"],
        update_fields=["catalog_model", "match_basis", "eccn", "paragraph", "rule", "as_of", "evaluated_at",
                       "observation"],
    )


# --- hosts as computers (4A090) ----------------------------------------------------


@lru_cache(maxsize=1024)
def _catalogued(model: str | None) -> bool:
    """A stored catalog match that is still in the catalog (a key dropped from it matches nothing)."""
    try:
        return bool(model) and catalog_chip(model) is not None
    except UnknownChip:
        return False


@lru_cache(maxsize=4096)
def _components_verdict(counts: tuple[tuple[str, int], ...], as_of: date) -> SystemClassification:
    return classify_components([(catalog_chip(key), n) for key, n in counts], as_of)


def host_verdict(*, counts: dict[str, int], unidentified: int, as_of: date) -> dict:
    """A host (a server) classified from its GPUs: 4A090.a/.b, not 4A090, or undetermined when a
    GPU the catalog does not know could decide it.  The fields of a HostClassification row."""
    verdict = _components_verdict(tuple(sorted(counts.items())), as_of)
    eccn, paragraph, reasons = verdict.eccn or "", verdict.paragraph or "", list(verdict.reasons)
    if unidentified and eccn != "4A090.a":
        eccn, paragraph = "", "undetermined"
        reasons.append(f"undetermined: {unidentified} GPU(s) not identified in the catalog could meet 3A090")
    return {"eccn": eccn, "paragraph": paragraph, "rule": verdict.rule or "",
            "governing_model": verdict.governing.chip if verdict.governing and eccn else "",
            "gpu_count": sum(counts.values()) + unidentified, "unidentified_gpus": unidentified,
            "reasons": reasons}


def _host_label(verdict: dict) -> str:
    return verdict["eccn"] or verdict["paragraph"] or "not 4A090"


def hosts_classify(*, host_ids: list[int] | None, as_of: date) -> int:
    """Classify hosts (all when `host_ids` is None) from one GROUP BY over their GPUs' catalog matches."""
    gpus = Gpu.objects.filter(host__isnull=False)
    if host_ids is not None:
        gpus = gpus.filter(host_id__in=host_ids)
    counts: dict[int, dict[str, int]] = {host_id: {} for host_id in host_ids or ()}
    unidentified: dict[int, int] = defaultdict(int)
    for host_id, model, n in (gpus.values_list("host_id", "classification__catalog_model")
                              .annotate(n=Count("id")).order_by()):
        counts.setdefault(host_id, {})
        if _catalogued(model):
            counts[host_id][model] = n
        else:
            unidentified[host_id] += n
    now = timezone.now()
    rows = [HostClassification(host_id=host_id, as_of=as_of, evaluated_at=now,
                               **host_verdict(counts=models, unidentified=unidentified[host_id], as_of=as_of))
            for host_id, models in counts.items()]
    HostClassification.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["host"],
        update_fields=["eccn", "paragraph", "rule", "governing_model", "gpu_count", "unidentified_gpus", "reasons",
                       "as_of", "evaluated_at"])
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


ENTITY_LIST_CODE = "EL"  # the CSL's source code for the Entity List
_SUMMARY_FIELDS = ("eccn", "paragraph", "rule", "tpp", "performance_density", "license_exception")


@lru_cache(maxsize=8192)
def _model_verdict(key: str, as_of: date, country: str, headquarters: str, ultimate_parent_hq: str,
                   explain: bool, parties: tuple[PartyDetermination, ...] = (), movement: str | None = None) -> dict:
    """`holding()` as JSON for a score's figures, with what the parties' listings add and whether
    the EAR reaches the chip at all (a foreign-made chip: undetermined, the licence answer kept
    as ``license_if_subject_to_ear``).  Without `explain` the classification is summarised (the
    audit report carries every threshold).  Cached like `holding`."""
    found = holding(key, country=country, headquarters=headquarters, ultimate_parent_hq=ultimate_parent_hq,
                    as_of=as_of, movement=movement)
    if found is None:
        return {"classification": None, "undetermined": "a figure the rule in force needs is not in the catalog"}
    classification = found.classification.to_dict()
    if not explain:
        classification = {name: classification[name] for name in _SUMMARY_FIELDS}
    licence = _with_parties(found.determination.to_dict(), parties)
    place = jurisdiction(catalog_chip(key), found.classification, as_of=as_of,
                         needs_licence_if_subject=licence["license_required"],
                         party_footnotes={f.number for party in parties for f in party.footnotes})
    verdict = {"classification": classification, "license": licence, "jurisdiction": place.to_dict()}
    if place.subject_to_ear is None:
        verdict["license_if_subject_to_ear"] = licence
        verdict["license"] = {"license_required": None, "review_policy": None, "license_exception": None,
                              "headline": "undetermined: missing whether the chip is subject to the EAR",
                              "reasons": [place.basis], "warnings": licence["warnings"],
                              "missing": list(place.deciding_facts)}
    return verdict


def _with_parties(licence: dict, parties: tuple[PartyDetermination, ...]) -> dict:
    """A model's licence determination with the parties' listings folded in: a listed party
    requires a licence for all items subject to the EAR under its entry's review policy; a party
    whose listing is undetermined (the Affiliates rule, an entry narrower than all items) leaves a
    "not required" undetermined."""
    if not parties:
        return licence
    out = {**licence, "reasons": [*licence["reasons"], *(r for p in parties for r in p.reasons)],
           "warnings": [*licence["warnings"], *(w for p in parties for w in p.warnings)],
           "parties": [p.to_dict() for p in parties]}
    required = [p for p in parties if p.license_required]
    if required:
        policy = strictest_policy([licence["review_policy"] if licence["license_required"] else None,
                                   *(p.review_policy or UNDETERMINED for p in required)])
        out.update(license_required=True, review_policy=policy, license_exception=None,
                   headline=f"licence required for all items subject to the EAR (Entity List; {policy})")
    elif licence["license_required"] is False and any(p.license_required is None for p in parties):
        out.update(license_required=None, review_policy=None, license_exception=None,
                   headline="undetermined: what a party's listing requires is undetermined (see reasons)",
                   missing=[*licence.get("missing", []), "whether a party's listing reaches the item"])
    return out


def cluster_parties(*, clusters, as_of: date, confirmed_by=None) -> dict[int, tuple[PartyDetermination, ...]]:
    """Cluster id → what its operator's and site owner's listings require (see `party_determinations`)."""
    return party_determinations(parties_of={c.id: {c.operator_id, c.site.organization_id} for c in clusters},
                                as_of=as_of, confirmed_by=confirmed_by)


def party_determinations(*, parties_of: dict, as_of: date, confirmed_by=None) -> dict:
    """Key → what the confirmed Entity List hits of its parties (organization ids) require: a
    party listed itself, or — through the Affiliates rule — an ancestor listed (the ownership share
    is not on record).  ``confirmed_by`` (a datetime): only hits whose latest adjudication by then
    was a confirmation, so an audit as of a passed day never changes.  Three queries at most."""
    listed = ScreeningHit.objects.filter(entry__source_code=ENTITY_LIST_CODE)
    if confirmed_by is None:
        listed = listed.filter(status=ScreeningHit.Status.CONFIRMED)
    else:
        verdicts = {}
        for hit_id, verdict in (Adjudication.objects.filter(at__lte=confirmed_by, hit__in=listed)
                                .order_by("at", "id").values_list("hit_id", "verdict")):
            verdicts[hit_id] = verdict
        listed = listed.filter(pk__in=[h for h, v in verdicts.items() if v == Adjudication.Verdict.CONFIRMED])
    hits = defaultdict(list)
    for org_id, name, alt_names, notice, since, requirement, policy in listed.values_list(
            "organization_id", "entry__name", "entry__alt_names", "entry__federal_register_notice",
            "entry__start_date", "entry__license_requirement", "entry__license_policy"):
        hits[org_id].append(dict(entry_names=(name, *(alt_names or ())), federal_register_notice=notice,
                                 listed_since=since, list_requirement=requirement, list_policy=policy))
    if not hits:
        return {}
    parent_of = dict(Organization.objects.values_list("id", "parent_id"))
    names = dict(Organization.objects.filter(pk__in=hits).values_list("id", "name"))
    out = {}
    for key, party_ids in parties_of.items():
        found = []
        for party in sorted(party_ids):
            for entry in hits.get(party, ()):
                found.append(listed_party_determination(party=names[party], as_of=as_of, **entry))
            ancestor, seen = parent_of.get(party), {party}
            while ancestor is not None and ancestor not in seen:
                for entry in hits.get(ancestor, ()):
                    owner = listed_party_determination(party=names[ancestor], as_of=as_of, **entry)
                    if owner.license_required:
                        found.append(affiliate_determination(party=f"organization {party}", owner=owner,
                                                             owner_name=names[ancestor], ownership_share=None,
                                                             as_of=as_of))
                seen.add(ancestor)
                ancestor = parent_of.get(ancestor)
        if found:
            out[key] = tuple(found)
    return out


def cluster_figures(*, counts: dict[str, int], unidentified: int, as_of: date, country: str, headquarters: str,
                    ultimate_parent_hq: str, licenses: list[tuple[str, tuple[str, ...]]],
                    host_classes: dict[str, int] | None = None,
                    parties: tuple[PartyDetermination, ...] = (), explain: bool = False) -> dict:
    """Everything the law says about one cluster's inventory on `as_of`: the licence determination
    per model, the licence state it leads to (the one the score, the licence box and the
    licence_gap finding all read), the core's score, and what could not be identified."""
    chips = {key: catalog_chip(key) for key in counts}
    determinations = {key: _model_verdict(key, as_of, country, headquarters, ultimate_parent_hq, explain, parties)
                      for key in sorted(chips)}
    licence = _licence_state(determinations, unidentified=unidentified, licenses=licenses)
    gap = None
    if licence["state"] == licence_gap.REQUIRED_UNLICENSED:
        regime = regime_in_force(as_of)
        rule = regime.citation if regime else None
        gap = LicenceGap(tuple(licence["required_models"]), licence["review_policy"],
                         f"{licence_gap.CITATION}; {rule}" if rule else licence_gap.CITATION)
    score = score_cluster([(chips[k], n) for k, n in counts.items()], as_of=as_of, licence_gap=gap)
    figures = score.to_dict()
    figures.update({
        "unidentified_gpus": unidentified,
        "destination": country,
        "headquarters": headquarters,
        "ultimate_parent_headquarters": ultimate_parent_hq,
        "license_required": (True if licence["required_models"] else
                             None if licence["state"] == licence_gap.UNDETERMINED else False),
        "licenses_on_record": licence["licences_on_record"],
        "licence": licence,
        "hosts_by_classification": dict(sorted((host_classes or {}).items())),
        "models": determinations,
    })
    return figures


def _licence_state(determinations: dict[str, dict], *, unidentified: int,
                   licenses: list[tuple[str, tuple[str, ...]]]) -> dict:
    """required_unlicensed | covered | not_required | undetermined, with what it rests on.

    A licence with no ECCN list covers everything at its destination; otherwise it must name
    each ECCN that needs one.  Undetermined only when nothing known needs a licence but a model
    the rule cannot classify (or a GPU the catalog does not know) might."""
    required = sorted(k for k, d in determinations.items() if d.get("license", {}).get("license_required"))
    eccns = {determinations[k]["classification"]["eccn"] for k in required} - {None}
    covering = [number for number, named in licenses if not named or eccns <= set(named)]
    undetermined = sorted(k for k, d in determinations.items()
                          if d["classification"] is None or d["license"]["license_required"] is None)
    if required:
        state = licence_gap.COVERED if covering else licence_gap.REQUIRED_UNLICENSED
    else:
        state = licence_gap.UNDETERMINED if undetermined or unidentified else licence_gap.NOT_REQUIRED
    return {
        "state": state,
        "required_models": required,
        "review_policy": strictest_policy(determinations[k]["license"]["review_policy"] for k in required),
        "licences_on_record": covering if required else [],
        "undetermined_models": undetermined,
        "unidentified_gpus": unidentified,
    }


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
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    unidentified: dict[int, int] = defaultdict(int)
    per_host: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for cluster_id, host_id, model, n in (gpus.values_list("host__cluster_id", "host_id",
                                                           "classification__catalog_model")
                                          .annotate(n=Count("id")).order_by()):
        model = model if _catalogued(model) else ""
        per_host[cluster_id, host_id][model] = per_host[cluster_id, host_id].get(model, 0) + n
        if model:
            counts[cluster_id][model] += n
        else:
            unidentified[cluster_id] += n
    host_classes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (cluster_id, _), models in per_host.items():
        verdict = host_verdict(counts={k: n for k, n in models.items() if k}, unidentified=models.get("", 0),
                               as_of=as_of)
        host_classes[cluster_id][_host_label(verdict)] += 1
    family_of = families()
    licenses = _licenses_in_force(as_of)
    clusters = list(clusters)
    parties = cluster_parties(clusters=clusters, as_of=as_of)
    now = timezone.now()
    rows, scored = [], []
    for cluster in clusters:
        family = family_of[cluster.operator_id]
        figures = cluster_figures(
            counts=dict(counts.get(cluster.id, {})), unidentified=unidentified.get(cluster.id, 0), as_of=as_of,
            country=cluster.site.country, headquarters=family.headquarters,
            ultimate_parent_hq=family.ultimate_parent_hq,
            licenses=_licenses_at(licenses, cluster, family_of), host_classes=dict(host_classes.get(cluster.id, {})),
            parties=parties.get(cluster.id, ()),
        )
        rows.append(_score_row(cluster.id, as_of, figures, now))
        scored.append((cluster, figures))
    _scores_upsert(rows)
    if as_of >= timezone.localdate():  # findings are about the present; a past re-score leaves them
        _licence_gaps_sync(scored)
    return len(rows)


def _licence_gaps_sync(scored: list[tuple[Cluster, dict]]) -> None:
    """Raise the licence_gap finding where the figures just stored say licence required and none
    on record, and close it by the system (naming the evidence) where they no longer do."""
    gaps = [(cluster, figures) for cluster, figures in scored
            if figures["licence"]["state"] == licence_gap.REQUIRED_UNLICENSED]
    observations = defaultdict(set)
    for cluster_id, observation_id in (
            Gpu.objects.filter(host__cluster_id__in=[c.id for c, _ in gaps], last_observation__isnull=False)
            .values_list("host__cluster_id", "last_observation_id").distinct()):
        observations[cluster_id].add(observation_id)
    for cluster, figures in gaps:
        finding_raise(spec=licence_gap.gap_spec(cluster=cluster, figures=figures,
                                                observation_ids=tuple(observations[cluster.id])))
    ended = {licence_gap.dedup_key(cluster.id): figures for cluster, figures in scored
             if licence_gap.ended_evidence(figures)}
    for finding in Finding.objects.filter(kind=licence_gap.KIND, status__in=OPEN_STATES, dedup_key__in=ended):
        finding_condition_ended(finding=finding, evidence=licence_gap.ended_evidence(ended[finding.dedup_key]))


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
    hosts_classify(host_ids=None, as_of=as_of)
    scored = clusters_score(as_of=as_of)
    from .detectors import run_detectors

    run_detectors(host_ids=None)
    transfers_check(host_ids=None)
    return scored


# --- declared transfers ------------------------------------------------------------


def _movement(origin: str | None, destination: str) -> str | None:
    """How a shipment moves, for the determination (None: no origin site declared)."""
    if origin is None:
        return None
    if origin == "US":
        return "export_from_us"
    return "transfer_in_country" if origin == destination else "reexport"


def transfer_verdicts(*, transfers, confirmed_by=None, models_by_uuid: dict[str, str] | None = None) -> list[dict]:
    """Each declared transfer's own determination: the GPU's model under the rules in force on its
    effective date, at its destination, for the receiving site's owner, with its movement; and
    the licences on record (held by the sending or receiving site's owner or their ultimate
    parents, or the number the transfer declares) that cover it.  ``models_by_uuid``: the catalog
    model each GPU was identified as then (an audit), before its current classification."""
    transfers = list(transfers.select_related("from_site", "to_site").order_by("effective_date", "id"))
    gpus = {g.uuid: g for g in Gpu.objects.filter(uuid__in={t.gpu_uuid for t in transfers})
            .select_related("classification", "host")}
    family_of = families()
    parties = {}
    for day in {t.effective_date for t in transfers}:
        parties.update(party_determinations(
            parties_of={t.id: {t.to_site.organization_id} for t in transfers if t.effective_date == day},
            as_of=day, confirmed_by=confirmed_by))
    out = []
    for transfer in transfers:
        gpu = gpus.get(transfer.gpu_uuid)
        classification = getattr(gpu, "classification", None) if gpu else None
        model = (models_by_uuid or {}).get(transfer.gpu_uuid) or (classification.catalog_model if classification else "")
        origin = transfer.from_site.country if transfer.from_site else None
        destination = transfer.to_site.country
        family = family_of[transfer.to_site.organization_id]
        movement = _movement(origin, destination)
        verdict = {
            "transfer_id": transfer.id, "gpu_uuid": transfer.gpu_uuid, "gpu_id": gpu.id if gpu else None,
            "effective_date": transfer.effective_date.isoformat(), "origin": origin, "destination": destination,
            "movement": movement, "from_site_id": transfer.from_site_id, "to_site_id": transfer.to_site_id,
            "to_organization_id": transfer.to_site.organization_id, "declared_license_number": transfer.license_number,
            "cluster_id": gpu.host.cluster_id if gpu and gpu.host else None,
            "observation_id": gpu.last_observation_id if gpu else None, "catalog_model": model or None,
            "provenance": transfer.provenance, "licences_on_record": [],
        }
        if not model:
            verdict.update(state=licence_gap.UNDETERMINED, license={
                "license_required": None, "review_policy": None, "reasons": [
                    "undetermined: the GPU is not in the inventory" if gpu is None
                    else "undetermined: the GPU is not identified in the catalog"]})
            out.append(verdict)
            continue
        found = _model_verdict(model, transfer.effective_date, destination, family.headquarters,
                               family.ultimate_parent_hq, False, parties.get(transfer.id, ()), movement)
        licence = found.get("license") or {"license_required": None, "review_policy": None,
                                           "reasons": [f"undetermined: {found['undetermined']}"]}
        if movement is None and licence.get("license_required") is not None:
            licence = {**licence, "warnings": [*licence.get("warnings", []),
                                               "no origin site declared: the movement is unknown"]}
        verdict["license"] = licence
        eccn = (found.get("classification") or {}).get("eccn")
        if licence["license_required"]:
            verdict["licences_on_record"] = _transfer_licences(transfer, eccn, family_of)
            verdict["state"] = licence_gap.COVERED if verdict["licences_on_record"] else licence_gap.REQUIRED_UNLICENSED
        else:
            verdict["state"] = (licence_gap.UNDETERMINED if licence["license_required"] is None
                                else licence_gap.NOT_REQUIRED)
        out.append(verdict)
    return out


def _transfer_licences(transfer, eccn: str | None, family_of: dict[int, Family]) -> list[str]:
    """Numbers of licences valid on the transfer's date for its destination (and site) naming the
    ECCN (or none): held by the sending or receiving site's owner or their ultimate parents, or
    the number the transfer declares."""
    owners = {transfer.to_site.organization_id} | ({transfer.from_site.organization_id} if transfer.from_site else set())
    holders = owners | {family_of[org].ultimate_parent_id for org in owners}
    day = transfer.effective_date
    candidates = (License.objects.filter(Q(holder_id__in=holders) | Q(number=transfer.license_number or None))
                  .filter(destination_country=transfer.to_site.country, valid_from__lte=day)
                  .exclude(valid_until__lt=day).filter(Q(sites=None) | Q(sites=transfer.to_site_id))
                  .distinct().values_list("number", "eccns"))
    return sorted(number for number, eccns in candidates if not eccns or (eccn and eccn in eccns))


def transfers_check(*, host_ids: list[int] | None) -> int:
    """Raise the transfer.unlicensed finding for each transfer (of the hosts' GPUs; all when None)
    that needed a licence with none on record; close by the system those now covered."""
    transfers = Transfer.objects.all()
    if host_ids is not None:
        transfers = transfers.filter(gpu_uuid__in=Gpu.objects.filter(host_id__in=host_ids).values("uuid"))
    verdicts = transfer_verdicts(transfers=transfers)
    raised = 0
    for verdict in verdicts:
        if transfer_findings.needs_finding(verdict):
            finding_raise(spec=transfer_findings.unlicensed_spec(verdict))
            raised += 1
    ended = {transfer_findings.dedup_key(v["transfer_id"]): v for v in verdicts if transfer_findings.ended_evidence(v)}
    for finding in Finding.objects.filter(kind=transfer_findings.KIND, status__in=OPEN_STATES, dedup_key__in=ended):
        finding_condition_ended(finding=finding, evidence=transfer_findings.ended_evidence(ended[finding.dedup_key]))
    return raised


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
    inventory, counts, unidentified, host_rows = [], defaultdict(int), 0, []
    for host in hosts:
        obs = latest.get(host.id)
        if obs is None:
            continue
        host_counts, host_unidentified = defaultdict(int), 0
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
                host_counts[match.chip.key] += 1
            else:
                unidentified += 1
                host_unidentified += 1
        host_rows.append({"host": obs.payload["host"]["hostname"], "observation_id": obs.id,
                          **host_verdict(counts=dict(host_counts), unidentified=host_unidentified, as_of=as_of)})
    attested = attestation_as_of(gpu_uuids=[row["uuid"] for row in inventory], end=end)  # reported vs attested
    for row in inventory:
        row["attestation"] = attested.get(row["uuid"])
    family_of = families()
    family = family_of[cluster.operator_id]
    figures = cluster_figures(
        counts=dict(counts), unidentified=unidentified, as_of=as_of, country=cluster.site.country,
        headquarters=family.headquarters, ultimate_parent_hq=family.ultimate_parent_hq, explain=True,
        licenses=_licenses_at(_licenses_in_force(as_of), cluster, family_of),
        host_classes=Counter(_host_label(row) for row in host_rows),
        parties=cluster_parties(clusters=[cluster], as_of=as_of, confirmed_by=end).get(cluster.id, ()),
    )
    site_transfers = Transfer.objects.filter(Q(to_site=cluster.site) | Q(from_site=cluster.site),
                                             effective_date__lte=as_of)
    transfers = [{k: v for k, v in verdict.items() if k not in ("cluster_id", "observation_id", "gpu_id")}
                 for verdict in transfer_verdicts(
                     transfers=site_transfers, confirmed_by=end,
                     models_by_uuid={g["uuid"]: g["catalog_model"] for g in inventory if g["catalog_model"]})]
    findings = []
    raised = Finding.objects.filter(cluster=cluster, first_seen__lte=end).prefetch_related("events")
    for finding in raised.order_by("id"):
        events = [e for e in finding.events.all() if e.at <= end]
        # Detectors refresh a finding's title, severity and evidence in place: read what it asserted then.
        then = next((e for e in reversed(events) if e.severity is not None), None)
        findings.append({
            "id": finding.id, "kind": finding.kind,
            "severity": then.get_severity_display() if then else finding.get_severity_display(),
            "title": then.title if then else finding.title, "citation": finding.citation,
            "first_seen": finding.first_seen.isoformat(),
            "status": events[-1].to_status if events else Finding.Status.OPEN,
            "evidence_observation_ids": list(then.observation_ids if then else
                                             finding.evidence.get("observation_ids", [])),
        })
    return {
        "cluster": {"id": cluster.id, "name": cluster.name, "site": cluster.site.name,
                    "country": cluster.site.country, "operator": cluster.operator.name,
                    "declared_purpose": cluster.declared_purpose},
        "as_of": as_of.isoformat(),
        "rule_in_force": figures["rule"],
        "inventory": sorted(inventory, key=lambda g: (g["host"], str(g["uuid"]))),
        "hosts": host_rows,
        "figures": figures,
        "transfers": transfers,
        "attested_compute": attested_compute_share(inventory=inventory, models=figures["models"]),
        "compute": compute_as_of(cluster_id=cluster.id, as_of=as_of, received_by=end),
        "findings": findings,
        "evidence_observation_ids": sorted({g["observation_id"] for g in inventory}),
    }
