"""Hostile report bodies through the real ingest endpoint (Django's test client, the full view
and service path).  Whatever arrives, the answer is a 2xx or a 4xx with a JSON error body — never a
500 — and a refused report writes nothing but its IngestRejection row.

Two families of input: raw bytes that are not a report at all (broken JSON, invalid UTF-8,
NaN, duplicated keys, deep nesting), and a real collected report, correctly signed, with one
value somewhere replaced by something absurd, so the hostile value reaches the layers behind
the signature check (the database columns, the timestamp parser, the identity hash).
"""
from __future__ import annotations

import copy
import itertools
import json
import uuid

import pytest
from chipwatch_agent import protocol
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings, strategies as st

from inventory.models import Agent, Gpu, GpuSample, Host, NvLink, Observation
from tests.reports import signed_post

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
STORED_TABLES = (Observation, GpuSample, Gpu, NvLink, Host)
ANSWERS = {200, 201, 400, 401, 403, 409, 413, 428}


def stored_counts() -> dict:
    return {model.__name__: model.objects.count() for model in STORED_TABLES}


def post_raw(client, body: bytes, agent_id: str, signature: str = "AAAA"):
    return client.post("/api/v1/reports", data=body, content_type="application/json",
                       HTTP_X_CHIPWATCH_AGENT=agent_id, HTTP_X_CHIPWATCH_SIGNATURE=signature)


def assert_answered_cleanly(response, before: dict) -> None:
    """2xx stored/duplicate, or a 4xx whose JSON body names the error and nothing was written."""
    if currently_in_test_context():
        event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics: how deep the inputs got
    assert response.status_code in ANSWERS, (response.status_code, response.content[:500])
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and "Traceback" not in response.content.decode("utf-8", "replace")
        assert stored_counts() == before, "a refused report wrote rows"
    else:
        assert body["status"] in ("stored", "duplicate")


@pytest.fixture
def agent(enrolled_agent):
    agent, key = enrolled_agent
    return agent, key, itertools.count(1_000)


def _two_gpu_collection() -> dict:
    """A real HGX H800 collection from the fake NVML backend, cut to two GPUs: every field type
    of the format is still there, and each example costs a quarter of the database writes."""
    collection = Collector(FakeNvml.from_profile("hgx-h800")).collect()
    for section in ("identity", "telemetry"):
        collection[section]["gpus"] = collection[section]["gpus"][:2]
    return collection


COLLECTION = _two_gpu_collection()


@pytest.fixture
def collected():
    return COLLECTION


def fresh_report(collected, agent_id: str, sequence: int) -> dict:
    return build_report(copy.deepcopy(collected), agent_id=agent_id, sequence=sequence, backend="fake")


# --- raw bodies: not a report at all ---------------------------------------------------

VALID_BODY = json.dumps({"schema": "chipwatch.report/v1", "sequence": 1, "synthetic": True})


def deep(n: int) -> bytes:
    return ("[" * n + "]" * n).encode()


raw_bodies = st.one_of(
    st.binary(max_size=2048),
    st.integers(1, 200_000).map(deep),
    st.integers(1, 200_000).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b'{"sequence": NaN}', b'{"sequence": Infinity}',
                     b'{"sequence": 1e400}', b"\xff\xfe{}", b'{"a": "\xc3\x28"}', b"\xed\xa0\x80",
                     b'{"schema": 1, "schema": 2}', b"", b"null", b"[]", b'"report"', b"\x00",
                     VALID_BODY.encode().replace(b"{", b'{"sequence":2,', 1)]),
    st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(body=raw_bodies)
def test_raw_bodies_are_refused_with_400(client, agent, body):
    enrolled, _, _ = agent
    before = stored_counts()
    response = post_raw(client, body, str(enrolled.id))
    assert_answered_cleanly(response, before)
    assert response.status_code in (400, 401, 413)


# --- a signed real report with one hostile value ---------------------------------------

