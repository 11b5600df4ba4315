"""Two organization families with a small fleet each, users for every role, and API clients.

Shared by tests/api, tests/web and tests/e2e (their conftests import these fixtures).
Family A's child carries HTML in its name and aliases: every page must show it escaped.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

EVIL_NAME = 'Alpha <script>alert("x")</script> Cloud'
EVIL_ALIAS = "<img src=x onerror=alert(1)>"


@dataclass
class Family:
    root: object
    child: object
    site: object
    clusters: list = field(default_factory=list)
    hosts: list = field(default_factory=list)
    gpus: list = field(default_factory=list)
    observations: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    classifications: list = field(default_factory=list)

    def first(self, kind: str):
        return getattr(self, kind)[0]


@transaction.atomic  # one commit, not one per row, under live_server's transactional database
def family_create(prefix: str, *, hq: str, site_country: str, child_name: str | None = None,
                  aliases=()) -> Family:
    from inventory.models import Organization, Site

    root = Organization.objects.create(name=f"{prefix} Holdings", country_of_incorporation=hq,
                                       headquarters_country=hq)
    child = Organization.objects.create(name=child_name or f"{prefix} Compute", country_of_incorporation=site_country,
                                        headquarters_country=site_country, parent=root, kind="cloud_provider",
                                        aliases=list(aliases))
    site = Site.objects.create(name=f"{prefix}-DC1", organization=child, country=site_country, city="Somewhere")
    family = Family(root=root, child=child, site=site)
    fleet_grow(family, clusters=1)
    return family


@transaction.atomic
def fleet_grow(family: Family, *, clusters: int) -> Family:
    """Add clusters, each with a host, two NVLinked GPUs, a report, a classification, a score and a finding.

    Also adds one subsidiary and one site per cluster, so every list endpoint grows.
    """
    from compliance.findings import FindingSpec, finding_raise
    from compliance.models import ClusterScore, GpuClassification
    from inventory.models import Agent, Cluster, Gpu, Host, NvLink, Observation, Organization, Site

    now = timezone.now()
    for _ in range(clusters):
        n = len(family.clusters)
        tag = f"{family.root.name.split()[0].lower()}-{n}"
        subsidiary = Organization.objects.create(name=f"{family.root.name} sub {n}", country_of_incorporation="US",
                                                 headquarters_country="US", parent=family.child)
        Site.objects.create(name=f"{tag}-site", organization=subsidiary, country=family.site.country)
        cluster = Cluster.objects.create(name=f"{tag}-cluster", site=family.site, operator=family.child,
                                         declared_purpose="training")
        host = Host.objects.create(hostname=f"{tag}-node", cluster=cluster, machine_id=uuid.uuid4().hex,
                                   first_seen=now, last_seen=now, driver_version="550.54.15")
        agent = Agent.objects.create(host=host, public_key=hashlib.sha256(tag.encode()).hexdigest()[:43] + "=")
        gpu_uuids = [f"GPU-{uuid.uuid4()}" for _ in range(2)]
        payload = {"identity": {"gpus": [
                       {"uuid": u, "name": "NVIDIA H100 80GB HBM3", "nvlinks": [],
                        "pci": {"bus_id": f"00000000:{0x18 + i:02X}:00.0", "device_id": 0x233010DE}}
                       for i, u in enumerate(gpu_uuids)]},
                   "host": {"hostname": host.hostname, "note": "<b>not bold</b>"}}
        observation = Observation.objects.create(
            report_id=uuid.uuid4(), agent=agent, host=host, sequence=0, collected_at=now, received_at=now,
            clock_skew_seconds=0.0, payload=payload, payload_sha256="a" * 64, identity_sha256="b" * 64,
            full_identity=True, synthetic=True, signature_status="valid")
        host.last_observation = observation
        host.save(update_fields=["last_observation"])
        for index, gpu_uuid in enumerate(gpu_uuids):
            gpu = Gpu.objects.create(uuid=gpu_uuid, host=host, index=index, name="NVIDIA H100 80GB HBM3",
                                     serial=f"{tag}-{index}", pci_device_id=0x2330, active_nvlinks=2,
                                     nvlink_version=4, first_seen=now, last_seen=now, last_observation=observation)
            for link in range(2):
                NvLink.objects.create(gpu=gpu, link_index=link, state="active", version=4, speed_mbps=26562,
                                      remote_device_type="switch")
            family.classifications.append(GpuClassification.objects.create(
                gpu=gpu, catalog_model="h100-sxm5-80gb", match_basis="pci device id", eccn="3A090",
                paragraph="3A090.a", rule="test rule", as_of=date.today(), evaluated_at=now,
                observation=observation))
            family.gpus.append(gpu)
        family.scores.append(ClusterScore.objects.create(
            cluster=cluster, as_of=date.today() - timedelta(days=1), rule="test rule", gpu_count=2,
            controlled_gpu_count=2, aggregate_tpp=31664.0, h100_equivalents=2.0, risk_score=40,
            figures={"contributions": [{"points": 40, "reason": "controlled GPUs <i>abroad</i>",
                                        "citation": "15 CFR 742.6"}]},
            content_sha256="c" * 64, computed_at=now))
        family.findings.append(finding_raise(spec=FindingSpec(
            kind="undeclared_gpu", severity=40, subject_type="cluster", subject_id=cluster.pk,
            dedup_key=f"undeclared:{tag}", title=f"Undeclared GPUs in {cluster.name}", citation="15 CFR 762",
            observation_ids=(observation.pk,), figures={"gpus": 2}, cluster_id=cluster.pk,
            organization_id=family.child.pk)))
        family.clusters.append(cluster)
        family.hosts.append(host)
        family.observations.append(observation)
    return family


@pytest.fixture
def family_a(db):
    return family_create("Alpha", hq="US", site_country="SG", child_name=EVIL_NAME, aliases=[EVIL_ALIAS])


@pytest.fixture
def family_b(db):
    return family_create("Beta", hq="CN", site_country="CN")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Seven users per test: PBKDF2's deliberate slowness would dominate the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


ROLES = ("anonymous", "no_role", "auditor_a", "auditor_b", "officer_a", "officer", "admin")


@pytest.fixture
def users(family_a, family_b, django_user_model):
    """One user per role name in ROLES (anonymous → None); every password is 'pw-<role>-chipwatch'."""
    from compliance.access.models import RoleGrant

    grants = {"auditor_a": ("auditor", family_a.root), "auditor_b": ("auditor", family_b.root),
              "officer_a": ("officer", family_a.child), "officer": ("officer", None), "admin": ("admin", None)}
    out = {"anonymous": None}
    for role in ROLES[1:]:
        user = django_user_model.objects.create_user(role, password=f"pw-{role}-chipwatch")
        if role in grants:
            RoleGrant.objects.create(user=user, role=grants[role][0], organization=grants[role][1])
        out[role] = user
    return out


def api_client(user):
    """A DRF client authenticated by token, as API consumers are."""
    from rest_framework.test import APIClient

    from compliance.access.services import api_token_create

    client = APIClient()
    if user is not None:
        _, token = api_token_create(user=user, label="test client")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client
