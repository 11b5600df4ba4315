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
May 13 2025 BIS diversion guidance; the proposed Chip Security Act (S.1705 / H.R.3447, Sec. 4) asks for
reports of attempts to "spoof, manipulate, mislead or circumvent location verification".

Evidence.  UUIDs: the hosts, their sites, each host's reporting period and the last
observation in which each host reported each cloned GPU.  Serials: the GPUs sharing it, their
hosts, board flags, and the full-identity observation that last described each.

Severity.  Critical for a UUID reported from two sites at once; high for two hosts of one
site, or a serial shared across hosts; medium for a serial shared on one host without the
multi-GPU-board explanation.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Q

from inventory.models import Gpu, Host

from ..findings import FindingSpec
from ._fleet import Place, Severity, Subject, host_places, in_scope, lookback_start

KIND_UUID = "duplicate_identity.uuid"
KIND_SERIAL = "duplicate_identity.serial"
KIND_MACHINE_ID = "duplicate_identity.machine_id"
CITATION = ("15 CFR part 732 Supp. No. 3 (red flags); BIS diversion guidance of May 13 2025; "
            "Chip Security Act (S.1705/H.R.3447, proposed) on spoofed location")


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    yield from _uuid_clones(host_ids)
    yield from _serial_clones(host_ids)
    yield from _machine_id_clones(host_ids)


