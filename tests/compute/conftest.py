"""Hosts that report through the real ingest path (tests/detectors' fleet), and history added
beside them as GpuSample rows shaped as ingest writes them (one Observation per host and
collection time, one sample per GPU), for the long stretches a test cannot post report by report."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from inventory.models import Gpu, GpuSample, Observation
from tests.detectors.conftest import Node, answer, findings, fleet, sg_cluster  # noqa: F401 (fixtures, helpers)

T0 = datetime(2026, 9, 1, tzinfo=timezone.utc)


def utilization(value: int) -> dict:
    return {"$struct": "c_nvmlUtilization_t", "fields": {"gpu": value, "memory": 40}}


def h800_report(node: Node, *, when: datetime, util: int | None = 97, energy_mj: int | None = None, **build) -> int:
    """One real report from the hgx-h800 profile at `when` (the server clock too); its observation id."""
    snapshot = node.profile("hgx-h800")
    if util is not None:
        answer(snapshot, "nvmlDeviceGetUtilizationRates", utilization(util))
    if energy_mj is not None:
        answer(snapshot, "nvmlDeviceGetTotalEnergyConsumption", energy_mj)
    return node.report(snapshot, when=when, **build)


def history(node: Node, moments, *, util=lambda gpu, i: 97, energy=lambda gpu, i: None,
            received=lambda moment: moment) -> list[int]:
    """Observations at each of `moments` for the node's host and one GpuSample per GPU, as ingest
    writes them (collected_at from the agent, received_at from the server); the bulk rows are
    marked synthetic and unsigned, since no report was posted for them.  `util` and `energy`
    give each GPU's reading for the i-th moment.  Returns the observation ids."""
    gpus = list(Gpu.objects.filter(host=node.host).order_by("index"))
    template = Observation.objects.filter(host=node.host).order_by("id").first()
    observations = Observation.objects.bulk_create(
        Observation(report_id=uuid.uuid4(), agent=node.agent, host=node.host, sequence=10_000 + i,
                    collected_at=moment, received_at=received(moment),
                    clock_skew_seconds=(moment - received(moment)).total_seconds(),
                    payload={"generated": "tests/compute bulk history", "template_observation": template.id},
                    payload_sha256="", identity_sha256=template.identity_sha256, full_identity=False,
                    synthetic=True, signature_status=Observation.Signature.MISSING)
        for i, moment in enumerate(moments))
    GpuSample.objects.bulk_create(
        (GpuSample(observation=obs, gpu=gpu, host=node.host, collected_at=obs.collected_at,
                   utilization_gpu_pct=util(gpu, i), energy_mj=energy(gpu, i), power_draw_mw=350_000)
         for i, obs in enumerate(observations) for gpu in gpus), batch_size=5000)
    return [o.id for o in observations]


def every(start: datetime, *, minutes: float, count: int) -> list[datetime]:
    return [start + timedelta(minutes=minutes * i) for i in range(count)]


@pytest.fixture
def h800_node(fleet, sg_cluster):
    """A host of eight H800s that posted one real report at T0."""
    node = fleet.node(sg_cluster, "h800-a")
    h800_report(node, when=T0)
    return node
