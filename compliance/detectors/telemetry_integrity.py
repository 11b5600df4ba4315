"""telemetry_integrity — reports that cannot all be true, or were not accepted at all.

Everything chipwatch knows about a host comes from its agent, which the host owner runs and
can replace, replay or feed a fake NVML (docs/architecture.md: "reported" provenance).  These
checks look for the traces such tampering leaves, within CHIPWATCH_DETECTOR_LOOKBACK_HOURS:

* refused reports: IngestRejection rows for the host's agents with a security reason
  (bad or missing signature, sequence regression = replay, a report id reused with other
  content, an agent id that is not the signer's, a revoked key, a fake-NVML report where
  those are refused), and stored observations whose signature is not valid;
* clock skew: observations whose ``collected_at`` is further than
  CHIPWATCH_CLOCK_SKEW_SECONDS from the server's receive time (back-dated reports are how a
  forger would space out a clone's reports, see ``duplicate_identity``);
* impossible values: samples drawing more than the catalog TDP x (1 + CHIPWATCH_POWER_DRAW_TOLERANCE)
  (the GPU's own maximum power limit when the catalog has no TDP), or running the SM clock
  above the maximum the GPU itself reports;
* versions that contradict each other: NVML's version string embeds the driver's
  ("12.550.54.15" belongs to driver "550.54.15"), so any other pair is not what one driver
  answered;
* identities that are not what the host enrolled as: a reported machine id other than the one
  bound at enrollment, and GPUs whose UUID NVML answered with an error (counted, never absent);
* an abrupt change of hardware: every GPU UUID replaced between the host's last two full
  identities with the same boot id.  Swapping SXM GPUs needs the machine powered off, so
  a new identity without a reboot is another machine's (or no machine's) report.

Red flag.  Supp. No. 3 to part 732 (evasive or inconsistent answers; "no single red flag is
determinative", BIS May 13 2025 diversion guidance); the proposed Chip Security Act's
duty to report attempts to "disable, spoof, manipulate, mislead or circumvent location
verification" (Chip Security Act, S.1705 / H.R.3447, Sec. 4); host software can fake what NVML reports, so reported figures are forgeable.

Evidence.  Rejections: their ids, reasons and times (a refused report has no observation).
Skew: the first and latest skewed observations, their count and the worst skew.  Impossible
values: first and latest offending observations, the worst figures against the limits, per
catalog model.  Versions: the observation that reported them.  Hardware swap: both
observations, both boot ids and UUID sets.

Severity.  High for signature failures, reused report ids, an agent id that is not the
signer's, a sequence jump, a fake backend claiming hardware, a machine id other than the
enrolled one, and a hardware swap without a reboot; medium for replays (sequence regression),
revoked keys, refused fake-NVML reports, reports over the agent's budget, clock skew,
impossible values, contradictory versions and unreadable GPU UUIDs.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Case, Count, ExpressionWrapper, F, FloatField, Max, Min, Q, Value, When
from django.db.models.functions import Abs, Coalesce, Concat

from inventory.models import Gpu, GpuSample, Host, IngestRejection, Observation

from ..core.catalog import default_catalog
from ..findings import FindingSpec
from ._fleet import Severity, Subject, host_places, in_scope, last_two_identities, lookback_start

KIND_REFUSED = "telemetry_integrity.refused_reports"
KIND_CLOCK_SKEW = "telemetry_integrity.clock_skew"
KIND_IMPOSSIBLE = "telemetry_integrity.impossible_values"
KIND_VERSIONS = "telemetry_integrity.version_mismatch"
KIND_HARDWARE_SWAP = "telemetry_integrity.hardware_swap"
KIND_MACHINE_ID = "telemetry_integrity.machine_id_mismatch"
KIND_UNREADABLE_UUID = "telemetry_integrity.unreadable_uuid"
CITATION = ("15 CFR part 732 Supp. No. 3 (red flags); BIS diversion guidance of May 13 2025; "
            "Chip Security Act (S.1705/H.R.3447, proposed) on spoofed or manipulated reports")

# IngestRejection reasons that are forgery evidence, with the severity of each.
REFUSAL_SEVERITY = {
    "bad_signature": Severity.HIGH,
    "report_conflict": Severity.HIGH,
    "agent_mismatch": Severity.HIGH,
    "sequence_regression": Severity.MEDIUM,
    "agent_revoked": Severity.MEDIUM,
    "synthetic_rejected": Severity.MEDIUM,
    # A signed report with a value no real part produces (e.g. a 2^40 °C temperature) that PostgreSQL cannot store.
    "unstorable_value": Severity.MEDIUM,
    # A sequence further ahead than the agent could have counted: a stolen key locking the real agent out.
    "sequence_jump": Severity.HIGH,
    # agent.backend "fake" with synthetic false (or the reverse): a fake NVML passed off as hardware.
    "synthetic_mismatch": Severity.HIGH,
    # More reports or bytes than the per-agent budget (CHIPWATCH_AGENT_*): flooding append-only history.
    "budget_exceeded": Severity.MEDIUM,
}


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    yield from _specs([*_report_checks(host_ids), *_identity_checks(host_ids)])


def detect_reports(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    """The checks any report can change (refusals, skew, values, versions, machine id): run for
    every evaluated host, also when its identity is unchanged."""
    yield from _specs(list(_report_checks(host_ids)))


def detect_identity(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    """The checks only a new full identity can change (hardware swap, unreadable UUIDs)."""
    yield from _specs(list(_identity_checks(host_ids)))


def _report_checks(host_ids) -> Iterable[dict]:
    since = lookback_start()
    yield from _refused(host_ids, since)
    yield from _clock_skew(host_ids, since)
    yield from _impossible_values(host_ids, since)
    yield from _version_mismatch(host_ids)
    yield from _machine_id_mismatch(host_ids)


def _identity_checks(host_ids) -> Iterable[dict]:
    yield from _hardware_swap(host_ids)
    yield from _unreadable_uuids(host_ids)


def _specs(findings: list[dict]) -> Iterable[FindingSpec]:
    places = host_places(spec["host_id"] for spec in findings)
    for spec in findings:
        place = places[spec.pop("host_id")]
        yield FindingSpec(subject_type=Subject.HOST, citation=CITATION, cluster_id=place.cluster_id,
                          organization_id=place.operator_id, **spec)


def _refused(host_ids, since) -> Iterable[dict]:
    rejections = (in_scope(IngestRejection.objects.filter(received_at__gte=since, reason__in=REFUSAL_SEVERITY),
                           host_ids, "agent__host_id")
                  .values("agent__host_id", "reason")
                  .annotate(count=Count("id"), first=Min("received_at"), last=Max("received_at"),
                            first_id=Min("id"), last_id=Max("id")))
    for row in rejections:
        host_id, reason = row["agent__host_id"], row["reason"]
        yield dict(kind=KIND_REFUSED, severity=REFUSAL_SEVERITY[reason], subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_REFUSED}:host{host_id}:{reason}",
                   title=f"{row['count']} report(s) from this host's agents refused: {reason}",
                   figures={"reason": reason, "count": row["count"], "first_rejection_id": row["first_id"],
                            "last_rejection_id": row["last_id"], "first": row["first"].isoformat(),
                            "last": row["last"].isoformat()})
    unsigned = (in_scope(Observation.objects.filter(received_at__gte=since), host_ids)
                .exclude(signature_status=Observation.Signature.VALID)
                .values("host_id", "signature_status").annotate(count=Count("id"), first_id=Min("id"), last_id=Max("id")))
    for row in unsigned:
        host_id, status = row["host_id"], row["signature_status"]
        yield dict(kind=KIND_REFUSED, severity=Severity.HIGH, subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_REFUSED}:host{host_id}:stored_{status}",
                   title=f"{row['count']} stored report(s) with a signature that is {status}",
                   observation_ids=(row["first_id"], row["last_id"]),
                   figures={"signature_status": status, "count": row["count"]})


def _clock_skew(host_ids, since) -> Iterable[dict]:
    limit = settings.CHIPWATCH_CLOCK_SKEW_SECONDS
    skewed = (in_scope(Observation.objects.filter(received_at__gte=since), host_ids)
              .filter(Q(clock_skew_seconds__gt=limit) | Q(clock_skew_seconds__lt=-limit))
              .values("host_id")
              .annotate(count=Count("id"), worst=Max(Abs("clock_skew_seconds")), first_id=Min("id"), last_id=Max("id")))
    for row in skewed:
        host_id = row["host_id"]
        yield dict(kind=KIND_CLOCK_SKEW, severity=Severity.MEDIUM, subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_CLOCK_SKEW}:host{host_id}",
                   title=f"{row['count']} report(s) timestamped up to {row['worst']:.0f} s off the server clock",
                   observation_ids=(row["first_id"], row["last_id"]),
                   figures={"count": row["count"], "worst_skew_seconds": row["worst"], "limit_seconds": limit})


def _catalog_case(attribute: str, scale: float):
    """A CASE over the GPU's catalog model giving the catalog figure ``attribute`` x ``scale``."""
    whens = [When(gpu__classification__catalog_model=chip.key, then=Value(getattr(chip, attribute) * scale))
             for chip in default_catalog() if getattr(chip, attribute)]
    return Case(*whens, default=None, output_field=FloatField())


