"""The signed landmark API and the judgments, without a network: bodies built the way a landmark builds them."""
import os
from datetime import datetime, timedelta, timezone

from chipwatch_agent import challenge as wire
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.location import services
from compliance.location.landmark import CLAIM_SCHEMA, MEASUREMENT_SCHEMA
from compliance.location.models import Challenge, Measurement
from compliance.models import Finding

from .conftest import signed_post


def claim(client, landmark, agent):
    response = signed_post(client, "claim", {"schema": CLAIM_SCHEMA, "landmark_id": landmark.row.pk,
                                             "agent_ids": [str(agent.id)]}, landmark.private_key)
    assert response.status_code == 200, response.json()
    return response.json()["challenges"]


def report(issued: dict, landmark, agent_key, rtts_ms, *, evidence=None) -> dict:
    """What a landmark reports after timing `rtts_ms`: fresh nonces under the challenge, each signed by the agent."""
    rounds = []
    for rtt in rtts_ms:
        nonce = bytes.fromhex(issued["nonce"]) + os.urandom(16)
        rounds.append({"nonce": nonce.hex(), "rtt_ms": rtt, "signature": wire.sign_nonce(agent_key, nonce),
                       "gpu_evidence": evidence or wire.unsupported()})
    return {"schema": MEASUREMENT_SCHEMA, "landmark_id": landmark.row.pk, "agent_id": issued["agent_id"],
            "challenge_nonce": issued["nonce"], "rounds": rounds,
            "measured_at": datetime.now(timezone.utc).isoformat()}


def measure(client, landmark, agent, agent_key, rtts_ms, **kwargs):
    [issued] = claim(client, landmark, agent)
    return signed_post(client, "measurements", report(issued, landmark, agent_key, rtts_ms, **kwargs),
                       landmark.private_key)


