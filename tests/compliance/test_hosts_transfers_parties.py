"""Hosts classified as computers, declared transfers determined at their own date, and confirmed
Entity List hits, through the real ingest and evaluation path (reports from the fake NVML)."""
from datetime import date, timedelta

import pytest
from django.utils import timezone

from compliance.models import ClusterScore, Finding, HostClassification
from compliance.screening.models import Adjudication, ListEntry, ScreeningHit, ScreeningList
from compliance.services import cluster_audit_report, clusters_score, fleet_rescore, hosts_classify
from inventory.models import License, Transfer
from tests.detectors.conftest import Fleet

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(db, client, django_capture_on_commit_callbacks):
    return Fleet(client, django_capture_on_commit_callbacks)


@pytest.fixture
def us_cluster(fleet):
    return fleet.cluster(fleet.site(fleet.org("Acme Compute", "US"), "US-1", "US"), "us-train")


# --- hosts -------------------------------------------------------------------------------


def test_an_inventoried_host_is_classified_from_its_gpus(fleet, us_cluster):
    node = fleet.node(us_cluster, "h100-node")
    node.report("hgx-h100")
    verdict = HostClassification.objects.get(host=node.host)
    assert (verdict.eccn, verdict.paragraph, verdict.governing_model, verdict.gpu_count) == (
        "4A090.a", "4A090.a", "h100-sxm", 8)
    assert "8 x h100-sxm classified 3A090.a.1 -> 4A090.a" in verdict.reasons[0]
    score = ClusterScore.objects.get(cluster=us_cluster)
    assert score.figures["hosts_by_classification"] == {"4A090.a": 1}


@pytest.mark.parametrize("profile, before, after", [
    # 8 H100: 4A090.a under the 2022 rule already (900 GB/s NVLink met its I/O prong), under 88 FR 73458 from
    # 2023-11-17; 8 H800: below the 2022 I/O prong, so 4A090.a only from 2023-11-17.
    ("hgx-h100", ("4A090.a", "88 FR 2821"), ("4A090.a", "88 FR 73458")),  # 87 FR 62186 as amended for Macau
    ("hgx-h800", ("", "88 FR 2821"), ("4A090.a", "88 FR 73458")),
])
def test_host_classification_on_the_day_before_and_the_day_of_the_2023_rule(fleet, us_cluster, profile, before,
                                                                             after):
    node = fleet.node(us_cluster, f"{profile}-node")
    node.report(profile)
    for day, (eccn, rule) in ((date(2023, 11, 16), before), (date(2023, 11, 17), after)):
        hosts_classify(host_ids=[node.host.id], as_of=day)
        verdict = HostClassification.objects.get(host=node.host)
        assert (verdict.eccn, verdict.as_of) == (eccn, day)
        assert verdict.rule.startswith(rule)


def test_the_audit_report_shows_each_host_as_then_classified(fleet, us_cluster):
    node = fleet.node(us_cluster, "audited")
    node.report("hgx-h800")
    report = cluster_audit_report(cluster=us_cluster, as_of=timezone.localdate())
    [host] = report["hosts"]
    assert (host["host"], host["eccn"], host["gpu_count"]) == ("audited", "4A090.a", 8)
    assert report["figures"]["hosts_by_classification"] == {"4A090.a": 1}


# --- transfers -----------------------------------------------------------------------------


def transfer_setup(fleet, us_cluster):
    node = fleet.node(us_cluster, "shipper")
    node.report("hgx-h100")
    gpu = node.host.gpus.order_by("index").first()
    receiver = fleet.org("Gulf Receiver", "AE")
    return gpu, us_cluster.site, fleet.site(receiver, "AE-1", "AE"), receiver


