"""Read API under /api/v1/o/<org_slug>/: every queryset is scoped through OrgScopedViewSet."""

from __future__ import annotations

from functools import cached_property

from rest_framework import viewsets

from catalog.api.serializers import AssetSerializer, RunSerializer, WorkloadSerializer
from catalog.filters import AssetFilterSet, RunFilterSet, WorkloadFilterSet
from catalog.models import Asset, AssetKind, Run, Workload
from orgs.models import Organization, org_for_request


class OrgScopedViewSet(viewsets.ReadOnlyModelViewSet):
    """Resolves the org from the URL (404 unless the user belongs to it) and scopes every query to it."""

    model: type
    extra_filter: dict = {}
    select_related: tuple[str, ...] = ()

    @cached_property
    def org(self) -> Organization:
        return org_for_request(self.request.user, self.kwargs["org_slug"])

    def get_queryset(self):
        return self.model.objects.in_org(self.org).filter(**self.extra_filter).select_related(*self.select_related)


class DatasetViewSet(OrgScopedViewSet):
    model = Asset
    extra_filter = {"kind": AssetKind.DATASET}
    select_related = ("cloud", "project")
    serializer_class = AssetSerializer
    filterset_class = AssetFilterSet


class ModelViewSet(DatasetViewSet):
    extra_filter = {"kind": AssetKind.MODEL}


class WorkloadViewSet(OrgScopedViewSet):
    model = Workload
    select_related = ("cloud", "project")
    serializer_class = WorkloadSerializer
    filterset_class = WorkloadFilterSet


class RunViewSet(OrgScopedViewSet):
    model = Run
    select_related = ("job",)
    serializer_class = RunSerializer
    filterset_class = RunFilterSet
