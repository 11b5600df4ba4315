"""Long telemetry histories generated inside PostgreSQL, shaped as ingest writes them: one
Observation per host and collection hour (collected_at from the agent, received_at two seconds later,
clock_skew_seconds, the host's identity hash) and one GpuSample per GPU of the host pointing
at it.  Generated rows are marked (payload ``{"generated": marker}``, synthetic, unsigned):
no report was posted for them.  Used by the seed-case test and bench/compute_rollup.py.
"""
from __future__ import annotations

from datetime import datetime

from django.db import connection

from inventory.models import GpuSample, Observation


def _copied(model, overrides: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT expressions: the override where given, else the template row's
    value (``tpl.column``), so a column added to the model later is filled as ingest filled it."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in overrides:
            continue
        columns.append(field.column)
        values.append(overrides.get(field.column, f"tpl.{field.column}"))
    return ", ".join(columns), ", ".join(values)


def hourly_history(*, hosts: list[tuple[int, str, int]], start: datetime, hours: int, template_observation_id: int,
                   template_sample_id: int, marker: str, utilization_sql: str = "95",
                   energy_per_hour_mj: int = 2_520_000_000, step_hours: int = 1) -> None:
    """Every ``step_hours`` from ``first_hour`` to ``hours`` (inclusive) for each (host id,
    agent id, first_hour); ``observation.sequence - 1000`` is the hour.

    ``utilization_sql`` is an SQL expression over ``o`` (the observation) and ``g`` (the GPU, a
    literal ``%`` doubled: the query takes parameters),
    e.g. ``"95"``; the energy counter rises by ``energy_per_hour_mj`` an hour from 1e9 mJ.
    """
    observation_columns, observation_values = _copied(Observation, {
        "report_id": "gen_random_uuid()", "agent_id": "m.agent_id", "host_id": "m.host_id",
        "sequence": "1000 + t", "collected_at": "%s::timestamptz + t * interval '1 hour'",
        "received_at": "%s::timestamptz + t * interval '1 hour' + interval '2 seconds'",
        "clock_skew_seconds": "-2.0", "payload": "jsonb_build_object('generated', %s::text)",
        "payload_sha256": "''", "full_identity": "false", "synthetic": "true", "signature_status": "'missing'",
    })
    sample_columns, sample_values = _copied(GpuSample, {
        "observation_id": "o.id", "gpu_id": "g.id", "host_id": "o.host_id", "collected_at": "o.collected_at",
        "utilization_gpu_pct": utilization_sql, "power_draw_mw": "700000",
        "energy_mj": f"1000000000 + (o.sequence - 1000) * {int(energy_per_hour_mj)}",
    })
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO inventory_observation ({observation_columns}) SELECT {observation_values} "
            "FROM inventory_observation tpl, "
            "unnest(%s::bigint[], %s::uuid[], %s::int[]) AS m(host_id, agent_id, first_hour), "
            "generate_series(0, %s, %s) AS t WHERE tpl.id = %s AND t >= m.first_hour",
            [start, start, marker, [h[0] for h in hosts], [h[1] for h in hosts], [h[2] for h in hosts], hours,
             step_hours, template_observation_id])
        cursor.execute(
            f"INSERT INTO inventory_gpusample ({sample_columns}) SELECT {sample_values} "
            "FROM inventory_gpusample tpl, inventory_observation o JOIN inventory_gpu g ON g.host_id = o.host_id "
            "WHERE tpl.id = %s AND o.payload->>'generated' = %s",
            [template_sample_id, marker])
