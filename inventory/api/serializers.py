"""Read serializers of the inventory API.  Related objects nest as brief {id, name} forms
(NetBox style) so a list page never needs a second request, nor a query per row."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Cluster, Gpu, Host, Observation, Organization, Site


class BriefOrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]


class BriefSiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "country"]


class BriefClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "name"]


class BriefHostSerializer(serializers.ModelSerializer):
    class Meta:
        model = Host
        fields = ["id", "hostname"]


class BriefGpuSerializer(serializers.ModelSerializer):
    class Meta:
        model = Gpu
        fields = ["id", "uuid"]


class OrganizationSerializer(serializers.ModelSerializer):
    parent = BriefOrganizationSerializer(read_only=True, allow_null=True)
    ultimate_parent_id = serializers.SerializerMethodField(help_text="Root of the ownership chain (itself if none)")

    class Meta:
        model = Organization
        fields = ["id", "name", "aliases", "kind", "country_of_incorporation", "headquarters_country", "parent",
                  "ultimate_parent_id", "provenance", "created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.INT)
    def get_ultimate_parent_id(self, organization) -> int:
        """Looked up in the map the view computed for the whole page (see OrganizationViewSet)."""
        return self.context["ultimate_parent_ids"][organization.pk]


class SiteSerializer(serializers.ModelSerializer):
    organization = BriefOrganizationSerializer(read_only=True)
    cluster_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Site
        fields = ["id", "name", "organization", "country", "city", "latitude", "longitude", "provenance",
                  "cluster_count"]


class ClusterSerializer(serializers.ModelSerializer):
    site = BriefSiteSerializer(read_only=True)
    operator = BriefOrganizationSerializer(read_only=True)
    host_count = serializers.IntegerField(read_only=True)
    gpu_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Cluster
        fields = ["id", "name", "site", "operator", "declared_purpose", "provenance", "host_count", "gpu_count"]


class HostSerializer(serializers.ModelSerializer):
    cluster = BriefClusterSerializer(read_only=True, allow_null=True)
    gpu_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Host
        fields = ["id", "hostname", "cluster", "machine_id", "boot_id", "os", "kernel", "driver_version",
                  "nvml_version", "cuda_driver_version", "nvml_ok", "nvml_error", "identity_sha256", "first_seen",
                  "last_seen", "last_observation", "provenance", "gpu_count"]


class GpuClassificationBriefSerializer(serializers.Serializer):
    """The GPU's current catalog match and classification (compliance.GpuClassification)."""

    catalog_model = serializers.CharField(read_only=True, help_text="'' when no catalog entry matches")
    eccn = serializers.CharField(read_only=True, help_text="'' when not 3A090/4A090")
    paragraph = serializers.CharField(read_only=True)
    rule = serializers.CharField(read_only=True)
    as_of = serializers.DateField(read_only=True)


class GpuSerializer(serializers.ModelSerializer):
    host = BriefHostSerializer(read_only=True, allow_null=True)
    cluster = BriefClusterSerializer(source="host.cluster", read_only=True, allow_null=True)
    classification = GpuClassificationBriefSerializer(read_only=True, allow_null=True,
                                                      help_text="null until the GPU is first evaluated")

    class Meta:
        model = Gpu
        fields = ["id", "uuid", "host", "cluster", "index", "name", "serial", "board_id", "multi_gpu_board",
                  "module_id", "pci_bus_id", "pci_device_id", "pci_vendor_id", "pci_subsystem_id",
                  "board_part_number", "vbios_version", "memory_total_bytes", "num_cores", "max_sm_clock_mhz",
                  "max_mem_clock_mhz", "power_limit_default_mw", "power_limit_max_mw", "mig_mode",
                  "active_nvlinks", "nvlink_version", "fabric_cluster_uuid", "fabric_clique_id", "first_seen",
                  "last_seen", "last_observation", "provenance", "classification"]


class ObservationSerializer(serializers.ModelSerializer):
    host = BriefHostSerializer(read_only=True)

    class Meta:
        model = Observation
        fields = ["id", "report_id", "agent", "host", "sequence", "collected_at", "received_at",
                  "clock_skew_seconds", "payload_sha256", "identity_sha256", "full_identity", "synthetic",
                  "signature_status", "provenance"]


class ObservationDetailSerializer(ObservationSerializer):
    """One report with its payload exactly as received (canonical JSON, hashed as payload_sha256)."""

    payload = serializers.JSONField(read_only=True)

    class Meta(ObservationSerializer.Meta):
        fields = ObservationSerializer.Meta.fields + ["payload"]
