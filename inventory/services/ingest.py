"""Report ingest: validate, authenticate and store one signed agent report in one transaction;
the evaluation it triggers is enqueued on commit."""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import fastjsonschema
import jsonschema
from chipwatch_agent import protocol
from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import Agent, Gpu, Host, IngestRejection, NvLink, Observation
from ..signals import report_stored
from .agent_limits import BUDGET_FIELDS, budget_spend, sequence_check
from .errors import IngestError
from . import report_rows as rows
from .gpu_rows import gpu_rows_plan, lean_telemetry_rows, telemetry_rows


log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    status: str  # "stored" or "duplicate"
    observation_id: int
    report_id: str
    http_status: int = 201
    warnings: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _report_check():
    """The compiled schema check: ~1 ms for a full 8-GPU report (jsonschema takes ~50)."""
    return fastjsonschema.compile(protocol.load_schema())


@lru_cache(maxsize=1)
def _report_validator() -> jsonschema.Draft7Validator:
    """The slow validator, run only on a bad report, to name every bad field at once."""
    return jsonschema.Draft7Validator(protocol.load_schema())


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _json_loads(body: bytes):
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity; else IngestError(400)."""
    try:
        return json.loads(
            body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant
        )
    except UnicodeDecodeError:
        raise IngestError(400, "malformed_json", "body is not UTF-8")
    except RecursionError:
        raise IngestError(400, "malformed_json", "JSON nested too deeply")
    except ValueError as exc:
        raise IngestError(400, "malformed_json", str(exc))


def parse_report(body: bytes) -> dict:
    """Strict JSON → validated report dict, or IngestError(400) naming each bad field."""
    return report_validate(_json_loads(body))


def report_validate(report) -> dict:
    """The report if it is one in format v1, else IngestError(400) naming each bad field."""
    if not isinstance(report, dict):
        raise IngestError(400, "invalid_report", [{"field": "$", "message": "a report is a JSON object"}])
    try:
        _report_check()(report)
        return report
    except fastjsonschema.JsonSchemaValueException as first:
        fast_error = {"field": "$" + "".join(f".{p}" for p in first.path[1:]), "message": first.message[:300]}
    errors = sorted(_report_validator().iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))
    detail = [
        {"field": "$" + "".join(f".{p}" for p in e.absolute_path), "message": e.message[:300]} for e in errors[:20]
    ]
    raise IngestError(400, "invalid_report", detail or [fast_error])


def _value(field_value):
    """A reported value, or None when NVML answered with a marker (unsupported/error)."""
    return None if isinstance(field_value, dict) else field_value


def _rejection(*, agent: Agent | None, claimed_agent_id: str, report: dict | None, error: IngestError, sha: str):
    IngestRejection.objects.create(
        agent=agent,
        claimed_agent_id=claimed_agent_id[:64],
        report_id=str((report or {}).get("report_id", ""))[:64],
        reason=error.code,
        detail=str(error.detail)[:500],
        payload_sha256=sha,
    )


def report_ingest(*, agent_id: str, signature: str, body: bytes, received_at: datetime | None = None) -> IngestResult:
    """Validate, authenticate and store one agent report.

    One transaction writes the Observation, the samples and the current state,
    and marks the host as needing evaluation; the evaluation is enqueued on commit.
    Refusals for security reasons are recorded as IngestRejection rows.
    """
    received_at = received_at or timezone.now()
    if len(body) > settings.CHIPWATCH_MAX_REPORT_BYTES:
        raise IngestError(413, "too_large", f"report is {len(body)} bytes; limit {settings.CHIPWATCH_MAX_REPORT_BYTES}")
    return _report_store(parse_report(body), agent_id=agent_id, signature=signature, size=len(body),
                         received_at=received_at)


# Answers after which an agent goes on with its next report (docs/report-format.md); after any
# other (401, 428, 429, 5xx) it stops and retries this one first, so a batch stops there too.
_FINAL_STATUSES = frozenset({200, 201, 400, 403, 409, 413})


def report_batch_ingest(*, agent_id: str, body: bytes,
                        received_at: datetime | None = None) -> list[IngestResult | IngestError]:
    """Store the signed reports of one agent's batch in one transaction (one commit), each checked
    and answered exactly as ``report_ingest`` would answer it alone, in order.

    Each report runs in its own savepoint: a refused one leaves nothing of itself, the others are
    kept.  After an answer the agent would not go on from (see _FINAL_STATUSES) the rest are not
    attempted (503 not_attempted), so reports are still accepted in sequence order.  A batch that
    is not a batch is one IngestError(400/413) and nothing is stored.
    """
    received_at = received_at or timezone.now()
    entries = _batch_entries(_json_loads(body))
    try:
        return _batch_store(entries, agent_id=agent_id, received_at=received_at, savepoints=False)
    except _NeedsSavepoints:  # a report failed half-written: all again, each in a savepoint
        return _batch_store(entries, agent_id=agent_id, received_at=received_at, savepoints=True)


@dataclass
class _BatchWrites:
    """What the reports of one batch share when stored without savepoints (one agent, one host,
    one transaction): the agent row the first report locked, kept up to date in memory as each
    report is accepted; this host's telemetry rows (the same for every lean report until a full one
    rewrites them); and the writes of which only the sum or the last value counts (samples, the
    host and agent rows), made once when the batch ends.  So a batch of N lean reports costs
    N observation INSERTs and five statements, not 6·N (docs/benchmarks.md § Ingest path)."""

    agent: Agent | None = None
    gpu_ids: dict[str, int] | None = None
    samples: list[tuple[int, datetime, list[tuple]]] = field(default_factory=list)
    host_values: dict = field(default_factory=dict)
    agent_values: dict = field(default_factory=dict)

    def flush(self) -> None:
        if self.samples:
            rows.samples_insert(host_id=self.agent.host_id, reports=self.samples)
        if self.host_values:
            rows.host_update(host_id=self.agent.host_id, values=self.host_values)
        if self.agent_values:
            rows.agent_update(agent_id=self.agent.pk, values=self.agent_values)


class _NeedsSavepoints(Exception):
    """A report of a batch stored without savepoints failed after writing (DataError, IntegrityError)."""


def _batch_store(entries: list[dict], *, agent_id: str, received_at: datetime,
                 savepoints: bool) -> list[IngestResult | IngestError]:
    """One transaction for the batch.  Every refusal is decided before a report writes anything,
    so without savepoints a refused report leaves nothing either, and the reports share their
    writes (_BatchWrites); only a database refusal mid-write needs savepoints, and then the batch
    is redone with a savepoint and its own writes per report."""
    results: list[IngestResult | IngestError] = []
    batch = None if savepoints else _BatchWrites()
    with transaction.atomic():
        for entry in entries:
            if results and _status(results[-1]) not in _FINAL_STATUSES:
                results.append(IngestError(503, "not_attempted", "an earlier report of this batch was not "
                                           "accepted; send this one again after it"))
                continue
            try:
                report = report_validate(entry["report"])
                size = len(protocol.canonical_json(report))
                if size > settings.CHIPWATCH_MAX_REPORT_BYTES:
                    raise IngestError(413, "too_large",
                                      f"report is {size} bytes; limit {settings.CHIPWATCH_MAX_REPORT_BYTES}")
                results.append(_report_store(report, agent_id=agent_id, signature=entry["signature"], size=size,
                                             received_at=received_at, batch=batch))
            except UnicodeEncodeError:
                results.append(IngestError(400, "malformed_json", "a string holds a lone UTF-16 surrogate escape"))
            except IngestError as error:
                results.append(error)
        if batch is not None:
            try:
                batch.flush()
            except (IntegrityError, DataError):  # a value the database refuses: find its report one by one
                raise _NeedsSavepoints from None
    return results


def _status(result: IngestResult | IngestError) -> int:
    return result.http_status if isinstance(result, IngestResult) else result.status


def _batch_entries(batch) -> list[dict]:
    """The batch's entries ({"report": {...}, "signature": "..."}), or IngestError naming what is wrong."""
    limit = settings.CHIPWATCH_BATCH_MAX_REPORTS
    if not isinstance(batch, dict) or set(batch) != {"reports"} or not isinstance(batch["reports"], list):
        raise IngestError(400, "invalid_batch", [{"field": "$", "message": 'a batch is {"reports": [...]} and '
                                                  "nothing else"}])
    entries = batch["reports"]
    if not entries:
        raise IngestError(400, "invalid_batch", [{"field": "$.reports", "message": "a batch holds at least one report"}])
    if len(entries) > limit:
        raise IngestError(413, "too_many_reports", f"a batch holds at most {limit} reports; this one {len(entries)}")
    problems = [
        {"field": f"$.reports[{n}]", "message": 'each entry is {"report": {...}, "signature": "<base64>"}'}
        for n, entry in enumerate(entries)
        if not isinstance(entry, dict) or set(entry) != {"report", "signature"}
        or not isinstance(entry["signature"], str)
    ]
    if problems:
        raise IngestError(400, "invalid_batch", problems[:20])
    return entries


