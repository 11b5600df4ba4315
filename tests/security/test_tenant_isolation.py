"""Issue 11: a report signed by agent X changes nothing but X's own host, and an audit as of a
passed date never changes.  Each attack of the review, over HTTP, on the real ingest path."""
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from compliance.models import ClusterScore, Finding
from inventory.models import Agent, Gpu, GpuSample, Host, IngestRejection
from tests.detectors.conftest import Fleet, at
from tests.reports import lean

from .tenants import post, tenant_create, with_identity

pytestmark = pytest.mark.django_db

RHEIN_MACHINE = "1" * 32


@pytest.fixture
def fleet(db, client, django_capture_on_commit_callbacks):
    return Fleet(client, django_capture_on_commit_callbacks)


@pytest.fixture
def rhein(fleet):
    return tenant_create(fleet, "Rhein", "DE")


@pytest.fixture
def lion(fleet):
    return tenant_create(fleet, "LionCity", "SG")


@pytest.fixture
def victim(rhein):
    """A Rhein host with 8 A100s that has reported once."""
    response, node = rhein.enroll("rhein-gpu-01", RHEIN_MACHINE)
    assert response.status_code == 201
    assert post(node, node.build("hgx-a100")).status_code == 201
    return node


def snapshot_of(model, host_id):
    return list(model.objects.filter(host_id=host_id).order_by("pk").values())


def findings_of(kind, organization):
    return list(Finding.objects.filter(kind=kind, organization=organization))


# --- 1. enrollment -------------------------------------------------------------------------


def test_a_foreign_secret_with_the_victims_machine_id_gets_a_new_host_and_a_finding_for_both(victim, rhein, lion):
    response, attacker = lion.enroll("lion-gpu-01", RHEIN_MACHINE)
    assert response.status_code == 201
    assert attacker.host.pk != victim.host.pk and attacker.host.cluster_id == lion.cluster.pk
    assert Agent.objects.get(pk=victim.agent.pk).revoked_at is None, "the victim keeps its key"
    gpus_before = snapshot_of(Gpu, victim.host.pk)
    assert post(attacker, attacker.build("hgx-a100")).status_code == 201  # a report lands on the attacker's host
    assert snapshot_of(Gpu, victim.host.pk) == gpus_before
    [theirs], [ours] = findings_of("duplicate_identity.machine_id", lion.operator), \
        findings_of("duplicate_identity.machine_id", rhein.operator)
    assert theirs.evidence["figures"]["host_ids"] == [attacker.host.pk]
    assert ours.evidence["figures"]["host_ids"] == [victim.host.pk]
    assert ours.cluster_id == rhein.cluster.pk and theirs.cluster_id == lion.cluster.pk
    assert theirs.evidence["figures"]["other_organizations_hosts"] == 1


def test_re_enrollment_keeps_the_host_and_retires_the_old_key_for_good(victim, rhein):
    response, again = rhein.enroll("rhein-gpu-01", RHEIN_MACHINE)
    assert response.status_code == 201 and again.host.pk == victim.host.pk
    old = Agent.objects.get(pk=victim.agent.pk)
    assert old.revoked_at is not None
    assert Agent.objects.filter(host=victim.host, revoked_at__isnull=True).count() == 1
    refused = post(victim, victim.build("hgx-a100"))
    assert refused.status_code == 403 and refused.json()["error"] == "agent_revoked"
    old.revoked_at = None
    with pytest.raises(ValidationError, match="stays revoked"):
        old.save()
    assert post(again, again.build("hgx-a100")).status_code == 201


# --- 2. machine id -------------------------------------------------------------------------


