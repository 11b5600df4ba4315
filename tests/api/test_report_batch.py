"""POST /api/v1/reports/batch: each report answered as POST /api/v1/reports would answer it alone,
in one transaction; a body that is not a batch is one 4xx naming the problem, and stores nothing."""
import json

import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import GpuSample, Host, IngestRejection, Observation
from inventory.services.enrollment import agent_revoke
from tests.reports import lean, minimal_report, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/reports/batch"


def batch_post(client, agent_id: str, entries: list, *, body: bytes | None = None):
    data = body if body is not None else json.dumps({"reports": entries}).encode()
    return client.post(URL, data=data, content_type="application/json", HTTP_X_CHIPWATCH_AGENT=agent_id)


def entry(report: dict, key) -> dict:
    return {"report": report, "signature": protocol.sign(key, report)}


def test_a_spool_of_reports_is_stored_in_order_with_one_result_each(client, enrolled_agent):
    agent, key = enrolled_agent
    reports = [minimal_report(str(agent.id), sequence=0)] + [
        lean(minimal_report(str(agent.id), sequence=n)) for n in range(1, 5)]
    response = batch_post(client, str(agent.id), [entry(r, key) for r in reports])
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["http_status"] for r in results] == [201] * 5
    assert [r["report_id"] for r in results] == [r["report_id"] for r in reports]
    stored = Observation.objects.filter(pk__in=[r["observation_id"] for r in results])
    assert sorted(stored.values_list("sequence", flat=True)) == [0, 1, 2, 3, 4]
    assert GpuSample.objects.count() == 5 * 2
    agent.refresh_from_db()
    assert agent.last_sequence == 4


def test_each_report_gets_the_single_endpoints_answer_and_a_refused_one_leaves_nothing(client, enrolled_agent,
                                                                                       postgres_url):
    """On PostgreSQL: SQLite has no smallint, so it stores the temperature PostgreSQL refuses mid-write."""
    agent, key = enrolled_agent
    first = minimal_report(str(agent.id), sequence=0)
    assert signed_post(client, first, key).status_code == 201
    other_key = Ed25519PrivateKey.generate()
    unstorable = lean(minimal_report(str(agent.id), sequence=2))
    unstorable["telemetry"]["gpus"][0]["temperature_c"] = 2 ** 40  # the schema admits it, a smallint does not
    entries = [
        entry(first, key),                                        # resent: duplicate, 200
        entry(lean(minimal_report(str(agent.id), sequence=1)), other_key),  # forged: 401 bad_signature
    ]
    response = batch_post(client, str(agent.id), entries)
    assert [r["http_status"] for r in response.json()["results"]] == [200, 401]
    assert response.json()["results"][0]["status"] == "duplicate"
    assert response.json()["results"][1]["error"] == "bad_signature"

    entries = [
        entry(lean(minimal_report(str(agent.id), sequence=1)), key),  # stored
        entry(unstorable, key),                                         # 400 unstorable_value, rolled back alone
        entry({"not": "a report"}, key),                                # 400 invalid_report
        entry(lean(minimal_report(str(agent.id), sequence=0)), key),   # 409 sequence_regression
        entry(lean(minimal_report(str(agent.id), sequence=3)), key),   # stored
    ]
    results = batch_post(client, str(agent.id), entries).json()["results"]
    assert [(r["http_status"], r.get("error")) for r in results] == [
        (201, None), (400, "unstorable_value"), (400, "invalid_report"), (409, "sequence_regression"), (201, None)]
    assert sorted(Observation.objects.values_list("sequence", flat=True)) == [0, 1, 3]
    assert sorted(IngestRejection.objects.values_list("reason", flat=True)) == [
        "bad_signature", "sequence_regression", "unstorable_value"]  # each once, though the batch was redone


def test_after_an_answer_the_agent_retries_the_rest_is_not_attempted(client, enrolled_agent):
    agent, key = enrolled_agent
    assert signed_post(client, minimal_report(str(agent.id), sequence=0), key).status_code == 201
    unknown_identity = lean(minimal_report(str(agent.id), sequence=1, gpus=3))  # a hash the server never saw
    entries = [entry(unknown_identity, key), entry(lean(minimal_report(str(agent.id), sequence=2)), key)]
    results = batch_post(client, str(agent.id), entries).json()["results"]
    assert [(r["http_status"], r["error"]) for r in results] == [
        (protocol.IDENTITY_UNKNOWN_STATUS, protocol.IDENTITY_UNKNOWN), (503, "not_attempted")]
    assert Observation.objects.count() == 1


def test_a_revoked_agent_is_refused_from_the_next_report_of_a_batch(client, enrolled_agent):
    agent, key = enrolled_agent
    agent_revoke(agent=agent)
    results = batch_post(client, str(agent.id), [entry(minimal_report(str(agent.id)), key)]).json()["results"]
    assert (results[0]["http_status"], results[0]["error"]) == (403, "agent_revoked")
    assert Observation.objects.count() == 0


def test_a_report_of_another_agent_in_the_batch_is_refused(client, enrolled_agent):
    agent, key = enrolled_agent
    someone_else = minimal_report("0190f5a2-7c3e-7d41-9b2a-3c4d5e6f7a8b")
    results = batch_post(client, str(agent.id), [entry(someone_else, key)]).json()["results"]
    assert (results[0]["http_status"], results[0]["error"]) == (401, "agent_mismatch")