def _report_store(report: dict, *, agent_id: str, signature: str, size: int, received_at: datetime,
                  batch: _BatchWrites | None = None) -> IngestResult:
    """Authenticate and store one validated report: in a transaction of its own or a savepoint of
    the caller's; or, given a batch's writes, directly in the caller's transaction."""
    try:
        canonical = protocol.canonical_json(report)
    except UnicodeEncodeError:  # JSON may escape a lone surrogate ("\ud800"); it is no Unicode text
        raise IngestError(400, "malformed_json", "a string holds a lone UTF-16 surrogate escape")
    sha = protocol.sha256_hex(canonical)
    try:
        try:
            return _ingest_verified(report, sha, canonical, agent_id, signature, received_at, size, batch)
        except _Duplicate as duplicate:
            return IngestResult("duplicate", duplicate.observation_id, report["report_id"], http_status=200)
        except (IntegrityError, DataError) as exc:
            if batch is not None:  # the caller's transaction is aborted: it redoes the batch with savepoints
                raise _NeedsSavepoints from None
            raise _database_refusal(exc) from None
    except IngestError as error:
        if error.record:
            agent = Agent.objects.filter(pk=_as_uuid(agent_id)).first() if _as_uuid(agent_id) else None
            _rejection(agent=agent, claimed_agent_id=agent_id, report=report, error=error, sha=sha)
        raise


