"""The demo fleet `make run` shows: organizations in several countries, with the cases an
officer should see (an H800 cluster of a subsidiary whose parent sits in China, an
unlicensed H100 cluster in Singapore, honest fleets in the US and Germany)."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .models import Cluster, Organization, Site

ORGANIZATIONS = [
    # name, kind, incorporated, headquarters, parent
    ("Northwind AI, Inc.", "operator", "US", "US", None),
    ("Rhein KI GmbH", "cloud_provider", "DE", "DE", None),
    ("Dragon Peak Holdings Ltd.", "operator", "KY", "CN", None),
    ("Lion City Compute Pte. Ltd.", "cloud_provider", "SG", "SG", "Dragon Peak Holdings Ltd."),
    ("Shenzhen Qiming Technology Co., Ltd.", "end_user", "CN", "CN", "Dragon Peak Holdings Ltd."),
    ("Gulf Compute FZ-LLC", "cloud_provider", "AE", "AE", None),
]

SITES = [
    # name, organization, country, city, lat, lon
    ("Ashburn DC-1", "Northwind AI, Inc.", "US", "Ashburn", 39.04, -77.49),
    ("Frankfurt FRA-2", "Rhein KI GmbH", "DE", "Frankfurt", 50.11, 8.68),
    ("Jurong West", "Lion City Compute Pte. Ltd.", "SG", "Singapore", 1.34, 103.71),
    ("Nanshan Park", "Shenzhen Qiming Technology Co., Ltd.", "CN", "Shenzhen", 22.53, 113.93),
    ("Abu Dhabi AD-1", "Gulf Compute FZ-LLC", "AE", "Abu Dhabi", 24.45, 54.38),
]


@dataclass(frozen=True)
class DemoHost:
    hostname: str
    cluster: str
    profile: str  # a fake-NVML profile shipped with the agent
    planted: str = ""  # a forgery planted in the NVML answers, so the demo shows a detector at work


CLUSTERS = [
    # name, site, purpose, [(hostname, profile)]
    ("nw-train-a", "Ashburn DC-1", "training", [("nw-a-01", "hgx-h100"), ("nw-a-02", "hgx-h100"),
                                                 ("nw-a-03", "hgx-b200")]),
    ("rk-infer-1", "Frankfurt FRA-2", "inference", [("rk-i-01", "hgx-a100"), ("rk-i-02", "l40s")]),
    ("lc-train-7", "Jurong West", "training", [("lc-t-01", "hgx-h800"), ("lc-t-02", "hgx-h800"),
                                               ("lc-t-03", "hgx-h100"),
                                               # "H800"s answering with 18 active NVLink4 links: unlocked or relabelled
                                               ("lc-t-04", "hgx-h800", "unlocked-nvlinks")]),
    ("qm-lab", "Nanshan Park", "research", [("qm-l-01", "hgx-h20"), ("qm-l-02", "rtx-4090d")]),
    ("gc-mixed", "Abu Dhabi AD-1", "mixed", [("gc-m-01", "hgx-h200")]),
]


def demo_hosts() -> list[DemoHost]:
    return [DemoHost(cluster=cluster, hostname=host[0], profile=host[1], planted=host[2] if len(host) > 2 else "")
            for cluster, _, _, hosts in CLUSTERS for host in hosts]


def demo_inventory_load() -> dict[str, Cluster]:
    """Create (or find) the demo organizations, sites and clusters; returns clusters by name."""
    with transaction.atomic():
        orgs = {}
        for name, kind, incorporated, hq, parent in ORGANIZATIONS:
            orgs[name], _ = Organization.objects.get_or_create(
                name=name, defaults=dict(kind=kind, country_of_incorporation=incorporated, headquarters_country=hq,
                                         parent=orgs.get(parent)))
        sites = {}
        for name, org, country, city, lat, lon in SITES:
            sites[name], _ = Site.objects.get_or_create(
                name=name, organization=orgs[org],
                defaults=dict(country=country, city=city, latitude=lat, longitude=lon))
        clusters = {}
        for name, site, purpose, _ in CLUSTERS:
            clusters[name], _ = Cluster.objects.get_or_create(
                name=name, site=sites[site],
                defaults=dict(operator=sites[site].organization, declared_purpose=purpose))
        return clusters