def test_a_reported_machine_id_is_evidence_never_a_rewrite(victim, rhein):
    report = victim.build("hgx-a100")
    report["host"]["machine_id"] = "f" * 32
    assert post(victim, report).status_code == 201
    host = Host.objects.get(pk=victim.host.pk)
    assert host.machine_id == RHEIN_MACHINE and host.reported_machine_id == "f" * 32
    [finding] = findings_of("telemetry_integrity.machine_id_mismatch", rhein.operator)
    assert finding.evidence["figures"] == {"enrolled_machine_id": RHEIN_MACHINE, "reported_machine_id": "f" * 32}


# --- 3. GPUs --------------------------------------------------------------------------------


def test_a_full_report_of_another_tenants_uuids_moves_nothing(victim, rhein, lion):
    _, attacker = lion.enroll("lion-gpu-01", "2" * 32)
    stolen = attacker.build("hgx-a100")
    stolen = with_identity(stolen, victim.build("hgx-a100")["identity"]["gpus"])
    before = {model: snapshot_of(model, victim.host.pk) for model in (Gpu, GpuSample)}
    assert post(attacker, stolen).status_code == 201
    assert {model: snapshot_of(model, victim.host.pk) for model in (Gpu, GpuSample)} == before
    assert Gpu.objects.filter(host=victim.host).count() == 8
    stand_ins = Gpu.objects.filter(host=attacker.host)
    assert stand_ins.count() == 8 and {g.uuid_status for g in stand_ins} == {Gpu.UuidStatus.HELD_ELSEWHERE}
    assert {g.serial for g in stand_ins} == {g.serial for g in Gpu.objects.filter(host=victim.host)}, \
        "the attacker sees only what it reported itself"
    [theirs], [ours] = (findings_of("duplicate_identity.uuid", lion.operator),
                        findings_of("duplicate_identity.uuid", rhein.operator))
    assert theirs.subject_id == attacker.host.pk and ours.subject_id == victim.host.pk
    assert ours.severity == theirs.severity == Finding.Severity.CRITICAL  # two sites
    for finding, own, other in ((theirs, attacker, victim), (ours, victim, attacker)):
        hosts = finding.evidence["figures"]["hosts"]
        assert [h["host_id"] for h in hosts] == [own.host.pk]
        evidence = json.dumps(finding.evidence) + finding.title
        assert str(other.host.cluster_id) not in [str(h["cluster_id"]) for h in hosts]
        assert other.host.hostname not in evidence and other.host.cluster.site.name not in evidence
        assert finding.evidence["figures"]["other_organizations_hosts"] == 1


def test_a_lean_report_writes_samples_only_for_its_own_gpus(victim, lion):
    _, attacker = lion.enroll("lion-gpu-01", "2" * 32)
    own = attacker.build("hgx-a100")
    assert post(attacker, own).status_code == 201
    sneaky = lean(attacker.build("hgx-a100"))
    sneaky["telemetry"]["gpus"] += [dict(sneaky["telemetry"]["gpus"][0], uuid=g.uuid)
                                    for g in Gpu.objects.filter(host=victim.host)]
    victim_samples = GpuSample.objects.filter(gpu__host=victim.host).count()
    assert post(attacker, sneaky).status_code == 201
    assert GpuSample.objects.filter(gpu__host=victim.host).count() == victim_samples
    assert set(GpuSample.objects.filter(host=attacker.host).values_list("gpu__host_id", flat=True)) == {
        attacker.host.pk}


def test_gpus_with_an_unreadable_uuid_still_count_and_raise_a_finding(rhein):
    _, node = rhein.enroll("rhein-gpu-02", "3" * 32)
    report = node.build("hgx-h100")
    gpus = [dict(g, uuid={"error": "Unknown", "message": "uuid unreadable"}) for g in report["identity"]["gpus"]]
    assert post(node, with_identity(report, gpus)).status_code == 201
    rows = Gpu.objects.filter(host=node.host)
    assert rows.count() == 8 and {g.uuid_status for g in rows} == {Gpu.UuidStatus.UNREADABLE}
    score = ClusterScore.objects.get(cluster=rhein.cluster)
    assert score.gpu_count == 8, "unreadable GPUs are counted, never absent"
    [finding] = findings_of("telemetry_integrity.unreadable_uuid", rhein.operator)
    assert finding.evidence["figures"] == {"gpus_without_uuid": 8}


