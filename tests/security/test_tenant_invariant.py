"""The tenant invariant as a stateful property (issue 11).

Agents of two tenants send random signed reports over HTTP through the real ingest path and
evaluation: their own GPUs, the other tenant's UUIDs, unreadable UUIDs, the other tenant's
machine id, any hostname, collected_at back-dated by days or ahead; full or lean; and agents
enroll with the other tenant's machine id.  After every step:

* no row of the other tenant's hosts, GPUs, NVLinks, samples, scores or findings changed — except
  the duplicate-identity findings that make a cross-tenant clash visible to both tenants, which
  may appear but name none of the acting tenant's hosts;
* every audit as of a passed date (yesterday, for both clusters) has the same content hash.
"""
from __future__ import annotations

import copy
import uuid
from datetime import timedelta

import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db.models import Q
from django.utils import timezone
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from compliance.models import ClusterScore, Finding
from compliance.services import cluster_audit_report
from inventory.models import Agent, Gpu, GpuSample, Host, NvLink
from tests.detectors.conftest import Fleet, at
from tests.reports import minimal_report, signed_post

from .tenants import tenant_create

pytestmark = pytest.mark.django_db(transaction=False)

TENANTS = ("rhein", "lion")
CROSS_TENANT_EVIDENCE = "duplicate_identity."


def gpu_section(index: int, gpu_uuid, serial: str) -> dict:
    section = copy.deepcopy(minimal_report("0" * 8, gpus=1)["identity"]["gpus"][0])
    section.update(index=index, uuid=gpu_uuid, serial=serial)
    return section


def tenant_rows(tenant) -> dict:
    """Everything of one tenant a foreign report must not touch, as plain values."""
    hosts = Host.objects.filter(cluster=tenant.cluster)
    gpus = Gpu.objects.filter(Q(host__in=hosts) | Q(host__isnull=True, last_observation__host__in=hosts))
    findings = Finding.objects.filter(Q(organization=tenant.operator) | Q(cluster=tenant.cluster))
    return {
        "hosts": list(hosts.order_by("pk").values()),
        "gpus": list(gpus.order_by("pk").values()),
        "nvlinks": list(NvLink.objects.filter(gpu__in=gpus).order_by("pk").values()),
        "samples": list(GpuSample.objects.filter(host__in=hosts).order_by("pk").values_list("pk", "gpu_id")),
        "scores": list(ClusterScore.objects.filter(cluster=tenant.cluster).order_by("pk").values()),
        "findings": list(findings.exclude(kind__startswith=CROSS_TENANT_EVIDENCE).order_by("pk").values()),
    }


def audit_hash(tenant, as_of) -> str:
    return protocol.sha256_hex(protocol.canonical_json(cluster_audit_report(cluster=tenant.cluster, as_of=as_of)))


