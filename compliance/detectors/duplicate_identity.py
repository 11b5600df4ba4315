"""duplicate_identity — one GPU identity reported from two places.

Pattern.  A GPU UUID is unique to one die, and a board serial to one board, so either one
turning up twice means a report is not from the hardware it names:

* the same UUID reported by two hosts whose reporting periods overlap within the look-back
  window (CHIPWATCH_DETECTOR_LOOKBACK_HOURS).  Periods are taken from the server's receive
  times, not the agent's ``collected_at``, so a forger cannot space the reports apart by
  back-dating them.  Periods one after the other are a move, which ``relocation`` judges;
* the same board serial on GPUs with different UUIDs.  GPUs on one multi-GPU board share the
  board's serial (NVML ``nvmlDeviceGetMultiGpuBoard``), so a shared serial is expected only
  when every GPU sharing it says it sits on a multi-GPU board, all on one board id and host.

The usual story is a clone: the licensed site keeps reporting a copied identity while the
hardware has gone elsewhere, or a diverted GPU reports under a declared one's identity.

Red flag.  Supp. No. 3 to part 732 (documents or identities that do not fit the item) and the
May 13 2025 BIS diversion guidance (reference §2.2); the proposed Chip Security Act asks for
reports of attempts to "spoof, manipulate, mislead or circumvent location verification"
(reference §1.12).

Evidence.  UUIDs: the hosts, their sites, each host's reporting period and the last
observation in which each host reported each cloned GPU.  Serials: the GPUs sharing it, their
hosts, board flags, and the full-identity observation that last described each.

Severity.  Critical for a UUID reported from two sites at once; high for two hosts of one
site, or a serial shared across hosts; medium for a serial shared on one host without the
multi-GPU-board explanation.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Max, Min, Q

from inventory.models import Gpu, GpuSample

from ..findings import FindingSpec
from ._fleet import Severity, Subject, host_places, in_scope, lookback_start

KIND_UUID = "duplicate_identity.uuid"
KIND_SERIAL = "duplicate_identity.serial"
CITATION = ("15 CFR part 732 Supp. No. 3 (red flags); BIS diversion guidance of May 13 2025; "
            "Chip Security Act (S.1705/H.R.3447, proposed) on spoofed location")


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    yield from _uuid_clones(host_ids)
    yield from _serial_clones(host_ids)


def _uuid_clones(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    window = GpuSample.objects.filter(observation__received_at__gte=lookback_start())
    shared = window.values("gpu_id").annotate(hosts=Count("host_id", distinct=True)).filter(hosts__gte=2)
    if host_ids is not None:
        shared = shared.filter(gpu_id__in=in_scope(window, host_ids).values("gpu_id"))
    spans = (window.filter(gpu_id__in=shared.values("gpu_id"))
             .values("gpu_id", "host_id", uuid=F("gpu__uuid"))
             .annotate(first=Min("observation__received_at"), last=Max("observation__received_at"),
                       observation_id=Max("observation_id"))
             .order_by("gpu_id", "first"))
    by_gpu = defaultdict(list)
    for span in spans:
        by_gpu[span["gpu_id"]].append(span)
    # Group the cloned GPUs by the hosts that share them: one finding per set of hosts.
    clones = defaultdict(list)
    for gpu_spans in by_gpu.values():
        overlapping = _overlapping(gpu_spans)
        if overlapping:
            clones[tuple(sorted(s["host_id"] for s in overlapping))].append(overlapping)
    if not clones:
        return
    places = host_places({host for hosts in clones for host in hosts})
    for hosts, gpus in clones.items():
        spans_by_host = defaultdict(list)
        for gpu_spans in gpus:
            for span in gpu_spans:
                spans_by_host[span["host_id"]].append(span)
        newcomer = max(hosts, key=lambda h: min(s["first"] for s in spans_by_host[h]))
        sites = {places[h].site_id for h in hosts}
        yield FindingSpec(
            kind=KIND_UUID,
            severity=Severity.CRITICAL if len(sites) > 1 else Severity.HIGH,
            subject_type=Subject.HOST,
            subject_id=newcomer,
            dedup_key=f"{KIND_UUID}:hosts{'-'.join(map(str, hosts))}",
            title=(f"{len(gpus)} GPU UUID(s) reported at the same time by {len(hosts)} hosts"
                   + (f" at {len(sites)} sites" if len(sites) > 1 else "")),
            citation=CITATION,
            observation_ids=tuple(s["observation_id"] for gpu_spans in gpus for s in gpu_spans),
            figures={
                "gpu_uuids": sorted(gpu_spans[0]["uuid"] for gpu_spans in gpus),
                "hosts": [{"host_id": h, "site_id": places[h].site_id, "cluster_id": places[h].cluster_id,
                           "first_reported": min(s["first"] for s in spans_by_host[h]).isoformat(),
                           "last_reported": max(s["last"] for s in spans_by_host[h]).isoformat()}
                          for h in hosts],
            },
            cluster_id=places[newcomer].cluster_id,
            organization_id=places[newcomer].operator_id,
        )


def _overlapping(spans: list[dict]) -> list[dict]:
    """The host spans (sorted by start) that overlap another one: reported at the same time."""
    overlapping, reach, reacher = set(), None, None
    for index, span in enumerate(spans):
        if reach is not None and span["first"] <= reach:
            overlapping.update((reacher, index))
        if reach is None or span["last"] > reach:
            reach, reacher = span["last"], index
    return [spans[i] for i in sorted(overlapping)]


def _serial_clones(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    with_serial = Gpu.objects.exclude(serial="")
    shared = (with_serial.values("serial")
              .annotate(gpus=Count("id"), hosts=Count("host_id", distinct=True), boards=Count("board_id", distinct=True),
                        on_multi_gpu_boards=Count("id", filter=Q(multi_gpu_board=True)))
              .filter(gpus__gte=2)
              .exclude(hosts__lte=1, boards=1, on_multi_gpu_boards=F("gpus")))
    if host_ids is not None:
        shared = shared.filter(serial__in=in_scope(with_serial, host_ids).values("serial"))
    hosts_by_serial = {row["serial"]: row["hosts"] for row in shared}
    if not hosts_by_serial:
        return
    members = defaultdict(list)
    for gpu in (Gpu.objects.filter(serial__in=hosts_by_serial)
                .values("id", "serial", "uuid", "host_id", "board_id", "multi_gpu_board", "first_seen", "last_observation_id")
                .order_by("first_seen", "id")):
        members[gpu["serial"]].append(gpu)
    places = host_places({g["host_id"] for gpus in members.values() for g in gpus if g["host_id"]})
    for serial, gpus in members.items():
        newest = next((g for g in reversed(gpus) if g["host_id"]), gpus[-1])
        place = places.get(newest["host_id"])
        across_hosts = hosts_by_serial[serial] > 1
        yield FindingSpec(
            kind=KIND_SERIAL,
            severity=Severity.HIGH if across_hosts else Severity.MEDIUM,
            subject_type=Subject.HOST if place else Subject.GPU,
            subject_id=newest["host_id"] or newest["id"],
            dedup_key=f"{KIND_SERIAL}:{serial}",
            title=(f"Board serial {serial} reported by {len(gpus)} GPUs with different UUIDs"
                   + (f" on {hosts_by_serial[serial]} hosts" if across_hosts else ", not explained by one multi-GPU board")),
            citation=CITATION,
            observation_ids=tuple(g["last_observation_id"] for g in gpus if g["last_observation_id"]),
            figures={"serial": serial, "gpus": [
                {key: g[key] for key in ("uuid", "host_id", "board_id", "multi_gpu_board")} for g in gpus]},
            cluster_id=place.cluster_id if place else None,
            organization_id=place.operator_id if place else None,
        )