@pytest.mark.parametrize("body, status, code, needle", [
    (b"[1, 2]", 400, "invalid_batch", "a batch is"),
    (b'{"reports": []}', 400, "invalid_batch", "at least one"),
    (b'{"reports": [{"report": {}}]}', 400, "invalid_batch", "$.reports[0]"),
    (b'{"reports": [], "reports": []}', 400, "malformed_json", "duplicate key"),
    (b'{"reports": [NaN]}', 400, "malformed_json", "NaN"),
    (b"\xff", 400, "malformed_json", "UTF-8"),
])
def test_a_body_that_is_not_a_batch_is_a_4xx_naming_the_problem(client, enrolled_agent, body, status, code, needle):
    agent, _ = enrolled_agent
    response = batch_post(client, str(agent.id), [], body=body)
    assert response.status_code == status
    assert response.json()["error"] == code and needle in json.dumps(response.json()["detail"])
    assert Observation.objects.count() == 0


def test_more_reports_than_the_limit_is_413_and_stores_nothing(client, enrolled_agent, settings):
    agent, key = enrolled_agent
    settings.CHIPWATCH_BATCH_MAX_REPORTS = 2
    entries = [entry(minimal_report(str(agent.id), sequence=n), key) for n in range(3)]
    response = batch_post(client, str(agent.id), entries)
    assert response.status_code == 413 and response.json()["error"] == "too_many_reports"
    assert "at most 2" in response.json()["detail"]
    assert Observation.objects.count() == 0


def test_a_batch_of_lean_reports_shares_its_writes(client, enrolled_agent):
    agent, key = enrolled_agent
    assert signed_post(client, minimal_report(str(agent.id), sequence=0), key).status_code == 201
    entries = [entry(lean(minimal_report(str(agent.id), sequence=n)), key) for n in range(1, 6)]
    # an evaluation already pending: none is enqueued (in tests it would run inline, inside the count)
    Host.objects.filter(pk=agent.host_id).update(needs_evaluation=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        response = batch_post(client, str(agent.id), entries)
    results = response.json()["results"]
    assert [r["http_status"] for r in results] == [201] * 5

    def count(prefix):
        return sum(q["sql"].startswith(prefix) for q in queries.captured_queries)

    # one observation per report; the agent locked once, the GPUs touched once, all samples in one
    # INSERT, the host and agent rows written once with the last report's values
    assert count('INSERT INTO "inventory_observation"') == 5
    assert count('SELECT "inventory_agent"') == 1
    assert count('UPDATE "inventory_gpu" SET "last_seen"') == 1
    assert count('INSERT INTO "inventory_gpusample"') == 1
    assert count('UPDATE "inventory_agent"') == 1
    assert count('UPDATE "inventory_host"') == 1
    assert count("SELECT") + count("INSERT") + count("UPDATE") == 5 + 5
    host = Host.objects.get(pk=agent.host_id)
    assert host.last_observation_id == results[-1]["observation_id"]
    agent.refresh_from_db()
    assert agent.last_sequence == 5
    sizes = [len(protocol.canonical_json(e["report"])) for e in entries]
    assert agent.budget_day_bytes == len(protocol.canonical_json(minimal_report(str(agent.id), sequence=0))) + sum(sizes)
    per_observation = {o: GpuSample.objects.filter(observation_id=o).count() for o in
                       [r["observation_id"] for r in results]}
    assert per_observation == {r["observation_id"]: 2 for r in results}


def test_a_full_report_inside_a_batch_moves_the_telemetry_of_the_next_reports(client, enrolled_agent):
    """A new identity mid-batch: the lean reports after it are checked against its hash and their
    samples go to the GPUs it reported, not to the rows the batch started with."""
    agent, key = enrolled_agent
    assert signed_post(client, minimal_report(str(agent.id), sequence=0, gpus=2), key).status_code == 201
    swapped = minimal_report(str(agent.id), sequence=2, gpus=3)
    bad_hash = dict(minimal_report(str(agent.id), sequence=3, gpus=3), identity_sha256="0" * 64)
    reports = [lean(minimal_report(str(agent.id), sequence=1, gpus=2)), swapped,
               bad_hash,  # refused (400) after the budget check has counted it
               lean(minimal_report(str(agent.id), sequence=4, gpus=3)),
               lean(minimal_report(str(agent.id), sequence=5, gpus=2))]  # the old identity: no longer known
    response = batch_post(client, str(agent.id), [entry(r, key) for r in reports])
    results = response.json()["results"]
    assert [r["http_status"] for r in results] == [201, 201, 400, 201, protocol.IDENTITY_UNKNOWN_STATUS]
    host = Host.objects.get(pk=agent.host_id)
    assert host.identity_sha256 == swapped["identity_sha256"]
    assert host.last_observation_id == results[3]["observation_id"]
    third_gpu = host.gpus.get(index=2)
    assert GpuSample.objects.filter(observation_id=results[3]["observation_id"], gpu=third_gpu).count() == 1
    assert GpuSample.objects.filter(observation_id=results[0]["observation_id"]).count() == 2
    agent.refresh_from_db()
    assert agent.last_sequence == 4
    # the refused reports spent nothing of the agent's budget, as each would not alone
    accepted = [minimal_report(str(agent.id), sequence=0, gpus=2), reports[0], reports[1], reports[3]]
    assert agent.budget_day_bytes == sum(len(protocol.canonical_json(r)) for r in accepted)
