"""The report ingest contract: exact status codes, error bodies that name the problem,
nothing written on failure."""
import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from inventory.models import Gpu, GpuSample, Host, IngestRejection, NvLink, Observation
from inventory.services.enrollment import agent_revoke
from tests.reports import lean, minimal_report, signed_post

pytestmark = pytest.mark.django_db


def table_counts():
    return {m.__name__: m.objects.count() for m in (Observation, Gpu, NvLink, GpuSample)}


@pytest.fixture
def agent(enrolled_agent):
    return enrolled_agent


def test_happy_path_stores_observation_and_current_state(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id), gpus=2)
    response = signed_post(client, report, key)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "stored"
    observation = Observation.objects.get(pk=body["observation_id"])
    assert str(observation.report_id) == report["report_id"]
    assert observation.payload_sha256 == protocol.sha256_hex(protocol.canonical_json(report))
    assert observation.signature_status == "valid" and observation.full_identity
    host = Host.objects.get(pk=agent_obj.host_id)
    assert host.needs_evaluation is not None  # the durable outbox mark, cleared by the evaluation
    gpus = Gpu.objects.filter(host=host).order_by("index")
    assert [g.pci_device_id for g in gpus] == [0x2324, 0x2324]
    assert all(g.active_nvlinks == 8 and g.nvlink_version == 4 for g in gpus)
    assert NvLink.objects.filter(gpu__host=host).count() == 16
    assert GpuSample.objects.filter(observation=observation).count() == 2
    assert gpus[0].last_observation_id == observation.id


def test_same_report_twice_is_stored_once_and_answers_200(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id))
    first = signed_post(client, report, key)
    again = signed_post(client, report, key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate"
    assert again.json()["observation_id"] == first.json()["observation_id"]
    assert Observation.objects.count() == 1


def test_same_report_id_with_different_content_is_409(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id), sequence=0)
    assert signed_post(client, report, key).status_code == 201
    forged = dict(report, sequence=1, synthetic=True)
    forged["host"] = dict(report["host"], hostname="elsewhere")
    before = table_counts()
    response = signed_post(client, forged, key)
    assert response.status_code == 409
    assert response.json()["error"] == "report_conflict"
    assert table_counts() == before


def test_same_report_resent_lean_after_full_is_a_duplicate(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id))
    first = signed_post(client, report, key)
    again = signed_post(client, lean(report), key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["observation_id"] == first.json()["observation_id"]
    assert Observation.objects.count() == 1


def test_oversized_body_is_413_and_writes_nothing(client, agent, settings):
    agent_obj, key = agent
    settings.CHIPWATCH_MAX_REPORT_BYTES = 2000
    report = minimal_report(str(agent_obj.id), gpus=4)
    response = signed_post(client, report, key)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert table_counts()["Observation"] == 0


@pytest.mark.parametrize("body, needle", [
    (b"{not json", "malformed_json"),
    (b'{"a": NaN}', "malformed_json"),
    (b'{"a": 1, "a": 2}', "malformed_json"),
    (b"\xff\xfe", "malformed_json"),
    (b"[1, 2]", "invalid_report"),
])
def test_malformed_json_is_400_with_reason(client, agent, body, needle):
    agent_obj, key = agent
    response = client.post("/api/v1/reports", data=body, content_type="application/json",
                           HTTP_X_CHIPWATCH_AGENT=str(agent_obj.id), HTTP_X_CHIPWATCH_SIGNATURE="AAAA")
    assert response.status_code == 400
    assert response.json()["error"] == needle
    assert table_counts()["Observation"] == 0


def test_missing_fields_are_named(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id))
    del report["sequence"]
    del report["host"]["hostname"]
    response = signed_post(client, report, key)
    assert response.status_code == 400
    detail = response.json()["detail"]
    messages = " ".join(d["field"] + " " + d["message"] for d in detail)
    assert "'sequence' is a required property" in messages
    assert "$.host" in messages and "'hostname' is a required property" in messages
    assert table_counts()["Observation"] == 0