# --- 4. audits ------------------------------------------------------------------------------


def test_a_passed_audit_never_changes_even_for_backdated_reports(fleet, rhein, admin_user, client):
    yesterday = timezone.now() - timedelta(days=1)
    _, node = rhein.enroll("rhein-gpu-03", "4" * 32)
    with at(yesterday):
        assert post(node, node.build("hgx-a100", when=yesterday), when=yesterday).status_code == 201
    client.force_login(admin_user)
    url = f"/api/v1/clusters/{rhein.cluster.pk}/audit?as_of={yesterday.date().isoformat()}"
    before = client.get(url)
    assert before.status_code == 200 and json.loads(before.content)["report"]["inventory"]
    backdated = node.build("hgx-h100", when=yesterday - timedelta(hours=1))
    backdated["host"]["hostname"] = "renamed-after-the-fact"
    assert post(node, backdated).status_code == 201  # received now, collected "yesterday"
    assert Host.objects.get(pk=node.host.pk).hostname == "renamed-after-the-fact"
    after = client.get(url)
    assert after.content == before.content and after["X-Content-SHA256"] == before["X-Content-SHA256"]


# --- 8 and 11. budgets, sequences, fake backends -------------------------------------------------


def test_an_agent_over_its_budget_gets_429_counted_and_raised(victim, rhein, settings):
    settings.CHIPWATCH_AGENT_REPORTS_PER_MINUTE = 2
    now = timezone.now() + timedelta(minutes=5)  # a fresh minute window after the fixture's report
    assert post(victim, victim.build("hgx-a100", when=now), when=now).status_code == 201
    assert post(victim, victim.build("hgx-a100", when=now), when=now).status_code == 201
    refused = post(victim, victim.build("hgx-a100", when=now), when=now)
    assert refused.status_code == 429 and refused.json()["error"] == "budget_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert IngestRejection.objects.filter(agent=victim.agent, reason="budget_exceeded").count() == 1
    settings.CHIPWATCH_AGENT_REPORTS_PER_MINUTE, settings.CHIPWATCH_AGENT_BYTES_PER_DAY = 100, 1
    later = now + timedelta(minutes=2)
    by_bytes = post(victim, victim.build("hgx-a100", when=later), when=later)
    assert by_bytes.status_code == 429 and "bytes a day" in by_bytes.json()["detail"]
    assert int(by_bytes["Retry-After"]) <= 24 * 3600
    settings.CHIPWATCH_AGENT_BYTES_PER_DAY = 10**9
    assert post(victim, victim.build("hgx-a100", when=later), when=later).status_code == 201  # raises the finding
    [finding] = Finding.objects.filter(kind="telemetry_integrity.refused_reports",
                                       dedup_key__endswith=":budget_exceeded")
    assert finding.organization_id == rhein.operator.pk and finding.evidence["figures"]["count"] == 2


def test_a_stolen_key_cannot_push_the_sequence_out_of_reach(victim):
    stolen = victim.build("hgx-a100")
    stolen["sequence"] = 2**53 - 1
    refused = post(victim, stolen)
    assert refused.status_code == 409 and refused.json()["error"] == "sequence_jump"
    assert post(victim, victim.build("hgx-a100")).status_code == 201, "the real agent is not locked out"


def test_a_fake_backend_passed_off_as_hardware_is_refused(victim, settings):
    report = victim.build("hgx-a100")
    report["synthetic"] = False
    refused = post(victim, report)
    assert refused.status_code == 400 and refused.json()["error"] == "synthetic_mismatch"
    assert IngestRejection.objects.filter(agent=victim.agent, reason="synthetic_mismatch").exists()