def test_a_signed_measurement_is_stored_with_its_minimum_and_evaluated_on_commit(
        client, landmarks, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = measure(client, landmarks["SIN"], agent, key, [1.9, 1.2, 1.5])
    assert response.status_code == 201, response.json()
    measurement = Measurement.objects.get(pk=response.json()["measurement_id"])
    assert measurement.rtt_min_ms == 1.2 and measurement.rtt_samples_ms == [1.9, 1.2, 1.5]
    assert measurement.provenance == "measured" and measurement.host == agent.host
    assert measurement.gpu_attestation == Measurement.GpuAttestation.UNSUPPORTED
    assert measurement.challenge.used_at is not None
    assert len(callbacks) == 1
    assert not Finding.objects.filter(kind="location_impossible").exists()


def test_the_server_sets_the_schedule_a_pending_challenge_is_handed_out_again(client, landmarks, enrolled_agent):
    agent, _ = enrolled_agent
    first = claim(client, landmarks["SIN"], agent)
    assert claim(client, landmarks["SIN"], agent) == first
    assert Challenge.objects.count() == 1


def test_a_used_challenge_yields_nothing_new_until_the_interval_passes(client, landmarks, enrolled_agent, settings):
    agent, key = enrolled_agent
    assert measure(client, landmarks["SIN"], agent, key, [1.0]).status_code == 201
    assert claim(client, landmarks["SIN"], agent) == []
    settings.CHIPWATCH_LOCATION_CHALLENGE_INTERVAL_S = 0
    assert len(claim(client, landmarks["SIN"], agent)) == 1


def _refused(response, status, code):
    assert response.status_code == status, response.json()
    assert response.json()["error"] == code
    assert Measurement.objects.count() == 0


def test_a_wrong_landmark_signature_is_refused_and_nothing_stored(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    [issued] = claim(client, landmarks["SIN"], agent)
    body = report(issued, landmarks["SIN"], key, [1.0])
    _refused(signed_post(client, "measurements", body, Ed25519PrivateKey.generate()), 401, "bad_signature")
    # Another registered landmark cannot report for this one either.
    _refused(signed_post(client, "measurements", body, landmarks["HKG"].private_key,
                         landmark_id=landmarks["HKG"].row.pk), 401, "landmark_mismatch")


def test_an_answer_signed_by_another_key_is_refused_and_nothing_stored(client, landmarks, enrolled_agent):
    agent, _ = enrolled_agent
    [issued] = claim(client, landmarks["SIN"], agent)
    body = report(issued, landmarks["SIN"], Ed25519PrivateKey.generate(), [1.0])
    _refused(signed_post(client, "measurements", body, landmarks["SIN"].private_key), 422, "agent_signature_invalid")
    assert Challenge.objects.get().used_at is None


def test_a_reused_challenge_is_refused(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    [issued] = claim(client, landmarks["SIN"], agent)
    assert signed_post(client, "measurements", report(issued, landmarks["SIN"], key, [1.0]),
                       landmarks["SIN"].private_key).status_code == 201
    response = signed_post(client, "measurements", report(issued, landmarks["SIN"], key, [0.5]),
                           landmarks["SIN"].private_key)
    assert response.status_code == 409 and response.json()["error"] == "challenge_used"
    assert Measurement.objects.count() == 1


def test_a_stale_challenge_is_refused(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    [issued] = claim(client, landmarks["SIN"], agent)
    Challenge.objects.update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    _refused(signed_post(client, "measurements", report(issued, landmarks["SIN"], key, [1.0]),
                         landmarks["SIN"].private_key), 410, "challenge_stale")


def test_a_nonce_not_under_the_challenge_or_repeated_is_refused(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    [issued] = claim(client, landmarks["SIN"], agent)
    body = report(issued, landmarks["SIN"], key, [1.0, 2.0])
    body["rounds"][1] = body["rounds"][0]
    _refused(signed_post(client, "measurements", body, landmarks["SIN"].private_key), 409, "nonce_reused")
    foreign = os.urandom(32)
    body["rounds"] = [{"nonce": foreign.hex(), "rtt_ms": 1.0, "signature": wire.sign_nonce(key, foreign),
                       "gpu_evidence": wire.unsupported()}]
    _refused(signed_post(client, "measurements", body, landmarks["SIN"].private_key), 409, "nonce_reused")


def test_an_unknown_challenge_and_an_unknown_landmark_are_refused(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    [issued] = claim(client, landmarks["SIN"], agent)
    body = report(dict(issued, nonce="ab" * 16), landmarks["SIN"], key, [1.0])
    _refused(signed_post(client, "measurements", body, landmarks["SIN"].private_key), 404, "unknown_challenge")
    body = report(issued, landmarks["SIN"], key, [1.0])
    _refused(signed_post(client, "measurements", body, landmarks["SIN"].private_key, landmark_id=999999), 401,
             "unknown_landmark")


def test_synthetic_gpu_evidence_is_never_attestation(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    evidence = {"gpu_index": 0, "report_b64": "RkFLRQ==", "synthetic": True}
    response = measure(client, landmarks["SIN"], agent, key, [1.0], evidence=evidence)
    assert response.json()["gpu_attestation"] == Measurement.GpuAttestation.SYNTHETIC


def _findings(host):
    return {f.kind: f for f in Finding.objects.filter(subject_type="host", subject_id=host.id)}


def test_a_host_that_answers_shanghai_at_once_is_impossible_in_singapore_and_lies_in_a_licence_country(
        client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    measure(client, landmarks["SHA"], agent, key, [2.5, 2.1])
    measure(client, landmarks["SIN"], agent, key, [47.0])
    located = services.host_location_evaluate(host_id=agent.host_id)
    findings = _findings(agent.host)
    impossible = findings["location_impossible"]
    assert impossible.severity == Finding.Severity.HIGH and "physically impossible" in impossible.title
    assert impossible.evidence["figures"]["measurement_ids"] == [m.id for m in located.measurements]
    assert impossible.evidence["figures"]["excluding_discs"][0]["landmark"] == "SHA"
    assert "Chip Security Act" in impossible.citation
    assert findings["location_in_licence_destination"].severity == Finding.Severity.HIGH
    assert located.assessment.countries == ["CN"]


def test_an_honest_host_gets_no_finding_and_a_wide_region_only_an_info_one(client, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    measure(client, landmarks["SIN"], agent, key, [1.3])
    measure(client, landmarks["SHA"], agent, key, [52.0])
    assert services.host_location_evaluate(host_id=agent.host_id).assessment.verdict == "allowed"
    assert _findings(agent.host) == {}

    Challenge.objects.update(issued_at=datetime.now(timezone.utc) - timedelta(days=1))  # next scheduled round
    measure(client, landmarks["SIN"], agent, key, [30.0])  # the host now answers as from far away
    services.host_location_evaluate(host_id=agent.host_id)
    assert set(_findings(agent.host)) == {"location_unresolved"}
    assert _findings(agent.host)["location_unresolved"].severity == Finding.Severity.INFO


def test_the_host_page_draws_landmarks_rtts_and_the_region(client, admin_user, landmarks, enrolled_agent):
    agent, key = enrolled_agent
    measure(client, landmarks["SIN"], agent, key, [1.3])
    client.force_login(admin_user)
    page = client.get(f"/location/hosts/{agent.host_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "SIN" in html and "1.300" in html and "feasible region" in html
    assert "Singapore (SG)" in html  # the country outlines, with names


def test_the_host_page_is_for_staff_only(client, enrolled_agent):
    agent, _ = enrolled_agent
    assert client.get(f"/location/hosts/{agent.host_id}/").status_code == 302