def test_wrong_types_are_named_with_their_path(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id))
    report["sequence"] = "seven"
    report["identity"]["gpus"][0]["memory_total_bytes"] = 0.5
    response = signed_post(client, report, key)
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["detail"]}
    assert "$.sequence" in fields
    assert "$.identity.gpus.0.memory_total_bytes" in fields


def test_unknown_agent_is_401_and_recorded(client, agent):
    _, key = agent
    stranger = "00000000-0000-4000-8000-000000000001"
    response = signed_post(client, minimal_report(stranger), key)
    assert response.status_code == 401
    assert response.json()["error"] == "unknown_agent"
    assert IngestRejection.objects.filter(reason="unknown_agent", claimed_agent_id=stranger).exists()
    assert table_counts()["Observation"] == 0


def test_bad_signature_is_401(client, agent):
    agent_obj, _ = agent
    response = signed_post(client, minimal_report(str(agent_obj.id)), Ed25519PrivateKey.generate())
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert table_counts()["Observation"] == 0


def test_revoked_agent_is_403_from_the_next_report(client, agent):
    agent_obj, key = agent
    assert signed_post(client, minimal_report(str(agent_obj.id), sequence=0), key).status_code == 201
    agent_revoke(agent=agent_obj)
    response = signed_post(client, minimal_report(str(agent_obj.id), sequence=1), key)
    assert response.status_code == 403
    assert response.json()["error"] == "agent_revoked"
    assert Observation.objects.count() == 1


def test_sequence_regression_is_409(client, agent):
    agent_obj, key = agent
    assert signed_post(client, minimal_report(str(agent_obj.id), sequence=5), key).status_code == 201
    response = signed_post(client, minimal_report(str(agent_obj.id), sequence=5), key)
    assert response.status_code == 409
    assert response.json()["error"] == "sequence_regression"
    assert Observation.objects.count() == 1


def test_synthetic_reports_refused_where_not_allowed(client, agent, settings):
    agent_obj, key = agent
    settings.CHIPWATCH_ACCEPT_SYNTHETIC = False
    response = signed_post(client, minimal_report(str(agent_obj.id), synthetic=True), key)
    assert response.status_code == 403
    assert response.json()["error"] == "synthetic_rejected"
    assert IngestRejection.objects.filter(reason="synthetic_rejected").count() == 1
    assert table_counts()["Observation"] == 0


def test_lean_report_with_known_identity_is_accepted(client, agent):
    agent_obj, key = agent
    full = minimal_report(str(agent_obj.id), sequence=0)
    assert signed_post(client, full, key).status_code == 201
    follow = minimal_report(str(agent_obj.id), sequence=1)
    response = signed_post(client, lean(follow), key)
    assert response.status_code == 201
    assert Observation.objects.get(pk=response.json()["observation_id"]).full_identity is False
    assert GpuSample.objects.count() == 4


def test_lean_report_with_unknown_identity_asks_for_the_full_one(client, agent):
    agent_obj, key = agent
    response = signed_post(client, lean(minimal_report(str(agent_obj.id))), key)
    assert response.status_code == protocol.IDENTITY_UNKNOWN_STATUS
    assert response.json()["error"] == protocol.IDENTITY_UNKNOWN
    assert table_counts()["Observation"] == 0


def test_identity_hash_must_match_the_section(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id))
    report["identity"]["gpus"][0]["name"] = "NVIDIA H100 80GB HBM3"  # hash now stale
    response = signed_post(client, report, key)
    assert response.status_code == 400
    assert response.json()["error"] == "identity_hash_mismatch"


def test_clock_skew_is_accepted_with_a_warning(client, agent):
    agent_obj, key = agent
    report = minimal_report(str(agent_obj.id))
    report["collected_at"] = "2030-01-01T00:00:00Z"
    response = signed_post(client, report, key)
    assert response.status_code == 201
    assert "from the server clock" in response.json()["warnings"][0]
    assert Observation.objects.get().clock_skew_seconds > 0


