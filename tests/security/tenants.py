"""Two tenants (operator families) with their own cluster and enrollment secret, agents enrolled
over HTTP, and reports signed the way the real agent signs them (tests/detectors' Fleet)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from inventory.models import Agent, Cluster
from inventory.services.enrollment import enrollment_secret_create
from tests.detectors.conftest import Fleet, Node


@dataclass
class Tenant:
    fleet: Fleet
    cluster: Cluster
    secret: str

    @property
    def operator(self):
        return self.cluster.operator

    def enroll(self, hostname: str, machine_id: str) -> tuple[object, Node | None]:
        """POST /api/v1/agents/enroll with this tenant's secret: (response, the node when 201)."""
        key = Ed25519PrivateKey.generate()
        with self.fleet.capture(execute=True):  # the evaluation a shared machine id enqueues
            response = self.fleet.client.post(
                "/api/v1/agents/enroll", {"secret": self.secret, "public_key": protocol.public_key_b64(key),
                                          "hostname": hostname, "machine_id": machine_id},
                content_type="application/json")
        if response.status_code != 201:
            return response, None
        agent = Agent.objects.select_related("host").get(pk=response.json()["agent_id"])
        return response, Node(self.fleet, agent.host, agent, key)


def tenant_create(fleet: Fleet, name: str, country: str, hq: str = "US") -> Tenant:
    parent = fleet.org(f"{name} Holdings", hq)
    operator = fleet.org(f"{name} Compute", country, parent=parent)
    cluster = fleet.cluster(fleet.site(operator, f"{name}-DC1", country), f"{name.lower()}-train")
    _, secret = enrollment_secret_create(label=name, cluster=cluster)
    return Tenant(fleet, cluster, secret)


def with_identity(report: dict, gpus: list[dict]) -> dict:
    """The report with its identity section replaced (hash recomputed, telemetry for each GPU)."""
    out = copy.deepcopy(report)
    out["identity"] = {"gpus": gpus}
    out["identity_sha256"] = protocol.identity_sha256(out["identity"])
    sample = (report["telemetry"]["gpus"] or [{"uuid": ""}])[0]
    out["telemetry"] = {"gpus": [dict(sample, uuid=g["uuid"]) for g in gpus]}
    return out


def post(node: Node, report: dict, *, when=None):
    """Sign and POST a report as `node`'s agent, running the evaluation it enqueues; the response."""
    from tests.detectors.conftest import at
    from tests.reports import signed_post

    with at(when or timezone.now()), node.fleet.capture(execute=True):
        response = signed_post(node.fleet.client, report, node.key)
    if response.status_code == 201:
        node.sequence = report["sequence"] + 1
    return response