def _database_refusal(exc: IntegrityError | DataError) -> IngestError:
    if isinstance(exc, IntegrityError):
        # A concurrent report inserted a unique row this one inserts too (e.g. the same new GPU UUID).
        return IngestError(409, "report_conflict", "a different report with this report_id is already stored",
                           record=True)
    # PostgreSQL refuses what the schema admits: an integer beyond its column (a 2^53 temperature in a
    # smallint) or a NUL character.  The same report would fail again: 400, not a retryable 503.
    return IngestError(400, "unstorable_value", f"a reported value cannot be stored: "
                       f"{str(exc).splitlines()[0][:200]}", record=True)


def _as_uuid(value: str):
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _ingest_verified(report: dict, sha: str, canonical: bytes, agent_id: str, signature: str,
                     received_at: datetime, size: int, batch: _BatchWrites | None) -> IngestResult:
    if report["agent_id"] != agent_id:
        raise IngestError(401, "agent_mismatch", "the report's agent_id differs from the authenticating agent",
                          record=True)
    if _as_uuid(agent_id) is None:
        raise IngestError(401, "unknown_agent", f"no enrolled agent {agent_id!r}", record=True)
    with transaction.atomic() if batch is None else contextlib.nullcontext():
        # Locking the agent row serialises its reports, so sequence checks cannot race.  It is read
        # again for every report or batch (no cache): a revocation holds from the next one on.
        # In a batch, a copy of the row as the last accepted report left it: a refused report's
        # budget spent in memory is dropped with the copy, as a rollback drops it alone.
        agent = copy.copy(batch.agent) if batch is not None and batch.agent is not None else (
            rows.agent_lock(_as_uuid(agent_id)))
        if agent is None:
            raise IngestError(401, "unknown_agent", f"no enrolled agent {agent_id!r}", record=True)
        if not signature or not protocol.verify(agent.public_key, report, signature):
            raise IngestError(401, "bad_signature", "signature does not verify against the enrolled key", record=True)
        if agent.revoked_at is not None:
            raise IngestError(403, "agent_revoked", f"agent key revoked at {agent.revoked_at.isoformat()}",
                              record=True)
        if report["synthetic"] and not settings.CHIPWATCH_ACCEPT_SYNTHETIC:
            raise IngestError(403, "synthetic_rejected", "reports from a fake NVML backend are not accepted here",
                              record=True)
        if (report["agent"]["backend"] == "fake") != report["synthetic"]:
            raise IngestError(400, "synthetic_mismatch", f"agent.backend {report['agent']['backend']!r} contradicts "
                              f"synthetic {str(report['synthetic']).lower()}", record=True)
        host = agent.host
        try:
            collected_at = _acceptable(report, agent, host, size, received_at)
        except IngestError:
            # A stored report resent (its sequence is no longer ahead) is a duplicate, not a refusal.
            _refuse_if_stored(report, sha)
            raise
        # An evaluation already pending will read this report's state too: enqueue only when
        # none is (the mark's compare-and-clear and the sweeper cover every interleaving).
        evaluation_pending = host.needs_evaluation is not None
        identity = report.get("identity")
        observation_id = rows.observation_insert(
            report=report, payload=canonical, sha=sha, agent_id=agent.pk, host_id=host.pk, collected_at=collected_at,
            received_at=received_at, full_identity=identity is not None)
        if observation_id is None:  # the report_id is taken: this report again, or another one
            _refuse_if_stored(report, sha)
            raise IngestError(409, "report_conflict", "a different report with this report_id is already stored",
                              record=True)
        report_stored.send(sender=Observation, observation_id=observation_id, report=report)
        if identity is not None:
            gpu_ids = _identity_apply(host, identity["gpus"], observation_id, received_at)
        elif batch is not None and batch.gpu_ids is not None:
            gpu_ids = batch.gpu_ids  # marked seen at this received_at by the batch's first lean report
        else:
            gpu_ids = lean_telemetry_rows(host=host, now=received_at)
        samples = (observation_id, collected_at, _samples(report["telemetry"]["gpus"], gpu_ids))
        host_values = _host_values(report, host, observation_id, received_at)
        agent_values = {"last_sequence": report["sequence"], "last_seen": received_at,
                        **{name: getattr(agent, name) for name in BUDGET_FIELDS}}
        if batch is None:
            rows.samples_insert(host_id=host.pk, reports=[samples])
            rows.host_update(host_id=host.pk, values=host_values)
            rows.agent_update(agent_id=agent.pk, values=agent_values)
        else:  # the next report of the batch is checked against this one's state
            for target, values in ((host, host_values), (agent, agent_values)):
                for name, value in values.items():
                    setattr(target, name, value)
            batch.agent, batch.gpu_ids = agent, gpu_ids
            batch.samples.append(samples)
            batch.host_values.update(host_values)
            batch.agent_values.update(agent_values)
        if not evaluation_pending:
            transaction.on_commit(lambda: enqueue_evaluation(host.pk))
    warnings = []
    skew = (collected_at - received_at).total_seconds()
    if abs(skew) > settings.CHIPWATCH_CLOCK_SKEW_SECONDS:
        warnings.append(f"collected_at is {skew:+.0f} s from the server clock")
    return IngestResult("stored", observation_id, report["report_id"], http_status=201, warnings=warnings)