def test_gpu_moving_hosts_of_one_operator_moves_once_the_old_host_released_it(client, agent, cluster):
    """A GPU another host still holds is never taken over (duplicate identity); once its old host's
    full report no longer lists it, a host of the same operator takes the row, history kept."""
    from inventory.services.enrollment import agent_enroll, enrollment_secret_create

    agent_obj, key = agent
    assert signed_post(client, minimal_report(str(agent_obj.id), sequence=1, gpus=1), key).status_code == 201
    _, secret = enrollment_secret_create(label="second", cluster=cluster)
    key2 = Ed25519PrivateKey.generate()
    agent2 = agent_enroll(secret=secret, public_key=protocol.public_key_b64(key2), hostname="gpu-node-02",
                          machine_id="c" * 32)

    def report_from_second_host(sequence):
        moved = minimal_report(str(agent2.id), sequence=sequence, gpus=1)
        moved["host"] = dict(moved["host"], hostname="gpu-node-02", machine_id="c" * 32)
        return moved

    assert signed_post(client, report_from_second_host(1), key2).status_code == 201
    gpu = Gpu.objects.get(uuid="GPU-00000000-0000-4000-8000-000000000000")
    assert gpu.host_id == agent_obj.host_id, "a GPU another host holds is not moved"
    stand_in = Gpu.objects.get(host_id=agent2.host_id)
    assert stand_in.uuid_status == Gpu.UuidStatus.HELD_ELSEWHERE and stand_in.reported_uuid == gpu.uuid

    released = minimal_report(str(agent_obj.id), sequence=2, gpus=2)
    released["identity"]["gpus"] = released["identity"]["gpus"][1:]
    released["telemetry"]["gpus"] = released["telemetry"]["gpus"][1:]
    released["identity_sha256"] = protocol.identity_sha256(released["identity"])
    assert signed_post(client, released, key).status_code == 201
    assert signed_post(client, report_from_second_host(2), key2).status_code == 201
    gpu.refresh_from_db()
    assert gpu.host_id == agent2.host_id
    assert set(GpuSample.objects.filter(gpu=gpu).values_list("host_id", flat=True)) == {agent_obj.host_id,
                                                                                          agent2.host_id}


def test_observations_are_append_only(agent, client):
    agent_obj, key = agent
    response = signed_post(client, minimal_report(str(agent_obj.id)), key)
    observation = Observation.objects.get(pk=response.json()["observation_id"])
    observation.sequence = 99
    with pytest.raises(Exception, match="append-only"):
        observation.save()
    with pytest.raises(Exception, match="append-only"):
        observation.delete()


def test_enroll_endpoint(client, cluster):
    from inventory.services.enrollment import agent_enroll, enrollment_secret_create

    _, secret = enrollment_secret_create(label="once", cluster=cluster, max_uses=1)
    key = protocol.public_key_b64(Ed25519PrivateKey.generate())
    ok = client.post("/api/v1/agents/enroll", {"secret": secret, "public_key": key, "hostname": "n1"},
                     content_type="application/json")
    assert ok.status_code == 201
    assert Host.objects.get(pk=ok.json()["host_id"]).cluster == cluster
    used_up = client.post("/api/v1/agents/enroll", {"secret": secret, "public_key": protocol.public_key_b64(
        Ed25519PrivateKey.generate()), "hostname": "n2"}, content_type="application/json")
    assert used_up.status_code == 403 and used_up.json()["error"] == "secret_used_up"
    wrong = client.post("/api/v1/agents/enroll", {"secret": "nope", "public_key": key, "hostname": "n3"},
                        content_type="application/json")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_secret"
    missing = client.post("/api/v1/agents/enroll", {"secret": secret}, content_type="application/json")
    assert missing.status_code == 400 and "public_key" in missing.json()["detail"]
    assert Host.objects.count() == 1
