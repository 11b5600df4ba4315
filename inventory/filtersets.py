"""django-filter sets for the inventory read API and the officer UI.

Related objects are filtered by id or by name (`RefFilter`), never by ModelChoiceFilter:
validating an id against the whole table would answer differently for an id that exists
in another tenant's fleet and one that does not.  A name narrows the already-scoped rows
like any other condition, so it tells nothing about other tenants either.
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


class RefField(forms.CharField):
    """An id (digits, within bigint) or a name fragment."""

    def clean(self, value):
        value = super().clean(value)
        if value and value.isdigit() and int(value) > 2**63 - 1:
            raise forms.ValidationError("id out of range", code="invalid")
        return value


class RefFilter(django_filters.CharFilter):
    """A related object by id (`operator=12`) or by name, case-insensitively (`operator=northwind`).

    `lookup` names the autocomplete list the officer UI offers for it (compliance.web lookups).
    """

    field_class = RefField

    def __init__(self, *args, name_field: str, lookup: str, **kwargs):
        kwargs.setdefault("help_text", "id, or part of the name (case-insensitive)")
        kwargs.setdefault("widget", forms.TextInput(attrs={"list": f"lookup-{lookup}", "data-lookup": lookup,
                                                           "autocomplete": "off"}))
        super().__init__(*args, **kwargs)
        self.name_field = name_field

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        if value.isdigit():
            return qs.filter(**{self.field_name: int(value)})
        return qs.filter(**{f"{self.name_field}__icontains": value.strip()})


class CountryFilter(django_filters.CharFilter):
    """An ISO 3166-1 alpha-2 code in any case (`cn` is `CN`): codes are stored upper-case."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", "Country (ISO 3166-1 alpha-2)")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        return super().filter(qs, value.strip().upper() if value else value)


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


class FamilyFilter(RefFilter):
    """Rows belonging to the whole family (ultimate parent and below) of the organization with this id,
    or of the organizations whose name contains this text."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", "Organization family (any member's id or name)")
        super().__init__(*args, name_field="name", lookup="organizations", **kwargs)

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        if value.isdigit():
            members = [int(value)]
        else:
            members = list(Organization.objects.filter(name__icontains=value.strip()).values_list("id", flat=True))
        return qs.filter(**{f"{self.field_name}__in": organization_family_ids(members)})


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
    parent = RefFilter(field_name="parent_id", name_field="parent__name", lookup="organizations")
    family = FamilyFilter(field_name="id")
    headquarters_country = CountryFilter()
    country_of_incorporation = CountryFilter()

    class Meta:
        model = Organization
        fields = {"kind": ["exact"], "provenance": ["exact"]}


class SiteFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("name", "city"))
    organization = RefFilter(field_name="organization_id", name_field="organization__name", lookup="organizations")
    family = FamilyFilter(field_name="organization_id")
    country = CountryFilter()

    class Meta:
        model = Site
        fields = {"provenance": ["exact"]}


class ClusterFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("name", "site__name", "operator__name"))
    site = RefFilter(field_name="site_id", name_field="site__name", lookup="sites")
    operator = RefFilter(field_name="operator_id", name_field="operator__name", lookup="organizations")
    family = FamilyFilter(field_name="operator_id", label="Operator's organization family (any member's id or name)")
    country = CountryFilter(field_name="site__country", label="Site country (ISO 3166-1 alpha-2)")

    class Meta:
        model = Cluster
        fields = {"declared_purpose": ["exact"], "provenance": ["exact"]}


class HostFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("hostname", "machine_id"))
    cluster = RefFilter(field_name="cluster_id", name_field="cluster__name", lookup="clusters")
    last_seen = DateTimeRangeFilter()

    class Meta:
        model = Host
        fields = {"nvml_ok": ["exact"], "driver_version": ["exact"], "provenance": ["exact"]}


class GpuFilterSet(django_filters.FilterSet):
    q = SearchFilter(search_fields=("uuid", "serial", "name"))
    host = RefFilter(field_name="host_id", name_field="host__hostname", lookup="hosts")
    cluster = RefFilter(field_name="host__cluster_id", name_field="host__cluster__name", lookup="clusters")
    model = django_filters.CharFilter(field_name="classification__catalog_model", label="Catalog model")
    eccn = django_filters.CharFilter(field_name="classification__eccn", label="ECCN")
    paragraph = django_filters.CharFilter(field_name="classification__paragraph", label="ECCN paragraph")
    last_seen = DateTimeRangeFilter()

    class Meta:
        model = Gpu
        fields = {"name": ["exact"], "pci_device_id": ["exact"], "nvlink_version": ["exact"],
                  "provenance": ["exact"]}


class ObservationFilterSet(django_filters.FilterSet):
    host = RefFilter(field_name="host_id", name_field="host__hostname", lookup="hosts")
    cluster = RefFilter(field_name="host__cluster_id", name_field="host__cluster__name", lookup="clusters")
    agent = django_filters.UUIDFilter(field_name="agent_id")
    collected_at = DateTimeRangeFilter()

    class Meta:
        model = Observation
        fields = {"signature_status": ["exact"], "synthetic": ["exact"], "full_identity": ["exact"]}