def _impossible_values(host_ids, since) -> Iterable[dict]:
    power_limit_mw = ExpressionWrapper(
        Coalesce(_catalog_case("tdp_w", 1000.0), F("gpu__power_limit_max_mw"), output_field=FloatField())
        * Value(1 + settings.CHIPWATCH_POWER_DRAW_TOLERANCE), output_field=FloatField())
    impossible = (in_scope(GpuSample.objects.filter(observation__received_at__gte=since), host_ids)
                  .annotate(power_limit_mw=power_limit_mw)
                  .filter(Q(power_draw_mw__gt=F("power_limit_mw")) | Q(sm_clock_mhz__gt=F("gpu__max_sm_clock_mhz")))
                  .values("host_id", model=F("gpu__classification__catalog_model"))
                  .annotate(samples=Count("id"), worst_power_mw=Max("power_draw_mw"),
                            power_limit_mw=Max("power_limit_mw"), worst_sm_clock_mhz=Max("sm_clock_mhz"),
                            max_sm_clock_mhz=Min("gpu__max_sm_clock_mhz"),
                            first_id=Min("observation_id"), last_id=Max("observation_id")))
    by_host = defaultdict(list)
    for row in impossible:
        by_host[row["host_id"]].append(row)
    for host_id, rows in by_host.items():
        yield dict(kind=KIND_IMPOSSIBLE, severity=Severity.MEDIUM, subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_IMPOSSIBLE}:host{host_id}",
                   title=(f"{sum(r['samples'] for r in rows)} GPU sample(s) with power or clocks the reported "
                          f"part cannot reach"),
                   observation_ids=tuple(obs for r in rows for obs in (r["first_id"], r["last_id"])),
                   figures={"by_model": [{
                       "catalog_model": r["model"], "samples": r["samples"],
                       "worst_power_w": (r["worst_power_mw"] or 0) / 1000,
                       "power_limit_w": r["power_limit_mw"] / 1000 if r["power_limit_mw"] else None,
                       "worst_sm_clock_mhz": r["worst_sm_clock_mhz"], "max_sm_clock_mhz": r["max_sm_clock_mhz"],
                   } for r in rows], "power_tolerance": settings.CHIPWATCH_POWER_DRAW_TOLERANCE})


