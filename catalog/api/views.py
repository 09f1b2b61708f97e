"""Read API under /api/v1/o/<org_slug>/: every queryset is scoped through OrgScopedViewSet (or
OrgScopedView), and lists filter with the same FilterSets as the pages."""

from __future__ import annotations

from functools import cached_property

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import graph
from catalog.api.serializers import (
    AssetSerializer,
    GraphQuerySerializer,
    GraphSerializer,
    ImpactQuerySerializer,
    ImpactRowSerializer,
    RunSerializer,
    SchemaVersionSerializer,
    WorkloadSerializer,
)
from catalog.filters import AssetFilterSet, RunFilterSet, WorkloadFilterSet
from catalog.models import Asset, AssetKind, Run, SchemaVersion, Workload
from catalog.pagination import DeepPaginator
from orgs.models import Organization, org_for_request


class CatalogPagination(PageNumberPagination):
    """Page pagination with counts: `page`, `per_page` (1-100, default 25). `estimated` is true
    when `count` (and `pages`) is PostgreSQL's estimate: a name search with too many matches to count
    quickly (catalog.pagination); `next` is then absent where the rows end."""

    django_paginator_class = DeepPaginator
    page_size = 25
    page_size_query_param = "per_page"
    max_page_size = 100

    def get_paginated_response(self, data):
        return Response({
            "count": self.page.paginator.count,
            "estimated": getattr(self.page.paginator, "estimated", False),
            "page": self.page.number,
            "pages": self.page.paginator.num_pages,
            "per_page": self.page.paginator.per_page,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        base = super().get_paginated_response_schema(schema)
        base["properties"].update({"page": {"type": "integer"}, "pages": {"type": "integer"},
                                   "per_page": {"type": "integer"}, "estimated": {"type": "boolean"}})
        return base


class OrgFilterBackend(DjangoFilterBackend):
    """Hands the view's organization to the FilterSet, which scopes its cloud and project choices."""

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        if getattr(view, "swagger_fake_view", False):
            return kwargs
        return {**kwargs, "org": view.org}


class OrgScoped:
    """Resolves the org from the URL: 404 unless the user belongs to it (or is staff)."""

    @cached_property
    def org(self) -> Organization:
        return org_for_request(self.request.user, self.kwargs["org_slug"])


class OrgScopedViewSet(OrgScoped, viewsets.ReadOnlyModelViewSet):
    """Scopes every query to the org in the URL."""

    model: type
    extra_filter: dict = {}
    select_related: tuple[str, ...] = ()
    filter_backends = [OrgFilterBackend]
    pagination_class = CatalogPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no org
            return self.model.objects.none()
        return self.model.objects.in_org(self.org).filter(**self.extra_filter).select_related(*self.select_related)

    def _page(self, queryset: QuerySet, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True, context=self.get_serializer_context()).data)


class DatasetViewSet(OrgScopedViewSet):
    model = Asset
    extra_filter = {"kind": AssetKind.DATASET}
    select_related = ("cloud", "project")
    serializer_class = AssetSerializer
    filterset_class = AssetFilterSet

    @extend_schema(responses=WorkloadSerializer(many=True), filters=False)
    @action(detail=True)
    def upstream(self, request, org_slug, pk=None):
        """Workloads that produced (wrote) this asset."""
        return self._related(graph.UPSTREAM)

    @extend_schema(responses=WorkloadSerializer(many=True), filters=False)
    @action(detail=True)
    def downstream(self, request, org_slug, pk=None):
        """Workloads that consumed (read) this asset."""
        return self._related(graph.DOWNSTREAM)

    @extend_schema(responses=SchemaVersionSerializer(many=True), filters=False)
    @action(detail=True, url_path="schema-versions")
    def schema_versions(self, request, org_slug, pk=None):
        """Every distinct schema the asset was seen with, oldest first."""
        asset = self.get_object()
        return self._page(SchemaVersion.objects.filter(asset=asset).order_by("first_seen_at", "id"),
                          SchemaVersionSerializer)

    def _related(self, side: str) -> Response:
        asset = self.get_object()
        qs = graph.related_workloads(self.org, asset, side).select_related("cloud", "project").order_by("-created_at", "-id")
        return self._page(qs, WorkloadSerializer)


class ModelViewSet(DatasetViewSet):
    extra_filter = {"kind": AssetKind.MODEL}


class WorkloadViewSet(OrgScopedViewSet):
    model = Workload
    select_related = ("cloud", "project")
    serializer_class = WorkloadSerializer
    filterset_class = WorkloadFilterSet

    @extend_schema(responses=AssetSerializer(many=True), filters=False)
    @action(detail=True)
    def upstream(self, request, org_slug, pk=None):
        """Assets this workload read."""
        return self._related(graph.UPSTREAM)

    @extend_schema(responses=AssetSerializer(many=True), filters=False)
    @action(detail=True)
    def downstream(self, request, org_slug, pk=None):
        """Assets this workload wrote."""
        return self._related(graph.DOWNSTREAM)

    @extend_schema(responses=RunSerializer(many=True), filters=False)
    @action(detail=True)
    def runs(self, request, org_slug, pk=None):
        """The workload's OpenLineage runs, newest first."""
        workload = self.get_object()
        qs = Run.objects.in_org(self.org).filter(workload=workload).select_related("job").order_by("-created_at", "-id")
        return self._page(qs, RunSerializer)

    def _related(self, side: str) -> Response:
        workload = self.get_object()
        qs = graph.related_assets(self.org, workload, side).select_related("cloud", "project").order_by("-created_at", "-id")
        return self._page(qs, AssetSerializer)


class RunViewSet(OrgScopedViewSet):
    model = Run
    select_related = ("job",)
    serializer_class = RunSerializer
    filterset_class = RunFilterSet


class GraphView(OrgScoped, APIView):
    """The lineage graph around a node (bounded by depth, limit and per_node; `truncated` says when
    a bound cut it short)."""

    @extend_schema(parameters=[GraphQuerySerializer], responses=GraphSerializer)
    def get(self, request, org_slug):
        params = GraphQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        # The org is looked up inside the graph's own statement (RequestOrg: the same rule as self.org).
        data = graph.graph(graph.RequestOrg(request.user, org_slug), p["node"], direction=p["direction"],
                           depth=p["depth"], as_of=p.get("as_of"), limit=p["limit"], per_node=p["per_node"],
                           offset=p["offset"])
        return Response(GraphSerializer(data).data)


class ImpactView(OrgScoped, APIView):
    """Every workload and asset downstream (impact) or upstream (root cause) of a node, with its hop
    count; paginated; `truncated` says when the walk hit its limit."""

    pagination_class = CatalogPagination

    @extend_schema(parameters=[ImpactQuerySerializer], responses=inline_serializer("ImpactPage", {
        "count": serializers.IntegerField(), "page": serializers.IntegerField(),
        "pages": serializers.IntegerField(), "per_page": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True), "previous": serializers.CharField(allow_null=True),
        "truncated": serializers.BooleanField(), "results": ImpactRowSerializer(many=True),
    }))
    def get(self, request, org_slug):
        params = ImpactQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        paginator = self.pagination_class()
        size = paginator.get_page_size(request)
        try:
            start = max(int(request.query_params.get(paginator.page_query_param, 1)) - 1, 0) * size
        except ValueError:
            start = 0
        # The page asked for is read with the total, in one query (the paginator still validates it).
        # The org is looked up inside the impact statement (RequestOrg: the same rule as self.org).
        rows, truncated = graph.impact_rows(graph.RequestOrg(request.user, org_slug), p["node"],
                                            direction=p["direction"], depth=p["depth"],
                                            as_of=p.get("as_of"), limit=p["limit"], kind=p.get("kind", ""),
                                            q=p.get("q", ""), start=start, stop=start + size)
        page = paginator.paginate_queryset(rows, request, view=self)
        response = paginator.get_paginated_response(ImpactRowSerializer(page, many=True).data)
        response.data["truncated"] = truncated
        return response