def leaf_paths(node, prefix=()):
    """Every path to a value in the report (dict keys and list indices), containers included."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from leaf_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from leaf_paths(child, (*prefix, index))


def replace_at(report: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(report)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _at(node, path):
    for step in path:
        node = node[step]
    return node


def nested(depth: int):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


hostile_values = st.one_of(
    st.sampled_from([2**53 - 1, -(2**53 - 1), 2**53, 2**63, -(2**63) - 1, 10**30, -1, 0, 1e308, -0.0, 1.5,
                     True, False, None, "", [], {}, {"error": "x" * 70}, {"unsupported": False}]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=64),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=250, max_size=300),
    st.sampled_from(["\x00", "nul\x00inside", "<script>alert(1)</script>", "'; DROP TABLE x; --", "\u202e",
                     "x" * 300_000]),
    st.integers(1, 5_000).map(nested),
    # timestamps: valid far past / far future, and well-formed but impossible calendar values
    st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds") + "Z"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})\Z"),
    st.sampled_from(["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                     "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z"]),
)


TEMPLATE = build_report(copy.deepcopy(COLLECTION), agent_id=str(uuid.UUID(int=0)), sequence=1, backend="fake")
PATHS = [p for p in leaf_paths(TEMPLATE) if p]
OBJECT_PATHS = [p for p in leaf_paths(TEMPLATE) if isinstance(_at(TEMPLATE, p), dict)]


@FUZZ
@given(path=st.sampled_from(PATHS), value=hostile_values)
def test_one_hostile_value_in_a_signed_report(client, agent, collected, path, value):
    enrolled, key, sequences = agent
    report = replace_at(fresh_report(collected, str(enrolled.id), next(sequences)), path, value)
    if path[0] == "identity" and isinstance(report.get("identity"), dict):
        # keep the hash honest, so the hostile value gets past the hash check to the database
        report["identity_sha256"] = protocol.identity_sha256(report["identity"])
    before = stored_counts()
    assert_answered_cleanly(signed_post(client, report, key), before)


@FUZZ
@given(path=st.sampled_from(OBJECT_PATHS), data=st.data())
def test_keys_removed_or_added_anywhere(client, agent, collected, path, data):
    enrolled, key, sequences = agent
    report = fresh_report(collected, str(enrolled.id), next(sequences))
    target = _at(report, path)
    if target and data.draw(st.booleans(), label="remove"):
        del target[data.draw(st.sampled_from(sorted(target)), label="key")]
    else:
        target[data.draw(st.text(max_size=20), label="new key")] = data.draw(hostile_values, label="value")
    if isinstance(report.get("identity"), dict):
        report["identity_sha256"] = protocol.identity_sha256(report["identity"])
    before = stored_counts()
    assert_answered_cleanly(signed_post(client, report, key), before)


def test_lone_surrogate_escape_is_refused_not_a_crash(client, agent, collected):
    r"""`"\ud800"` is valid JSON text but names no Unicode character: it parses into a Python
    string that cannot be encoded as UTF-8, so the canonical form (and any signature) cannot exist."""
    enrolled, key, sequences = agent
    report = fresh_report(collected, str(enrolled.id), next(sequences))
    report["host"]["hostname"] = "\ud800"
    body = json.dumps(report, sort_keys=True, separators=(",", ":")).encode("ascii")  # ensure_ascii: \ud800
    before = stored_counts()
    response = post_raw(client, body, str(enrolled.id))
    assert_answered_cleanly(response, before)
    assert response.status_code == 400


def test_every_answer_leaves_the_agent_row_consistent(client, agent, collected):
    """After a refused report, the agent's last accepted sequence did not move."""
    enrolled, key, sequences = agent
    report = fresh_report(collected, str(enrolled.id), next(sequences))
    report["collected_at"] = "2026-13-45T99:99:99Z"  # matches the schema's pattern, is no date
    response = signed_post(client, report, key)
    assert response.status_code == 400 and response.json()["error"] == "invalid_report"
    assert Agent.objects.get(pk=enrolled.pk).last_sequence == enrolled.last_sequence


@pytest.mark.parametrize("path, value", [
    (("telemetry", "gpus", 0, "temperature_c"), 2**53 - 1),  # int_field's bound; the column is a smallint
    (("host", "cuda_driver_version"), -(2**53 - 1)),
    (("host", "hostname"), "nul\x00inside"),  # valid JSON ("\u0000"); PostgreSQL text cannot hold it
])
def test_values_the_schema_admits_but_a_column_cannot_hold(client, agent, collected, path, value):
    """PostgreSQL refuses them: a 400 the agent files under rejected/, never a 503 it would retry
    forever; the refusal is recorded as forgery evidence.  SQLite (the embedded demo) stores any
    64-bit integer in any integer column and NUL in text, so there the report is simply stored."""
    from django.db import connection

    from inventory.models import IngestRejection

    enrolled, key, sequences = agent
    report = replace_at(fresh_report(collected, str(enrolled.id), next(sequences)), path, value)
    before = stored_counts()
    response = signed_post(client, report, key)
    assert_answered_cleanly(response, before)
    if connection.vendor == "postgresql":
        assert response.status_code == 400 and response.json()["error"] == "unstorable_value"
        assert IngestRejection.objects.filter(reason="unstorable_value", report_id=report["report_id"]).exists()
    else:
        assert response.status_code == 201