def _version_mismatch(host_ids) -> Iterable[dict]:
    mismatched = (in_scope(Host.objects.exclude(driver_version="").exclude(nvml_version=""), host_ids, "id")
                  .exclude(nvml_version__endswith=Concat(Value("."), F("driver_version")))
                  .values("id", "driver_version", "nvml_version", "last_observation_id"))
    for host in mismatched:
        host_id = host["id"]
        yield dict(kind=KIND_VERSIONS, severity=Severity.MEDIUM, subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_VERSIONS}:host{host_id}:{host['driver_version']}/{host['nvml_version']}"[:200],
                   title=(f"NVML version {host['nvml_version']!r} does not belong to driver "
                          f"{host['driver_version']!r}"),
                   observation_ids=(host["last_observation_id"],) if host["last_observation_id"] else (),
                   figures={"driver_version": host["driver_version"], "nvml_version": host["nvml_version"]})


def _hardware_swap(host_ids) -> Iterable[dict]:
    for change in last_two_identities(host_ids):
        swapped = (change.previous_uuids and change.latest_uuids
                   and not change.previous_uuids & change.latest_uuids)
        if not swapped or change.latest_boot_id is None or change.latest_boot_id != change.previous_boot_id:
            continue
        yield dict(kind=KIND_HARDWARE_SWAP, severity=Severity.HIGH, subject_id=change.host_id, host_id=change.host_id,
                   dedup_key=f"{KIND_HARDWARE_SWAP}:host{change.host_id}:observation{change.latest_id}",
                   title=(f"All {len(change.previous_uuids)} GPU UUIDs replaced between two full reports "
                          f"without a reboot"),
                   observation_ids=change.observation_ids,
                   figures={"boot_id": change.latest_boot_id, "previous_uuids": sorted(change.previous_uuids),
                            "latest_uuids": sorted(change.latest_uuids)})


def _machine_id_mismatch(host_ids) -> Iterable[dict]:
    """The reported machine id differs from the one bound at enrollment (ingest never rewrites it)."""
    mismatched = (in_scope(Host.objects.exclude(machine_id="").exclude(reported_machine_id=""), host_ids, "id")
                  .exclude(reported_machine_id=F("machine_id"))
                  .values("id", "machine_id", "reported_machine_id", "last_observation_id"))
    for host in mismatched:
        host_id = host["id"]
        yield dict(kind=KIND_MACHINE_ID, severity=Severity.HIGH, subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_MACHINE_ID}:host{host_id}",
                   title="The agent reports another machine id than the one this host enrolled with",
                   observation_ids=(host["last_observation_id"],) if host["last_observation_id"] else (),
                   figures={"enrolled_machine_id": host["machine_id"],
                            "reported_machine_id": host["reported_machine_id"]})


def _unreadable_uuids(host_ids) -> Iterable[dict]:
    """GPUs on the host whose UUID NVML could not read: counted (by reported model, else as
    unidentified), but no identity check, declaration or clone detection can use them."""
    unreadable = (in_scope(Gpu.objects.filter(uuid_status=Gpu.UuidStatus.UNREADABLE, host__isnull=False), host_ids)
                  .values("host_id").annotate(count=Count("id"), last_id=Max("last_observation_id")))
    for row in unreadable:
        host_id = row["host_id"]
        yield dict(kind=KIND_UNREADABLE_UUID, severity=Severity.MEDIUM, subject_id=host_id, host_id=host_id,
                   dedup_key=f"{KIND_UNREADABLE_UUID}:host{host_id}",
                   title=f"{row['count']} GPU(s) reported without a readable UUID",
                   observation_ids=(row["last_id"],) if row["last_id"] else (),
                   figures={"gpus_without_uuid": row["count"]})
