"""FilterSets shared by the read API (and, later, the HTML list pages)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q

from catalog.models import Asset, Run, Workload


class _CreatedFilters(filters.FilterSet):
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    cloud = filters.NumberFilter(field_name="cloud_id")
    project = filters.NumberFilter(field_name="project_id")


class AssetFilterSet(_CreatedFilters):
    q = filters.CharFilter(method="search", label="Name contains")
    type = filters.CharFilter(field_name="dataset_type", lookup_expr="iexact")
    created_by = filters.CharFilter(method="by_creator", label="Created by (email, or 'me')")

    class Meta:
        model = Asset
        fields = ["q", "type", "created_by", "cloud", "project", "created_after", "created_before"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(namespace__icontains=value))

    def by_creator(self, queryset, name, value):
        if value == "me":
            value = getattr(self.request.user, "email", "") or ""
        return queryset.filter(created_by__iexact=value)


class WorkloadFilterSet(_CreatedFilters):
    q = filters.CharFilter(field_name="name", lookup_expr="icontains")
    type = filters.CharFilter(field_name="kind")
    status = filters.CharFilter(field_name="status", lookup_expr="iexact")
    created_by = filters.CharFilter(method="by_creator")

    class Meta:
        model = Workload
        fields = ["q", "type", "status", "created_by", "cloud", "project", "created_after", "created_before"]

    def by_creator(self, queryset, name, value):
        if value == "me":
            value = getattr(self.request.user, "email", "") or ""
        return queryset.filter(owner_email__iexact=value)


class RunFilterSet(filters.FilterSet):
    workload = filters.NumberFilter(field_name="workload_id")
    state = filters.CharFilter(field_name="state")

    class Meta:
        model = Run
        fields = ["workload", "state"]
