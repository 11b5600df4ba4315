"""The rows of one report: its agent read and locked, then one SQL statement per table written
(observation, samples, host, agent; links when its identity changed).

Ingest is the hot path of the service (every host, every minute): through the ORM a lean report
cost eight statements and most of its time building them (docs/benchmarks.md).  These are the same
writes as plain parametrised SQL, portable between PostgreSQL and SQLite (INSERT … ON CONFLICT …
RETURNING needs SQLite 3.35), values prepared by the model fields themselves.  What to write is
decided by inventory.services.ingest; nothing here checks anything.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

from django.db import connection

from ..models import Agent, GpuSample, Host, NvLink, Observation

SAMPLE_COLUMNS = ("gpu", "sm_clock_mhz", "mem_clock_mhz", "utilization_gpu_pct", "power_draw_mw", "temperature_c",
                  "energy_mj")


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


@lru_cache(maxsize=64)
def _statement(kind: str, model, names: tuple[str, ...], rows: int, vendor: str) -> str:
    """The SQL text of one write, built once per shape (vendor: quoting differs between backends)."""
    table, columns = connection.ops.quote_name(model._meta.db_table), [_column(model, name) for name in names]
    if kind == "update":
        assignments = ", ".join(f"{column} = %s" for column in columns)
        return f"UPDATE {table} SET {assignments} WHERE {_column(model, 'id')} = %s"
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)}"
    if kind == "insert_returning":
        sql += f" ON CONFLICT ({_column(model, 'report_id')}) DO NOTHING RETURNING {_column(model, 'id')}"
    return sql


@lru_cache(maxsize=4)
def _agent_lock_statement(vendor: str) -> tuple[str, list[tuple], list[str]]:
    """The agent row joined to its host, locked (FOR UPDATE OF the agent where the backend has it),
    and the converters of each column (what the ORM applies to a value read back)."""
    agent_fields, host_fields = Agent._meta.concrete_fields, Host._meta.concrete_fields
    agent, host = (connection.ops.quote_name(model._meta.db_table) for model in (Agent, Host))
    columns = [f"{agent}.{connection.ops.quote_name(f.column)}" for f in agent_fields] + \
        [f"{host}.{connection.ops.quote_name(f.column)}" for f in host_fields]
    sql = (f"SELECT {', '.join(columns)} FROM {agent} INNER JOIN {host} ON {host}.{_column(Host, 'id')} = "
           f"{agent}.{_column(Agent, 'host')} WHERE {agent}.{_column(Agent, 'id')} = %s")
    if connection.features.has_select_for_update_of:
        sql += f" FOR UPDATE OF {agent}"
    converters = []
    for field in [*agent_fields, *host_fields]:
        column = field.get_col(field.model._meta.db_table)
        converters.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    return sql, converters, [f.attname for f in agent_fields]


def agent_lock(agent_id: uuid.UUID) -> Agent | None:
    """The agent with its host, its row locked until the transaction ends (it serialises the
    agent's reports); None when there is no such agent.  The ORM's select_for_update().select_related()
    builds the same statement but compiles it on every report (0.5 ms of a lean report's ~5)."""
    sql, converters, agent_names = _agent_lock_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Agent._meta.pk.get_db_prep_value(agent_id, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for n, (value, (column, column_converters)) in enumerate(zip(row, converters)):
        for converter in column_converters:
            value = converter(value, column, connection)
        values[n] = value
    split = len(agent_names)
    agent = Agent.from_db(connection.alias, agent_names, values[:split])
    agent.host = Host.from_db(connection.alias, [f.attname for f in Host._meta.concrete_fields], values[split:])
    return agent


def _prepared(model, name: str, value):
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def observation_insert(*, report: dict, payload: bytes, sha: str, agent_id, host_id: int, collected_at: datetime,
                       received_at: datetime, full_identity: bool) -> int | None:
    """Store the report as received; returns its id, or None when its report_id is already taken
    (ON CONFLICT DO NOTHING: the caller tells a resent report from a conflicting one).  The payload
    is the canonical JSON text that was hashed and verified, not a second serialisation."""
    values = {
        "report_id": _prepared(Observation, "report_id", report["report_id"]),
        "agent": _prepared(Observation, "agent", agent_id),
        "host": host_id,
        "sequence": report["sequence"],
        "collected_at": _prepared(Observation, "collected_at", collected_at),
        "received_at": _prepared(Observation, "received_at", received_at),
        "clock_skew_seconds": (collected_at - received_at).total_seconds(),
        "payload": payload.decode("utf-8"),
        "payload_sha256": sha,
        "identity_sha256": report["identity_sha256"],
        "full_identity": full_identity,
        "synthetic": report["synthetic"],
        "signature_status": Observation.Signature.VALID,
        "provenance": Observation._meta.get_field("provenance").default,
    }
    with connection.cursor() as cursor:
        cursor.execute(_statement("insert_returning", Observation, tuple(values), 1, connection.vendor),
                       list(values.values()))
        row = cursor.fetchone()
    return row[0] if row else None


@lru_cache(maxsize=8)
def _unnest_insert(model, names: tuple[str, ...]) -> str:
    """PostgreSQL: any number of rows as one array per column, so the statement text and its
    parameter count stay the same whatever the rows (psycopg parses a statement of more than 50
    parameters again on every call: 0.3-0.8 ms for a lean report's 80, docs/benchmarks.md)."""
    fields = [model._meta.get_field(name) for name in names]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    return (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "
            f"({', '.join(_column(model, name) for name in names)}) SELECT * FROM unnest({arrays})")


# SQLite: at most this many parameters per INSERT (its limit is 32,766 variables, 999 before 3.32).
_SQLITE_PARAMETERS_PER_STATEMENT = 10_000


def _rows_insert(model, names: tuple[str, ...], values: list[tuple]) -> None:
    """Rows of one table (values in `names` order): one statement on PostgreSQL, chunks on SQLite.
    Django's bulk_create costs ~4x as much for the 144 links of an 8-GPU host (a model instance and
    a field-by-field preparation per value; docs/benchmarks.md)."""
    if not values:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_unnest_insert(model, names), [list(column) for column in zip(*values)])
            return
        rows = max(1, _SQLITE_PARAMETERS_PER_STATEMENT // len(names))
        for start in range(0, len(values), rows):
            chunk = values[start:start + rows]
            cursor.execute(_statement("insert", model, names, len(chunk), connection.vendor),
                           [value for row in chunk for value in row])


def samples_insert(*, host_id: int, reports: list[tuple[int, datetime, list[tuple]]]) -> None:
    """The telemetry rows of one host's reports, (observation id, collected_at, samples) each with
    its samples in SAMPLE_COLUMNS order, in one INSERT (a batch's reports together)."""
    values = [(observation_id, host_id, _prepared(GpuSample, "collected_at", collected_at), *sample)
              for observation_id, collected_at, samples in reports for sample in samples]
    _rows_insert(GpuSample, ("observation", "host", "collected_at", *SAMPLE_COLUMNS), values)


LINK_COLUMNS = ("gpu", "link_index", "state", "version", "speed_mbps", "remote_device_type", "remote_pci_bus_id",
                "last_observation")


def links_insert(*, links: list[tuple]) -> None:
    """NVLink rows as a report states them (values in LINK_COLUMNS order), provenance reported."""
    provenance = NvLink._meta.get_field("provenance").default
    _rows_insert(NvLink, (*LINK_COLUMNS, "provenance"), [(*link, provenance) for link in links])


def _update(model, pk, values: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_statement("update", model, tuple(values), 1, connection.vendor),
                       [_prepared(model, name, value) for name, value in values.items()] + [_prepared(model, "id", pk)])


def host_update(*, host_id: int, values: dict) -> None:
    """The host's reported facts, last report and evaluation mark (field name → value)."""
    _update(Host, host_id, values)


def agent_update(*, agent_id, values: dict) -> None:
    """The agent's last sequence, last seen and budget counters (field name → value)."""
    _update(Agent, agent_id, values)
