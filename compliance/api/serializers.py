"""Read serializers of the compliance API, and the triage request."""
from django.contrib.auth import get_user_model
from rest_framework import serializers

from inventory.api.serializers import BriefClusterSerializer, BriefGpuSerializer, BriefOrganizationSerializer

from ..findings import TRANSITIONS
from ..models import ClusterScore, Finding, FindingEvent, GpuClassification


class BriefUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class GpuClassificationSerializer(serializers.ModelSerializer):
    gpu = BriefGpuSerializer(read_only=True)

    class Meta:
        model = GpuClassification
        fields = ["id", "gpu", "catalog_model", "match_basis", "eccn", "paragraph", "rule", "as_of",
                  "evaluated_at", "observation"]


class ClusterScoreSerializer(serializers.ModelSerializer):
    cluster = BriefClusterSerializer(read_only=True)
    figures = serializers.JSONField(read_only=True, help_text="Every figure, threshold and explained contribution")

    class Meta:
        model = ClusterScore
        fields = ["id", "cluster", "as_of", "rule", "gpu_count", "controlled_gpu_count", "aggregate_tpp",
                  "h100_equivalents", "risk_score", "figures", "content_sha256", "computed_at"]


class FindingSerializer(serializers.ModelSerializer):
    severity_label = serializers.CharField(source="get_severity_display", read_only=True)
    cluster = BriefClusterSerializer(read_only=True, allow_null=True)
    organization = BriefOrganizationSerializer(read_only=True, allow_null=True)
    assignee = BriefUserSerializer(read_only=True, allow_null=True)
    evidence = serializers.JSONField(read_only=True, help_text='{"observation_ids": [...], "figures": {...}}')

    class Meta:
        model = Finding
        fields = ["id", "kind", "severity", "severity_label", "subject_type", "subject_id", "cluster",
                  "organization", "title", "evidence", "citation", "status", "assignee", "first_seen", "last_seen",
                  "occurrences"]


class FindingEventSerializer(serializers.ModelSerializer):
    actor = BriefUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FindingEvent
        fields = ["id", "at", "actor", "from_status", "to_status", "note"]


class FindingDetailSerializer(FindingSerializer):
    """A finding with its whole history: every step, who took it, and the note they left."""

    events = FindingEventSerializer(many=True, read_only=True)

    class Meta(FindingSerializer.Meta):
        fields = FindingSerializer.Meta.fields + ["events"]


ASSIGNEE_REFUSED = "the assignee must be an officer or admin over this finding"


class TriageSerializer(serializers.Serializer):
    """One triage step.  The note and the assignee are mandatory: every step says why and who owns it now."""

    to_status = serializers.ChoiceField(choices=Finding.Status.choices, help_text="Allowed steps: " + "; ".join(
        f"{source} → {', '.join(sorted(targets))}" for source, targets in TRANSITIONS.items()))
    note = serializers.CharField(max_length=5000, help_text="Why this step (mandatory, kept in the history)")
    # One message for "no such user" and "a user outside this finding's families" (the view's check):
    # which ids exist elsewhere is none of the caller's business.
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        error_messages={"does_not_exist": ASSIGNEE_REFUSED, "incorrect_type": ASSIGNEE_REFUSED},
        help_text="Id of the officer who owns the finding after this step")