class TenantInvariant(RuleBasedStateMachine):
    """Class attributes `client` and `capture` are set by the test before it runs."""

    client = capture = None

    @initialize()
    def two_tenants_with_a_history(self):
        self.fleet = Fleet(self.client, self.capture)
        suffix = uuid.uuid4().hex[:6]
        self.tenants = {name: tenant_create(self.fleet, f"{name}{suffix}", country)
                        for name, country in zip(TENANTS, ("DE", "SG"))}
        self.agents = {name: [] for name in TENANTS}  # (agent id, key, machine id, next sequence)
        self.uuids = {name: [f"GPU-{uuid.uuid4()}" for _ in range(3)] for name in TENANTS}
        self.yesterday = timezone.now() - timedelta(days=1)
        for name in TENANTS:
            self._enroll(name, f"{name}-{suffix}".ljust(32, "0"))
            with at(self.yesterday):
                self._report(name, 0, [gpu_section(i, u, f"{name}{i}") for i, u in enumerate(self.uuids[name])],
                             collected_at=self.yesterday, machine_id=None, hostname=f"{name}-node")
        self.past = {name: audit_hash(self.tenants[name], self.yesterday.date()) for name in TENANTS}
        assert all(cluster_audit_report(cluster=t.cluster, as_of=self.yesterday.date())["inventory"]
                   for t in self.tenants.values())

    def _enroll(self, name: str, machine_id: str):
        key = Ed25519PrivateKey.generate()
        with self.capture(execute=True):
            response = self.client.post("/api/v1/agents/enroll", {
                "secret": self.tenants[name].secret, "public_key": protocol.public_key_b64(key),
                "hostname": f"{name}-node", "machine_id": machine_id}, content_type="application/json")
        assert response.status_code == 201, response.content
        self.agents[name].append([response.json()["agent_id"], key, machine_id, 0])

    def _report(self, name, agent_index, gpus, *, collected_at, machine_id, hostname, full=True):
        entry = self.agents[name][agent_index % len(self.agents[name])]
        agent_id, key, own_machine_id, sequence = entry
        report = minimal_report(agent_id, sequence=sequence, gpus=1)
        report["identity"] = {"gpus": gpus}
        report["identity_sha256"] = protocol.identity_sha256(report["identity"])
        report["telemetry"] = {"gpus": [dict(report["telemetry"]["gpus"][0], uuid=g["uuid"]) for g in gpus]}
        report["collected_at"] = collected_at.isoformat().replace("+00:00", "Z")
        report["host"].update(hostname=hostname, machine_id=machine_id or own_machine_id)
        if not full:
            report.pop("identity")
            host = Agent.objects.get(pk=agent_id).host
            report["identity_sha256"] = host.identity_sha256 or report["identity_sha256"]
        with self.capture(execute=True):
            response = signed_post(self.client, report, key)
        assert response.status_code in (200, 201, 400, 403, 409, 428, 429), (response.status_code, response.content)
        if response.status_code in (200, 201):
            entry[3] = sequence + 1
        return response

    def _other(self, name: str) -> str:
        return TENANTS[1 - TENANTS.index(name)]

    def _checked(self, acting: str, step):
        other = self._other(acting)
        before = tenant_rows(self.tenants[other])
        step()
        assert tenant_rows(self.tenants[other]) == before, f"a {acting} agent changed {other}'s rows"
        acting_hosts = set(Host.objects.filter(cluster=self.tenants[acting].cluster).values_list("pk", flat=True))
        for finding in Finding.objects.filter(organization=self.tenants[other].operator,
                                              kind__startswith=CROSS_TENANT_EVIDENCE):
            figures = finding.evidence["figures"]
            named = set(figures.get("host_ids", [])) | {h["host_id"] for h in figures.get("hosts", [])} \
                | {g["host_id"] for g in figures.get("gpus", [])}
            assert not named & acting_hosts, f"{other}'s finding names {acting}'s hosts: {figures}"

    @rule(acting=st.sampled_from(TENANTS), agent_index=st.integers(0, 3),
          kinds=st.lists(st.sampled_from(["own", "foreign", "unreadable", "new"]), min_size=1, max_size=4),
          machine=st.sampled_from(["own", "foreign", "random"]),
          hostname=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20),
          offset_hours=st.integers(-72, 2), full=st.booleans())
    def send_report(self, acting, agent_index, kinds, machine, hostname, offset_hours, full):
        other = self._other(acting)
        pools = {"own": self.uuids[acting], "foreign": self.uuids[other]}
        gpus = []
        for index, kind in enumerate(kinds):
            if kind == "unreadable":
                gpu_uuid = {"error": "Unknown"}
            elif kind == "new":
                gpu_uuid = f"GPU-{uuid.uuid4()}"
            else:
                gpu_uuid = pools[kind][index % 3]
            gpus.append(gpu_section(index, gpu_uuid, f"{kind}{index}"))
        machine_id = {"own": None, "foreign": self.agents[other][0][2], "random": uuid.uuid4().hex}[machine]
        self._checked(acting, lambda: self._report(
            acting, agent_index, gpus, collected_at=timezone.now() + timedelta(hours=offset_hours),
            machine_id=machine_id, hostname=hostname, full=full))

    @rule(acting=st.sampled_from(TENANTS), foreign=st.booleans())
    def enroll_another_agent(self, acting, foreign):
        other = self._other(acting)
        machine_id = self.agents[other][0][2] if foreign else self.agents[acting][0][2]
        self._checked(acting, lambda: self._enroll(acting, machine_id))

    @invariant()
    def past_audits_never_change(self):
        if hasattr(self, "past"):
            for name, digest in self.past.items():
                assert audit_hash(self.tenants[name], self.yesterday.date()) == digest, f"{name}'s past audit changed"


def test_a_signed_report_changes_only_its_own_tenant_and_no_past_audit(client, django_capture_on_commit_callbacks):
    TenantInvariant.client, TenantInvariant.capture = client, django_capture_on_commit_callbacks
    run_state_machine_as_test(TenantInvariant, settings=settings(
        max_examples=15, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