def test_each_transfer_gets_its_own_determination_and_a_finding_when_unlicensed(fleet, us_cluster):
    gpu, us_site, ae_site, receiver = transfer_setup(fleet, us_cluster)
    early = Transfer.objects.create(gpu_uuid=gpu.uuid, from_site=us_site, to_site=ae_site,
                                    effective_date=date(2023, 10, 22))
    later = Transfer.objects.create(gpu_uuid=gpu.uuid, from_site=us_site, to_site=ae_site,
                                    effective_date=date(2023, 10, 23))
    fleet_rescore()
    report = cluster_audit_report(cluster=us_cluster, as_of=timezone.localdate())
    by_id = {t["transfer_id"]: t for t in report["transfers"]}
    assert by_id[early.id]["movement"] == "export_from_us" and by_id[early.id]["state"] == "not_required"
    # The USG notice of 2023-10-23 made the 88 FR 73458 requirements (D:1/D:4/D:5) immediate for the H100.
    assert by_id[later.id]["state"] == "required_unlicensed"
    assert by_id[later.id]["license"]["license_required"] is True
    [finding] = Finding.objects.filter(kind="transfer.unlicensed")
    assert finding.dedup_key == f"transfer.unlicensed:transfer{later.id}"
    assert finding.subject_type == "gpu" and finding.subject_id == gpu.id
    assert finding.evidence["observation_ids"] == [gpu.last_observation_id]
    assert finding.evidence["figures"]["effective_date"] == "2023-10-23"

    License.objects.create(number="AE-LATE", holder=us_cluster.site.organization, destination_country="AE",
                           eccns=["3A090.a"], valid_from=date(2023, 11, 1))  # not yet valid on the transfer's date
    fleet_rescore()
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN
    License.objects.create(number="AE-EXP-1", holder=us_cluster.site.organization, destination_country="AE",
                           eccns=["3A090.a"], valid_from=date(2023, 10, 1))
    fleet_rescore()
    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED
    assert "AE-EXP-1" in finding.events.order_by("id").last().note


def test_a_transfer_without_an_origin_site_is_a_movement_not_known(fleet, us_cluster):
    gpu, _, _, _ = transfer_setup(fleet, us_cluster)
    cn_site = fleet.site(fleet.org("Mainland Receiver", "CN"), "CN-9", "CN")
    Transfer.objects.create(gpu_uuid=gpu.uuid, from_site=None, to_site=cn_site, effective_date=date(2026, 2, 1))
    Transfer.objects.create(gpu_uuid=gpu.uuid, from_site=us_cluster.site, to_site=cn_site,
                            effective_date=date(2026, 2, 2))
    Transfer.objects.create(gpu_uuid="GPU-not-in-the-inventory", from_site=us_cluster.site, to_site=cn_site,
                            effective_date=date(2026, 2, 3))
    from compliance.services import transfer_verdicts

    unknown, from_us, missing = transfer_verdicts(transfers=Transfer.objects.all())
    assert unknown["movement"] is None and from_us["movement"] == "export_from_us"
    assert missing["state"] == "undetermined" and "not in the inventory" in missing["license"]["reasons"][0]


# --- parties -------------------------------------------------------------------------------


def listed(fleet, organization, *, entry_name: str, user, **terms):
    screening_list = ScreeningList.objects.create(file_name="csl.json", file_format="json", version="test",
                                                  sha256="f" * 64, imported_at=timezone.now(), entry_count=1)
    entry = ListEntry.objects.create(screening_list=screening_list, entry_key=f"EL:{entry_name}", source_id="1",
                                     source_list="Entity List (EL) - Bureau of Industry and Security",
                                     source_code="EL", name=entry_name, normalized_name=entry_name.lower(),
                                     fingerprint="e" * 64, start_date=date(2019, 5, 21),
                                     federal_register_notice="84 FR 22961", **terms)
    now = timezone.now()
    hit = ScreeningHit.objects.create(organization=organization, entry_key=entry.entry_key, entry=entry, score=0.97,
                                      explanation={}, status=ScreeningHit.Status.CONFIRMED,
                                      organization_fingerprint="o", entry_fingerprint="e", first_seen=now,
                                      last_seen=now)
    Adjudication.objects.create(hit=hit, verdict=Adjudication.Verdict.CONFIRMED, reason="same company", user=user,
                                at=now - timedelta(seconds=1), organization_fingerprint="o", entry_fingerprint="e")
    return hit


