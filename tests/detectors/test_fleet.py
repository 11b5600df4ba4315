"""A mixed fleet: honest hosts of several profiles, organizations and sites, and one planted case
per pattern.  Every planted case is found by the periodic fleet run, nothing else is."""
import pytest

from compliance.detectors import run_detectors
from compliance.models import Finding
from inventory.models import Cluster
from inventory.services.declarations import declarations_import

from .conftest import answer, at, days_ago, share_fabric, uuids_of, unlock_nvlinks

pytestmark = pytest.mark.django_db


def declare(cluster, uuids):
    rows = "".join(f"{u},,{cluster.operator.name},{cluster.site.name},\n" for u in uuids)
    declarations_import(data=("gpu_uuid,serial,licensed_end_user,site,license_number\n" + rows).encode(),
                        source_name=f"{cluster.name}.csv")


def test_planted_cases_are_found_and_honest_hosts_are_left_alone(fleet):
    # --- honest: three organizations, four countries, nine profiles ------------------------
    acme = fleet.org("Acme Compute SG", "SG", parent=fleet.org("Acme Holdings", "US"))
    sg = fleet.site(acme, "SG-1", "SG")
    honest = [fleet.cluster(sg, "sg-train"), fleet.cluster(sg, "sg-infer", purpose=Cluster.Purpose.INFERENCE)]
    berlin = fleet.org("Berlin AI GmbH", "DE")
    honest.append(fleet.cluster(fleet.site(berlin, "FRA-1", "DE"), "fra-train"))
    tokyo = fleet.org("Tokyo Render KK", "JP")
    honest.append(fleet.cluster(fleet.site(tokyo, "TYO-1", "JP"), "tyo-mixed", purpose=Cluster.Purpose.MIXED))
    for cluster, profiles in zip(honest, [("hgx-h100", "hgx-h800"), ("l40s", "l20"), ("hgx-b200", "hgx-a100"),
                                          ("rtx-4090", "hgx-h200")]):
        for profile in profiles:
            node = fleet.node(cluster, f"{cluster.name}-{profile}")
            snapshot = node.profile(profile)
            if cluster.name == "tyo-mixed":
                declare(cluster, uuids_of(snapshot))  # an operator that declares, with everything declared
            node.report(snapshot, when=days_ago(1))
            node.report(snapshot)

    # --- planted: each in a cluster of its own -----------------------------------------------
    planters = fleet.org("Planted Ops", "SG", parent=fleet.org("Planted Holdings", "US"))
    site = fleet.site(planters, "SG-P", "SG")

    def planted(name, **kwargs):
        return fleet.node(fleet.cluster(kwargs.pop("site", site), name, **kwargs), name)

    unlocked = planted("unlocked-h800")
    unlocked.report(unlock_nvlinks(unlocked.profile("hgx-h800")))
    renamed = planted("h100-named-h20")
    renamed.report(answer(renamed.profile("hgx-h100"), "nvmlDeviceGetName", "NVIDIA H20"))
    licensed, clone = planted("licensed"), planted("clone", site=fleet.site(planters, "MY-P", "MY"))
    cloned = licensed.profile("hgx-h100")
    licensed.report(cloned)
    clone.report(cloned)
    licensed.report(cloned)
    mover_from, mover_to = planted("mover-from"), planted("mover-to", site=fleet.site(planters, "CN-P", "CN"))
    moved = mover_from.profile("hgx-h100")
    mover_from.report(moved, when=days_ago(3))
    mover_to.report(moved)
    parented = fleet.org("Far Compute SG", "SG", parent=fleet.org("Far Holdings", "CN"))
    fleet.node(fleet.cluster(fleet.site(parented, "SG-F", "SG"), "far"), "far").report("hgx-h100")
    versions = planted("versions")
    versions.report(answer(versions.profile("hgx-h100"), "nvmlSystemGetNVMLVersion", "12.535.183.01"))
    declaring = fleet.org("Declaring Ops", "SG")  # its own operator: a declaring one checks every GPU it has
    silent = planted("silent", site=fleet.site(declaring, "SG-D", "SG"), operator=declaring)
    gone = silent.profile("hgx-h800")
    with at(days_ago(6)):
        declare(silent.host.cluster, uuids_of(gone))
    silent.report(gone, when=days_ago(5))
    fabric_a, fabric_b = planted("fabric-a"), planted("fabric-b")
    domain = fabric_a.profile("hgx-b200")
    fabric_a.report(domain)
    fabric_b.report(share_fabric(fabric_b.profile("hgx-b200"), domain))

    run_detectors(host_ids=None)

    found = {(f.kind, f.subject_type, f.subject_id) for f in Finding.objects.all()}
    host, cluster = "host", "cluster"
    assert found == {
        ("identity", host, unlocked.host.id),
        ("identity", host, renamed.host.id),
        # The clone's reports never take the licensed host's GPU rows (inventory/services/gpu_rows.py),
        # so there is no move to judge, only the duplicate.
        ("duplicate_identity.uuid", host, clone.host.id),
        ("relocation", cluster, mover_to.host.cluster_id),
        # Licence required and none on record (raised with the score): the Chinese-parented
        # cluster in Singapore, and the H100s now reporting from China.
        ("licence_gap", cluster, Cluster.objects.get(name="far").id),
        ("licence_gap", cluster, mover_to.host.cluster_id),
        ("telemetry_integrity.version_mismatch", host, versions.host.id),
        ("vanished_undeclared.silent", host, silent.host.id),
        ("aggregation.fabric", cluster, fabric_a.host.cluster_id),
    }
    assert not Finding.objects.filter(cluster__in=honest).exists()
    assert all(f.evidence["observation_ids"] for f in Finding.objects.all())

    # Re-running the fleet raises nothing new: every finding still seen counts one more occurrence.
    detected = Finding.objects.exclude(kind="licence_gap")  # raised by scoring, not by the detectors
    seen = dict(detected.values_list("dedup_key", "occurrences"))
    run_detectors(host_ids=None)
    again = dict(detected.values_list("dedup_key", "occurrences"))
    assert again == {key: count + 1 for key, count in seen.items()}