def _acceptable(report: dict, agent: Agent, host: Host, size: int, now: datetime) -> datetime:
    """The checks a new report must pass before anything is written; returns its collected_at.
    Spends the agent's budget on the locked row (saved with the report)."""
    sequence_check(agent=agent, sequence=report["sequence"], now=now)
    budget_spend(agent=agent, size=size, now=now)
    identity = report.get("identity")
    if identity is None:
        if report["identity_sha256"] != host.identity_sha256:
            raise IngestError(protocol.IDENTITY_UNKNOWN_STATUS, protocol.IDENTITY_UNKNOWN,
                              "identity hash unknown: resend the report with its identity section")
    elif protocol.identity_sha256(identity) != report["identity_sha256"]:
        raise IngestError(400, "identity_hash_mismatch", "identity_sha256 is not the hash of the identity section")
    try:
        collected_at = parse_datetime(report["collected_at"])
    except ValueError:  # the schema's pattern admits well-formed impossible dates (month 13)
        collected_at = None
    if collected_at is None:
        raise IngestError(400, "invalid_report", [{"field": "$.collected_at", "message": "not a valid timestamp"}])
    return collected_at


class _Duplicate(Exception):
    """The report is already stored: answered 200 with the stored observation."""

    def __init__(self, observation_id: int):
        self.observation_id = observation_id


def _refuse_if_stored(report: dict, sha: str) -> None:
    """Raise _Duplicate when this report (or the same one lean/full) is stored, 409 when another
    report holds its report_id; return when the report_id is free."""
    existing = Observation.objects.filter(report_id=report["report_id"]).only("id", "payload_sha256").first()
    if existing is None:
        return
    if existing.payload_sha256 == sha or _same_report_but_identity(existing, report):
        raise _Duplicate(existing.id)
    raise IngestError(409, "report_conflict", "a different report with this report_id is already stored",
                      record=True)


