"""A simulated fleet of agents for multi-node tests and bench/load.py: enrolled through the service,
reporting as the real agent does (full first, lean after, full again on 428; a connection error or a
5xx retried with backoff), failing over to the next ingest node when its own does not answer."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from bench._stack import fleet_template, host_collection

ACKNOWLEDGED = 200
REFUSED_FOR_GOOD = (400, 401, 403, 409, 413)


def enroll_fleet(count: int, *, clusters: int, through_service: bool = True) -> list[tuple[str, bytes, int]]:
    """An operator, a site and `clusters` clusters; `count` agents, each on a host of its own.
    Returns (agent id, private key PEM, host number) per agent: plain data, so it crosses processes.

    Through the service (`agent_enroll`), in one transaction with a savepoint each; otherwise the rows
    it writes for a first enrollment (host in the secret's cluster, live key, a use of the secret), in
    bulk: what bench/load.py measures is reporting, and 20,000 enrollments one by one would take
    longer than the load they set up on a busy box."""
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.db import transaction
    from django.db.models import F

    from inventory.models import Agent, Cluster, EnrollmentSecret, Host, Organization, Site
    from inventory.services.enrollment import agent_enroll, enrollment_secret_create

    keys = [Ed25519PrivateKey.generate() for _ in range(count)]
    with transaction.atomic():
        operator = Organization.objects.create(name="Bench Cloud", country_of_incorporation="SG",
                                               headquarters_country="SG", kind="cloud_provider")
        site = Site.objects.create(name="BENCH-1", organization=operator, country="SG", city="Singapore")
        enrollments = [enrollment_secret_create(
            label=f"bench-{n}", cluster=Cluster.objects.create(name=f"bench-{n:02d}", site=site, operator=operator,
                                                               declared_purpose="training"))
            for n in range(clusters)]
        if through_service:
            agents = [agent_enroll(secret=enrollments[n % clusters][1], public_key=protocol.public_key_b64(key),
                                   hostname=f"hgx-{n:05d}", machine_id=f"{n:032x}") for n, key in enumerate(keys)]
        else:
            hosts = Host.objects.bulk_create(
                [Host(hostname=f"hgx-{n:05d}", machine_id=f"{n:032x}",
                      cluster_id=enrollments[n % clusters][0].cluster_id) for n in range(count)], batch_size=2000)
            agents = Agent.objects.bulk_create(
                [Agent(host=host, public_key=protocol.public_key_b64(key),
                       enrollment_secret=enrollments[n % clusters][0])
                 for n, (host, key) in enumerate(zip(hosts, keys))], batch_size=2000)
            for n, (secret, _) in enumerate(enrollments):
                EnrollmentSecret.objects.filter(pk=secret.pk).update(uses=F("uses") + len(range(n, count, clusters)))
    return [(str(agent.id), key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()), n)
            for n, (agent, key) in enumerate(zip(agents, keys))]


@dataclass
class SimulatedAgent:
    """One enrolled agent's reporting state; `home` is the index of the ingest node it tries first."""

    id: str
    key: object
    host: int
    collection: dict
    home: int = 0
    sequence: int = 0
    lean: bool = False
    acknowledged_by: dict = field(default_factory=dict)  # report_id -> url that acknowledged it

    @classmethod
    def fleet(cls, enrolled: list[tuple[str, bytes, int]], *, nodes: int = 1) -> list["SimulatedAgent"]:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        template, identifiers = fleet_template("hgx-h100")
        return [cls(agent_id, load_pem_private_key(pem, None), host, host_collection(template, identifiers, host),
                    home=n % nodes) for n, (agent_id, pem, host) in enumerate(enrolled)]

    def next_report(self) -> dict:
        from chipwatch_agent.report import build_report

        self.sequence += 1
        return build_report(self.collection, agent_id=self.id, sequence=self.sequence, backend="fake")


def post_report(session, url: str, agent: SimulatedAgent, body: dict) -> int | str:
    """POST one signed report; the HTTP status (200 only when stored or duplicate) or the exception's name."""
    import requests
    from chipwatch_agent import protocol

    try:
        response = session.post(url + "/api/v1/reports", data=protocol.canonical_json(body), timeout=30,
                                headers={"Content-Type": "application/json", protocol.AGENT_ID_HEADER: agent.id,
                                         protocol.SIGNATURE_HEADER: protocol.sign(agent.key, body)})
    except requests.RequestException as exc:
        return type(exc).__name__
    if response.status_code in (200, 201):
        try:
            stored = response.json().get("status") in ("stored", "duplicate")
        except ValueError:
            stored = False
        return ACKNOWLEDGED if stored else f"{response.status_code} unexpected body"
    return response.status_code


def deliver(agent: SimulatedAgent, report: dict, urls: list[str], *, send, until: float,
            rng: random.Random) -> bool:
    """Send `report` until acknowledged (True) or refused for good / out of time (False).

    `send(url, body)` returns what post_report does.  The agent starts at its home node and moves
    to the next one after every failed attempt, so a dead node costs one attempt, not the report."""
    from chipwatch_agent.report import lean

    node, delay = agent.home, 0.25
    while time.time() < until:
        url = urls[node % len(urls)]
        status = send(url, lean(report) if agent.lean else report)
        if status == 428:  # the server does not know the identity: the same report in full, at once
            agent.lean = False
            continue
        if status == ACKNOWLEDGED:
            agent.lean = True
            agent.acknowledged_by[report["report_id"]] = url
            return True
        if status in REFUSED_FOR_GOOD:
            return False
        node += 1
        time.sleep(rng.uniform(0, delay))
        delay = min(delay * 2, 8)
    return False