def _uuid_clones(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    """GPU rows a host reported under a UUID another host holds (ingest never moves those rows:
    inventory/services/gpu_rows.py), grouped by the pair (reporting host, holding host)."""
    stand_ins = Gpu.objects.filter(uuid_status=Gpu.UuidStatus.HELD_ELSEWHERE, host__isnull=False,
                                   last_seen__gte=lookback_start())
    holders = {g["uuid"]: g for g in Gpu.objects.filter(
        uuid__in=stand_ins.values("reported_uuid"), host__isnull=False).values(
        "uuid", "host_id", "first_seen", "last_seen", "last_observation_id")}
    pairs = defaultdict(list)
    for stand_in in stand_ins.values("reported_uuid", "host_id", "first_seen", "last_seen", "last_observation_id"):
        holder = holders.get(stand_in["reported_uuid"])
        if holder is not None and (host_ids is None or {stand_in["host_id"], holder["host_id"]} & set(host_ids)):
            pairs[(stand_in["host_id"], holder["host_id"])].append((stand_in, holder))
    places = host_places({host for pair in pairs for host in pair})
    for (newcomer, holder_id), gpus in pairs.items():
        sites = {places[newcomer].site_id, places[holder_id].site_id}
        severity = Severity.CRITICAL if len(sites) > 1 else Severity.HIGH
        reported = {newcomer: [n for n, _ in gpus], holder_id: [h for _, h in gpus]}
        yield from split_by_organization(
            places, [newcomer, holder_id], kind=KIND_UUID, severity=severity,
            dedup_key=f"{KIND_UUID}:hosts{newcomer}-{holder_id}", citation=CITATION,
            title=(f"{len(gpus)} GPU UUID(s) reported by one host while another host holds them"
                   + (f" at {len(sites)} sites" if len(sites) > 1 else "")),
            observation_ids=lambda hosts: tuple(g["last_observation_id"] for h in hosts for g in reported[h]
                                                if g["last_observation_id"]),
            figures=lambda hosts: {
                "gpu_uuids": sorted(h["uuid"] for _, h in gpus),
                "hosts": [{"host_id": h, "site_id": places[h].site_id, "cluster_id": places[h].cluster_id,
                           "role": "reporting" if h == newcomer else "holding",
                           "first_reported": min(g["first_seen"] for g in reported[h]).isoformat(),
                           "last_reported": max(g["last_seen"] for g in reported[h]).isoformat()}
                          for h in hosts],
            })


def _machine_id_clones(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    """One /etc/machine-id bound to hosts of different clusters: enrollment gave the newcomer a
    host of its own instead of merging (inventory/services/enrollment.py); a cloned image, or
    an agent enrolled with a machine id that is not its own."""
    bound = Host.objects.exclude(machine_id="")
    shared = bound.values("machine_id").annotate(hosts=Count("id")).filter(hosts__gte=2)
    if host_ids is not None:
        shared = shared.filter(machine_id__in=in_scope(bound, host_ids, "id").values("machine_id"))
    by_machine = defaultdict(list)
    for host in bound.filter(machine_id__in=shared.values("machine_id")).values("id", "machine_id", "cluster_id",
                                                                               "last_observation_id"):
        by_machine[host["machine_id"]].append(host)
    places = host_places(h["id"] for hosts in by_machine.values() for h in hosts)
    for machine_id, hosts in by_machine.items():
        if len({h["cluster_id"] for h in hosts}) < 2:
            continue
        ids = sorted(h["id"] for h in hosts)
        last_observation = {h["id"]: h["last_observation_id"] for h in hosts}
        yield from split_by_organization(
            places, ids, kind=KIND_MACHINE_ID, severity=Severity.HIGH, citation=CITATION,
            dedup_key=f"{KIND_MACHINE_ID}:{hashlib.sha256(machine_id.encode()).hexdigest()[:40]}",
            title=f"One machine id enrolled by {len(ids)} hosts in different clusters",
            observation_ids=lambda own: tuple(last_observation[h] for h in own if last_observation[h]),
            figures=lambda own: {"machine_id": machine_id, "host_ids": own})


def split_by_organization(places: dict[int, Place], host_ids: list[int], *, kind: str, severity: int,
                          dedup_key: str, title: str, citation: str, observation_ids, figures) -> Iterable[FindingSpec]:
    """One finding per operator among ``host_ids``, each naming only that operator's hosts.

    A condition that spans tenants must reach every tenant's officers (a finding is in an
    officer's scope through its organization or cluster) without showing one tenant another's
    hosts, sites or clusters: ``observation_ids`` and ``figures`` are called with the operator's
    own host ids, the rest are counted in ``other_organizations_hosts``."""
    by_operator = defaultdict(list)
    for host_id in host_ids:
        by_operator[places[host_id].operator_id].append(host_id)
    shared = len(by_operator) > 1
    for operator_id, own in by_operator.items():
        subject = own[0]
        yield FindingSpec(
            kind=kind, severity=severity, subject_type=Subject.HOST, subject_id=subject,
            # Always per operator: with a bare key, the finding first raised for one tenant would be refreshed
            # later with another tenant's hosts once the first tenant's GPUs left (found by the invariant test).
            dedup_key=f"{dedup_key}:org{operator_id}",
            title=title + (" (some hosts belong to another organization)" if shared else ""),
            citation=citation, observation_ids=observation_ids(own),
            figures={**figures(own), "other_organizations_hosts": len(host_ids) - len(own)},
            cluster_id=places[subject].cluster_id, organization_id=operator_id,
        )


def _serial_clones(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    # A stand-in row (a UUID another host holds) repeats the holder's serial by design: _uuid_clones reports it.
    with_serial = Gpu.objects.exclude(serial="").exclude(uuid_status=Gpu.UuidStatus.HELD_ELSEWHERE)
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
    for gpu in (with_serial.filter(serial__in=hosts_by_serial)
                .values("id", "serial", "uuid", "host_id", "board_id", "multi_gpu_board", "first_seen", "last_observation_id")
                .order_by("first_seen", "id")):
        members[gpu["serial"]].append(gpu)
    places = host_places({g["host_id"] for gpus in members.values() for g in gpus if g["host_id"]})
    for serial, gpus in members.items():
        on_hosts = [g for g in gpus if g["host_id"]]
        if not on_hosts:
            continue
        hosts = list(dict.fromkeys(g["host_id"] for g in reversed(on_hosts)))  # the newest GPU's host first
        across_hosts = hosts_by_serial[serial] > 1
        yield from split_by_organization(
            places, hosts, kind=KIND_SERIAL, severity=Severity.HIGH if across_hosts else Severity.MEDIUM,
            dedup_key=f"{KIND_SERIAL}:{serial}", citation=CITATION,
            title=(f"Board serial {serial} reported by {len(gpus)} GPUs with different UUIDs"
                   + (f" on {hosts_by_serial[serial]} hosts" if across_hosts else ", not explained by one multi-GPU board")),
            observation_ids=lambda own: tuple(g["last_observation_id"] for g in on_hosts
                                              if g["host_id"] in own and g["last_observation_id"]),
            figures=lambda own: {"serial": serial, "released_gpus": len(gpus) - len(on_hosts), "gpus": [
                {key: g[key] for key in ("uuid", "host_id", "board_id", "multi_gpu_board")}
                for g in on_hosts if g["host_id"] in own]},
        )
