"""Hosts, GPUs, observations and location checks: what the agents reported, and what identified it."""
import json

from django.db.models import Count, Max, Min, Q
from django.views.generic import DetailView, ListView

from inventory import filtersets as inventory_filtersets
from inventory import selectors as inventory_selectors
from inventory.models import Gpu, GpuSample, Host, Observation

from ...access.scope import ScopedQuerysetMixin
from ...models import Finding
from .base import GPU_SCOPE, HOST_SCOPE, OBSERVATION_SCOPE, FilteredListMixin, StaffRoleRequiredMixin

IDENTITY_HISTORY_ROWS = 2000


def identity_spans(observations) -> list[dict]:
    """Consecutive full-identity reports with the same identity hash folded into one span (oldest first)."""
    spans: list[dict] = []
    for obs in observations:
        if spans and spans[-1]["identity_sha256"] == obs["identity_sha256"]:
            span = spans[-1]
            span.update(last=obs["collected_at"], last_id=obs["id"], reports=span["reports"] + 1)
            span["signatures"].add(obs["signature_status"])
        else:
            spans.append({"identity_sha256": obs["identity_sha256"], "first": obs["collected_at"],
                          "last": obs["collected_at"], "first_id": obs["id"], "last_id": obs["id"], "reports": 1,
                          "synthetic": obs["synthetic"], "signatures": {obs["signature_status"]}})
    return spans


class HostListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = inventory_selectors.host_queryset().select_related("cluster").order_by("hostname", "id")
    filterset_class = inventory_filtersets.HostFilterSet
    scope_lookups = HOST_SCOPE
    row_annotations = inventory_selectors.HOST_COUNTS
    template_name = "web/host_list.html"


class HostDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = Host.objects.select_related("cluster", "cluster__site", "cluster__operator")
    scope_lookups = HOST_SCOPE
    template_name = "web/host_detail.html"

    def get_context_data(self, **kwargs):
        host = self.object
        history = list(Observation.objects.filter(host=host, full_identity=True).order_by("-collected_at", "-id")
                       .values("id", "collected_at", "identity_sha256", "signature_status", "synthetic")
                       [:IDENTITY_HISTORY_ROWS])[::-1]
        measurements = host.location_measurements.aggregate(n=Count("id"), last=Max("verified_at"))
        return super().get_context_data(
            gpus=Gpu.objects.filter(host=host).select_related("classification").order_by("index"),
            agents=host.agents.order_by("-enrolled_at"),
            identity_history=identity_spans(history)[::-1],
            history_capped=len(history) == IDENTITY_HISTORY_ROWS,
            recent_observations=(Observation.objects.filter(host=host).defer("payload")
                                 .order_by("-collected_at", "-id")[:20]),
            findings=Finding.objects.filter(subject_type=Finding.Subject.HOST, subject_id=host.pk)
            .select_related("assignee"),
            measurements=measurements,
            **kwargs)


class GpuListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = (inventory_selectors.gpu_queryset().select_related("classification")
                .order_by("host__hostname", "index", "uuid"))
    filterset_class = inventory_filtersets.GpuFilterSet
    scope_lookups = GPU_SCOPE
    template_name = "web/gpu_list.html"


class GpuDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = Gpu.objects.select_related("host", "host__cluster", "host__cluster__site", "classification",
                                          "last_observation")
    scope_lookups = GPU_SCOPE
    template_name = "web/gpu_detail.html"

    def get_context_data(self, **kwargs):
        gpu = self.object
        # Where this UUID was seen, host by host: its samples say which host reported it and when.
        seen_on = (GpuSample.objects.filter(gpu=gpu).values("host_id", "host__hostname", "host__cluster__name")
                   .annotate(first=Min("collected_at"), last=Max("collected_at"), reports=Count("id"))
                   .order_by("first"))
        return super().get_context_data(
            seen_on=seen_on,
            nvlinks=gpu.nvlinks.order_by("link_index"),
            findings=(Finding.objects.filter(Q(subject_type=Finding.Subject.GPU, subject_id=gpu.pk))
                      .select_related("assignee")),
            identity_json=json.dumps(gpu.identity, indent=2, sort_keys=True),
            **kwargs)


class ObservationDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = Observation.objects.select_related("host", "host__cluster", "agent")
    scope_lookups = OBSERVATION_SCOPE
    template_name = "web/observation_detail.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(payload_json=json.dumps(self.object.payload, indent=2, sort_keys=True),
                                        **kwargs)


class LocationListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, ListView):
    """Hosts some landmark has timed, newest measurement first; each opens its location verdict."""

    queryset = (Host.objects.filter(location_measurements__isnull=False).select_related("cluster", "cluster__site")
                .annotate(measurements=Count("location_measurements"),
                          last_measured=Max("location_measurements__verified_at"))
                .order_by("-last_measured", "hostname"))
    scope_lookups = HOST_SCOPE
    paginate_by = 50
    template_name = "web/location_list.html"
