"""django-filter sets for the compliance read API and the officer UI (findings list)."""
import django_filters
from django import forms
from django.db.models import Max, OuterRef, Subquery

from inventory.filtersets import DateTimeRangeFilter, FamilyFilter, IdFilter, RefFilter, SearchFilter

from .models import ClusterScore, Finding, GpuClassification


class GpuClassificationFilterSet(django_filters.FilterSet):
    gpu = IdFilter(field_name="gpu_id")
    cluster = IdFilter(field_name="gpu__host__cluster_id")
    as_of = django_filters.DateFromToRangeFilter()

    class Meta:
        model = GpuClassification
        fields = {"catalog_model": ["exact"], "eccn": ["exact"], "paragraph": ["exact"], "rule": ["exact"]}


class ClusterScoreFilterSet(django_filters.FilterSet):
    cluster = IdFilter(field_name="cluster_id")
    family = FamilyFilter(field_name="cluster__operator_id", label="Operator's organization family (any member's id)")
    as_of = django_filters.DateFromToRangeFilter()
    risk_score_min = django_filters.NumberFilter(field_name="risk_score", lookup_expr="gte")
    latest = django_filters.BooleanFilter(method="filter_latest", label="Only each cluster's most recent score")

    class Meta:
        model = ClusterScore
        fields = {"rule": ["exact"]}

    def filter_latest(self, queryset, name, value):
        if not value:
            return queryset
        newest = (ClusterScore.objects.filter(cluster_id=OuterRef("cluster_id")).order_by()
                  .values("cluster_id").annotate(newest=Max("as_of")).values("newest"))
        return queryset.filter(as_of=Subquery(newest))


SEVERITY_BY_LABEL = {label: str(value) for value, label in Finding.Severity.choices}


class SeverityField(forms.ChoiceField):
    """A severity by number (`50`) or by the label responses carry (`critical`, any case)."""

    def to_python(self, value):
        value = super().to_python(value)
        return SEVERITY_BY_LABEL.get(value.strip().lower(), value)


class SeveritiesField(forms.MultipleChoiceField):
    def to_python(self, value):
        return [SEVERITY_BY_LABEL.get(v.strip().lower(), v) for v in super().to_python(value)]


class SeverityFilter(django_filters.MultipleChoiceFilter):
    field_class = SeveritiesField


class SeverityAtLeastFilter(django_filters.ChoiceFilter):
    field_class = SeverityField


class FindingFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("title", "kind", "citation"))
    # Sized to their options: a multi-select shorter than its list hides choices behind a scrollbar.
    status = django_filters.MultipleChoiceFilter(choices=Finding.Status.choices, widget=forms.SelectMultiple(
        attrs={"size": len(Finding.Status.choices)}))
    severity = SeverityFilter(choices=Finding.Severity.choices, help_text="number or label, e.g. 50 or critical",
                              widget=forms.SelectMultiple(attrs={"size": len(Finding.Severity.choices)}))
    severity_min = SeverityAtLeastFilter(field_name="severity", lookup_expr="gte", choices=Finding.Severity.choices,
                                         label="Severity at least", help_text="number or label")
    cluster = RefFilter(field_name="cluster_id", name_field="cluster__name", lookup="clusters")
    organization = RefFilter(field_name="organization_id", name_field="organization__name", lookup="organizations")
    family = FamilyFilter(field_name="organization_id")
    assignee = RefFilter(field_name="assignee_id", name_field="assignee__username", lookup="officers")
    first_seen = DateTimeRangeFilter()
    last_seen = DateTimeRangeFilter()

    class Meta:
        model = Finding
        fields = {"kind": ["exact"], "subject_type": ["exact"], "subject_id": ["exact"]}
