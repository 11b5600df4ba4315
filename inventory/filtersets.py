"""django-filter sets for the inventory read API and the officer UI.

Related objects are filtered by plain id (`NumberFilter`), never by ModelChoiceFilter:
validating an id against the whole table would answer differently for an id that exists
in another tenant's fleet and one that does not.
"""
from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField, RangeField
from django_filters.widgets import DateRangeWidget

from .models import Cluster, Gpu, Host, Observation, Organization, Site
from .selectors import organization_family_ids


class BigIntegerFormField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilter(django_filters.NumberFilter):
    """An integer id (within bigint), without an existence check (see module docstring)."""

    field_class = BigIntegerFormField


class PlausibleIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, refused (400) when PostgreSQL would refuse it: offsets beyond ±14 h, years outside 1900-9999."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and (abs(value.utcoffset() or timedelta()) > timedelta(hours=14)
                                  or not 1900 <= value.year <= 9999):
            raise forms.ValidationError("not a plausible timestamp", code="invalid")
        return value


class PlausibleIsoDateTimeRangeField(RangeField):
    widget = DateRangeWidget  # `_after` / `_before`

    def __init__(self, *args, **kwargs):
        super().__init__((PlausibleIsoDateTimeField(), PlausibleIsoDateTimeField()), *args, **kwargs)


class DateTimeRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """`<name>_after` / `<name>_before`, ISO 8601."""

    field_class = PlausibleIsoDateTimeRangeField


class FamilyFilter(IdFilter):
    """Rows belonging to the whole family (ultimate parent and below) of the organization with this id."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        return qs.filter(**{f"{self.field_name}__in": organization_family_ids([value])})


class SearchFilter(django_filters.CharFilter):
    """Case-insensitive substring over several fields (`search_fields`)."""

    def __init__(self, *args, search_fields: tuple[str, ...], **kwargs):
        kwargs.setdefault("label", "Search")
        super().__init__(*args, **kwargs)
        self.search_fields = search_fields

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return qs.filter(condition)


class OrganizationFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("name", "aliases"))
    parent = IdFilter(field_name="parent_id")
    family = FamilyFilter(field_name="id", label="Organization family (any member's id)")

    class Meta:
        model = Organization
        fields = {"kind": ["exact"], "headquarters_country": ["exact"], "country_of_incorporation": ["exact"],
                  "provenance": ["exact"]}


class SiteFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("name", "city"))
    organization = IdFilter(field_name="organization_id")
    family = FamilyFilter(field_name="organization_id", label="Organization family (any member's id)")

    class Meta:
        model = Site
        fields = {"country": ["exact"], "provenance": ["exact"]}


class ClusterFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("name", "site__name", "operator__name"))
    site = IdFilter(field_name="site_id")
    operator = IdFilter(field_name="operator_id")
    family = FamilyFilter(field_name="operator_id", label="Operator's organization family (any member's id)")
    country = django_filters.CharFilter(field_name="site__country", label="Site country (ISO 3166-1 alpha-2)")

    class Meta:
        model = Cluster
        fields = {"declared_purpose": ["exact"], "provenance": ["exact"]}


class HostFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("hostname", "machine_id"))
    cluster = IdFilter(field_name="cluster_id")
    last_seen = DateTimeRangeFilter()

    class Meta:
        model = Host
        fields = {"nvml_ok": ["exact"], "driver_version": ["exact"], "provenance": ["exact"]}


class GpuFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("uuid", "serial", "name"))
    host = IdFilter(field_name="host_id")
    cluster = IdFilter(field_name="host__cluster_id")
    last_seen = DateTimeRangeFilter()

    class Meta:
        model = Gpu
        fields = {"name": ["exact"], "pci_device_id": ["exact"], "nvlink_version": ["exact"],
                  "provenance": ["exact"]}


class ObservationFilterSet(django_filters.FilterSet):
    host = IdFilter(field_name="host_id")
    cluster = IdFilter(field_name="host__cluster_id")
    agent = django_filters.UUIDFilter(field_name="agent_id")
    collected_at = DateTimeRangeFilter()

    class Meta:
        model = Observation
        fields = {"signature_status": ["exact"], "synthetic": ["exact"], "full_identity": ["exact"]}
