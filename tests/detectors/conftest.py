"""A small fleet builder for detector tests: organizations, sites, clusters and enrolled hosts
that report through the real path (collector over the fake NVML → signed report → ingest →
evaluation on commit).

Forged hosts are planted by changing what NVML answers, never our code: a profile snapshot
is loaded and its recorded calls edited (`answer`, `unlock_nvlinks`), then replayed.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from unittest import mock

import pytest
from chipwatch_agent import protocol
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml, load_snapshot, own_identity, unlock_nvlinks  # noqa: F401 (used by tests)
from chipwatch_agent.report import build_report
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from compliance.models import Finding
from compliance.evaluation.services import host_evaluate
from inventory.services.enrollment import agent_enroll, enrollment_secret_create
from inventory.models import Cluster, Host, Organization, Site
from tests.reports import signed_post

# --- editing NVML snapshots ------------------------------------------------------------


def answer(snapshot: dict, function: str, value, *, gpus=None, args: tuple = ()) -> dict:
    """Make `function` answer `value` (on the given GPU indices, all when None; `args` are the
    arguments after the handle, e.g. (1,) for the SM clock).  Returns the snapshot."""
    hits = 0
    for call in snapshot["calls"]:
        name, call_args, outcome = call
        handle = call_args[0].get("$handle") if call_args and isinstance(call_args[0], dict) else None
        if name != function or (gpus is not None and handle not in gpus) or tuple(call_args[1:]) != tuple(args):
            continue
        call[2] = {"return": value}
        hits += 1
    assert hits, f"no recorded {function}{args} call to change"
    return snapshot


def share_fabric(snapshot: dict, donor: dict) -> dict:
    """Make `snapshot`'s GPUs report the NVLink fabric (cluster UUID, clique) of `donor`'s."""
    fabric = "nvmlDeviceGetGpuFabricInfoV"
    snapshot["calls"] = ([call for call in snapshot["calls"] if call[0] != fabric]
                         + [call for call in donor["calls"] if call[0] == fabric])
    return snapshot


def uuids_of(snapshot: dict) -> list[str]:
    return [call[2]["return"] for call in snapshot["calls"] if call[0] == "nvmlDeviceGetUUID"]


# --- time ------------------------------------------------------------------------------


def days_ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


def at(moment: datetime):
    """Run as if the server clock read `moment` (received_at, windows, finding times)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


# --- the fleet ---------------------------------------------------------------------------


@dataclass
class Node:
    """One enrolled host whose agent reports through the real ingest path."""

    fleet: "Fleet"
    host: Host
    agent: object
    key: Ed25519PrivateKey
    sequence: int = 0
    observations: list[int] = field(default_factory=list)

    def profile(self, name: str) -> dict:
        """The shipped profile, with GPU identities of this host's own."""
        return own_identity(copy.deepcopy(load_snapshot(name)), self.host.hostname)

    def build(self, snapshot: dict | str, *, when: datetime | None = None, boot_id: str | None = None,
              skew: timedelta = timedelta(0)) -> dict:
        """A report collected from `snapshot` (or a profile name) at `when`, its clock off by `skew`."""
        if isinstance(snapshot, str):
            snapshot = self.profile(snapshot)
        report = build_report(Collector(FakeNvml(snapshot)).collect(), agent_id=str(self.agent.id),
                              sequence=self.sequence, backend="fake",
                              collected_at=((when or timezone.now()) + skew).timestamp())
        report["host"].update(hostname=self.host.hostname, machine_id=self.host.machine_id,
                              boot_id=boot_id or self.fleet.boot_id)
        return report

    def report(self, snapshot: dict | str, *, when: datetime | None = None, **build) -> int:
        """Collect, sign, post and evaluate a report (see `build`); the observation id."""
        when = when or timezone.now()
        report = self.build(snapshot, when=when, **build)
        with at(when), self.fleet.capture(execute=True):
            response = signed_post(self.fleet.client, report, self.key)
        assert response.status_code == 201, response.content
        if Host.objects.get(pk=self.host.pk).needs_evaluation is not None:
            # The enqueue swallows errors (the sweeper retries); evaluate again to show why it failed.
            with at(when):
                host_evaluate(host_id=self.host.pk)
            pytest.fail("evaluation did not complete on commit")
        self.sequence += 1
        self.observations.append(response.json()["observation_id"])
        return self.observations[-1]


class Fleet:
    """Factories for organizations, sites, clusters and reporting hosts."""

    boot_id = "b" * 32

    def __init__(self, client, capture):
        self.client, self.capture = client, capture

    def org(self, name: str, hq: str = "US", parent: Organization | None = None) -> Organization:
        return Organization.objects.create(name=name, country_of_incorporation=hq, headquarters_country=hq,
                                           parent=parent)

    def site(self, org: Organization, name: str, country: str) -> Site:
        return Site.objects.create(name=name, organization=org, country=country)

    def cluster(self, site: Site, name: str, operator: Organization | None = None,
                purpose: str = Cluster.Purpose.TRAINING) -> Cluster:
        return Cluster.objects.create(name=name, site=site, operator=operator or site.organization,
                                      declared_purpose=purpose)

    def node(self, cluster: Cluster, hostname: str) -> Node:
        _, secret = enrollment_secret_create(label=hostname, cluster=cluster)
        key = Ed25519PrivateKey.generate()
        machine_id = hashlib.md5(hostname.encode()).hexdigest()
        agent = agent_enroll(secret=secret, public_key=protocol.public_key_b64(key), hostname=hostname,
                                      machine_id=machine_id)
        return Node(self, agent.host, agent, key)


@pytest.fixture
def fleet(db, client, django_capture_on_commit_callbacks):
    return Fleet(client, django_capture_on_commit_callbacks)


@pytest.fixture
def sg_cluster(fleet):
    """A Singapore training cluster of a US-parented operator: no licence needed for 3A090 parts."""
    parent = fleet.org("Acme Holdings", "US")
    operator = fleet.org("Acme Compute SG", "SG", parent=parent)
    return fleet.cluster(fleet.site(operator, "SG-1", "SG"), "sg-train-1")


def findings(kind: str) -> list[Finding]:
    return list(Finding.objects.filter(kind=kind).order_by("id"))