def _same_report_but_identity(existing: Observation, report: dict) -> bool:
    """The agent may resend a report lean after sending it full (or the reverse) when a restart
    or the daily full report falls between two attempts: same report, same identity hash."""
    without_identity = {k: v for k, v in report.items() if k != "identity"}
    stored = {k: v for k, v in Observation.objects.get(pk=existing.pk).payload.items() if k != "identity"}
    return protocol.canonical_json(stored) == protocol.canonical_json(without_identity)


def enqueue_evaluation(host_id: int) -> None:
    """Runs after the report committed: nothing here may undo or fail the acknowledged report.
    Asks for a batch evaluation (debounced: compliance.evaluation.marks) that takes this host's mark."""
    from compliance.evaluation.marks import evaluation_request
    from kombu.exceptions import OperationalError

    try:
        evaluation_request()
    except OperationalError:  # broker down: the sweeper finds the host by needs_evaluation
        log.warning("could not request the evaluation of host %s; the sweeper will", host_id)
    except Exception:  # embedded mode runs the task inline: its failure is a bug to see, not the agent's
        log.exception("evaluation of host %s failed; the host stays marked for the sweeper", host_id)


def _host_values(report: dict, host: Host, observation_id: int, now: datetime) -> dict:
    """The host columns a report sets, and its evaluation mark."""
    facts = report["host"]
    status = report["nvml_status"]
    values = {"hostname": facts["hostname"]}
    # machine_id stays what enrollment bound; the reported one is evidence (telemetry_integrity).
    for name, field_name in (("machine_id", "reported_machine_id"), ("boot_id", "boot_id"), ("os", "os"),
                             ("kernel", "kernel"), ("driver_version", "driver_version"),
                             ("nvml_version", "nvml_version")):
        value = _value(facts.get(name))
        values[field_name] = (value or "")[: Host._meta.get_field(field_name).max_length]
    values["cuda_driver_version"] = _value(facts.get("cuda_driver_version"))
    values["nvml_ok"] = status["ok"]
    values["nvml_error"] = "" if status["ok"] else f"{status.get('error', '')}: {status.get('message', '')}"[:256]
    if report.get("identity") is not None:
        values["identity_sha256"] = report["identity_sha256"]
    values.update(first_seen=host.first_seen or now, last_seen=now, last_observation_id=observation_id,
                  needs_evaluation=now)
    return values


_GPU_FIELDS = (
    "host", "index", "name", "serial", "board_id", "multi_gpu_board", "module_id", "pci_bus_id", "pci_device_id",
    "pci_vendor_id", "pci_subsystem_id", "board_part_number", "vbios_version", "memory_total_bytes", "num_cores",
    "max_sm_clock_mhz", "max_mem_clock_mhz", "power_limit_default_mw", "power_limit_max_mw", "mig_mode",
    "active_nvlinks", "nvlink_version", "fabric_cluster_uuid", "fabric_clique_id", "identity", "last_seen",
    "last_observation_id", "uuid_status", "reported_uuid",
)


def _gpu_facts(host: Host, section: dict, observation_id: int, now: datetime) -> dict:
    pci = section["pci"] if not isinstance(section["pci"], dict) or "bus_id" in section["pci"] else {}
    clocks = section.get("max_clocks_mhz", {})
    power = section.get("power_limits_mw", {})
    mig = section.get("mig_mode")
    fabric = section.get("fabric") if isinstance(section.get("fabric"), dict) else {}
    active = [link for link in _links(section) if link["state"] == "active"]
    versions = [v for v in (_value(link.get("version")) for link in active) if v is not None]
    device_id = pci.get("device_id")
    return {
        "host": host,
        "index": section["index"],
        "name": (_value(section["name"]) or "")[:128],
        "serial": (_value(section.get("serial")) or "")[:64],
        "board_id": _value(section.get("board_id")),
        "multi_gpu_board": _value(section.get("multi_gpu_board")),
        "module_id": _value(section.get("module_id")),
        "pci_bus_id": pci.get("bus_id", ""),
        "pci_device_id": device_id >> 16 if device_id is not None else None,
        "pci_vendor_id": device_id & 0xFFFF if device_id is not None else None,
        "pci_subsystem_id": pci.get("subsystem_id"),
        "board_part_number": (_value(section.get("board_part_number")) or "")[:64],
        "vbios_version": (_value(section.get("vbios_version")) or "")[:64],
        "memory_total_bytes": _value(section.get("memory_total_bytes")),
        "num_cores": _value(section.get("num_cores")),
        "max_sm_clock_mhz": _value(clocks.get("sm")),
        "max_mem_clock_mhz": _value(clocks.get("mem")),
        "power_limit_default_mw": _value(power.get("default")),
        "power_limit_max_mw": _value(power.get("max")),
        "mig_mode": mig.get("current") if isinstance(mig, dict) and "current" in mig else None,
        "active_nvlinks": len(active) if isinstance(section.get("nvlinks"), list) else None,
        "nvlink_version": max(versions) if versions else None,
        "fabric_cluster_uuid": fabric.get("cluster_uuid", ""),
        "fabric_clique_id": fabric.get("clique_id"),
        "identity": section,
        "last_seen": now,
        "last_observation_id": observation_id,
    }