def test_a_confirmed_entity_list_hit_requires_a_licence_for_all_items_with_the_entrys_policy(fleet, django_user_model):
    operator = fleet.org("Huawei Technologies Co., Ltd.", "CN")
    cluster = fleet.cluster(fleet.site(operator, "DE-H", "DE"), "de-listed")
    fleet.node(cluster, "listed-node").report("l20")  # not 3A090, not named by a notice
    score = ClusterScore.objects.get(cluster=cluster)
    assert score.figures["licence"]["state"] == "not_required"

    listed(fleet, operator, entry_name="Huawei Technologies Co., Ltd.",
           user=django_user_model.objects.create_user("officer-x"))
    clusters_score(cluster_ids=[cluster.id], as_of=timezone.localdate())
    figures = ClusterScore.objects.get(cluster=cluster).figures
    licence = figures["models"]["l20"]["license"]
    assert licence["license_required"] is True and licence["review_policy"] == "presumption of denial"
    assert licence["headline"].startswith("licence required for all items subject to the EAR")
    assert licence["parties"][0]["footnotes"][0]["fdp"] == "15 CFR 734.9(e)(1)"
    assert figures["licence"]["state"] == "required_unlicensed"
    assert Finding.objects.get(kind="licence_gap", cluster=cluster).severity == Finding.Severity.CRITICAL


def test_the_entry_s_published_terms_decide_for_an_entry_not_in_the_parties_data(fleet, django_user_model):
    operator = fleet.org("Inspur Group", "CN")
    cluster = fleet.cluster(fleet.site(operator, "DE-I", "DE"), "de-inspur")
    fleet.node(cluster, "inspur-node").report("l20")
    listed(fleet, operator, entry_name="Inspur Group", user=django_user_model.objects.create_user("officer-z"),
           license_requirement="For all items subject to the EAR. (See §§ 734.9(e) and 744.11 of the EAR).",
           license_policy="Case-by-case review.")
    clusters_score(cluster_ids=[cluster.id], as_of=timezone.localdate())
    licence = ClusterScore.objects.get(cluster=cluster).figures["models"]["l20"]["license"]
    assert (licence["license_required"], licence["review_policy"]) == (True, "case-by-case")
    assert licence["headline"] == "licence required for all items subject to the EAR (Entity List; case-by-case)"
    assert any("as published in the imported screening list" in r for r in licence["reasons"])
    assert not any("not on record (unconfirmed" in w for w in licence["warnings"])


def test_a_listed_parent_is_undetermined_after_the_affiliates_suspension(fleet, django_user_model):
    parent = fleet.org("Moore Threads", "CN")
    child = fleet.org("Moore Threads Europe", "DE", parent=parent)
    cluster = fleet.cluster(fleet.site(child, "DE-M", "DE"), "de-affiliate")
    fleet.node(cluster, "affiliate-node").report("l20")
    listed(fleet, parent, entry_name="Moore Threads", user=django_user_model.objects.create_user("officer-y"))
    # Today (after 2026-11-09) the rule's state is not on record: undetermined, and said so.
    clusters_score(cluster_ids=[cluster.id], as_of=timezone.localdate())
    licence = ClusterScore.objects.get(cluster=cluster).figures["models"]["l20"]["license"]
    assert licence["license_required"] is None
    assert any("after 2026-11-09" in reason for reason in licence["reasons"])
    # While suspended: no requirement from the rule.
    clusters_score(cluster_ids=[cluster.id], as_of=date(2026, 1, 5))
    licence = ClusterScore.objects.get(cluster=cluster, as_of=date(2026, 1, 5)).figures["models"]["l20"]["license"]
    assert licence["license_required"] is False and any("suspended" in r for r in licence["reasons"])