def _identity_apply(host: Host, sections: list[dict], observation_id: int, now: datetime) -> dict[str, int]:
    """Upsert this host's GPU rows and their links, touching only what changed; returns the
    reported UUID → GPU id map for the telemetry.

    Which row each section may write is ``gpu_rows_plan``'s decision: never another host's.
    A full identity equal to the stored one (the usual case: restarts and the daily
    full report) costs one UPDATE of last_seen; a changed GPU is rewritten with its links.
    """
    plan = gpu_rows_plan(host=host, sections=sections, now=now)
    new, changed, unchanged = [], [], []
    for row in plan:
        facts = dict(_gpu_facts(host, row.section, observation_id, now), uuid_status=row.status,
                     reported_uuid=row.reported_uuid[:256])
        if row.status == Gpu.UuidStatus.HELD_ELSEWHERE:
            # A contested identity joins no NVLink fabric (aggregation): its raw section stays in `identity`.
            facts.update(fabric_cluster_uuid="", fabric_clique_id=None)
        gpu = row.existing
        if gpu is None:
            new.append(Gpu(uuid=row.key, first_seen=now, **facts))
        elif gpu.identity != row.section or gpu.host_id != host.pk or gpu.uuid_status != row.status:
            for name, value in facts.items():
                setattr(gpu, name, value)
            changed.append(gpu)
        else:
            unchanged.append(gpu.pk)
    Gpu.objects.bulk_create(new)
    for gpu in changed:
        gpu.save(update_fields=_GPU_FIELDS)
    if unchanged:
        Gpu.objects.filter(pk__in=unchanged, host=host).update(last_seen=now, last_observation_id=observation_id)
    # GPUs this host no longer reports are no longer on it (their history stays).
    Gpu.objects.filter(host=host).exclude(uuid__in=[row.key for row in plan]).update(host=None)

    ids = {row.key: row.existing.pk for row in plan if row.existing is not None} | {g.uuid: g.pk for g in new}
    rewritten = new + changed
    if rewritten:
        NvLink.objects.filter(gpu__in=changed).delete()
        sections = {row.key: row.section for row in plan}
        rows.links_insert(links=[
            (gpu.pk, link["link"], link["state"], _value(link.get("version")), _value(link.get("speed_mbps")),
             _value(link.get("remote_device_type")) or "", (_value(link.get("remote_pci_bus_id")) or "")[:32],
             observation_id)
            for gpu in rewritten
            for link in _links(sections[gpu.uuid])
        ])
    return telemetry_rows(host=host, plan=plan, ids=ids)


def _links(section: dict) -> list[dict]:
    links = section.get("nvlinks", [])
    return links if isinstance(links, list) else []  # a marker: NVLink not supported or unreadable


def _samples(telemetry: list[dict], gpu_ids: dict[str, int]) -> list[tuple]:
    """Per-GPU telemetry rows (gpu id and the values, in rows.SAMPLE_COLUMNS order), only for this
    host's GPUs: `gpu_ids` comes from the identity just applied, or from this host's rows (lean)."""
    samples = []
    for t in telemetry:
        gpu_id = gpu_ids.get(t["uuid"]) if isinstance(t["uuid"], str) else None
        if gpu_id is None:
            continue  # not a GPU of this host's identity (or unreadable): kept in the raw payload only
        clocks, util = t.get("clocks_mhz", {}), t.get("utilization_pct", {})
        samples.append((gpu_id, _value(clocks.get("sm")), _value(clocks.get("mem")), _value(util.get("gpu")),
                        _value(t.get("power_draw_mw")), _value(t.get("temperature_c")), _value(t.get("energy_mj"))))
    return samples
