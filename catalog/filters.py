"""FilterSets shared by the HTML list pages and the read API: one per list, so a bookmarked page URL
and an API query with the same parameters select the same rows.

Every FilterSet takes the organization (`org=`): the cloud and project choices are that org's
only, so a dropdown never lists another tenant's clouds and another org's cloud id is refused as
an invalid choice rather than silently ignored.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters as filters
from django import forms
from django.db import connection
from django.db.models import F, Func, Model, QuerySet, TextField
from django.db.models.expressions import Col
from django.db.models.lookups import Exact
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from catalog.graph import edge_members
from catalog.models import Asset, Direction, Run, Workload, WorkloadAsset, WorkloadKind
from clouds.models import Cloud, Project
from orgs.models import Organization

SORTS = (("name", "Name (A-Z)"), ("-name", "Name (Z-A)"), ("created_at", "Oldest first"), ("-created_at", "Newest first"))


def values_present(model: type[Model], org: Organization, column: str, **equal: str) -> list[str]:
    """The distinct non-empty values of `column` among the org's rows (for a filter dropdown).

    A plain DISTINCT reads every row of the org (20 ms for 186k datasets); this "loose index scan"
    jumps from one value to the next through an index on (org, <equal columns>, column), so it costs
    one index probe per distinct value. Works on PostgreSQL and SQLite.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    col = connection.ops.quote_name(model._meta.get_field(column).column)
    conds = " AND ".join([f"{connection.ops.quote_name('org_id')} = %s"]
                         + [f"{connection.ops.quote_name(model._meta.get_field(k).column)} = %s" for k in equal])
    values = [org.pk, *equal.values()]
    # Identifiers come from the model's own metadata (get_field refuses unknown names), quoted; values
    # are parameters.
    sql = (
        f"WITH RECURSIVE v(x) AS ("  # noqa: S608
        f" SELECT * FROM (SELECT {col} FROM {table} WHERE {conds} ORDER BY {col} LIMIT 1) AS first"
        f" UNION ALL"
        f" SELECT (SELECT {col} FROM {table} WHERE {conds} AND {col} > v.x ORDER BY {col} LIMIT 1) FROM v"
        f" WHERE v.x IS NOT NULL"
        f") SELECT x FROM v WHERE x IS NOT NULL AND x <> ''"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values + values)
        return [row[0] for row in cursor.fetchall()]


class DateOrDateTimeField(forms.DateTimeField):
    """Accepts an ISO date (`2026-11-01`, what `<input type=date>` sends) or an ISO date-time.
    Remembers which, so a bare date can mean the whole day."""

    def to_python(self, value):
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                day = date.fromisoformat(value.strip())
            except ValueError:
                raise forms.ValidationError("Enter a date (YYYY-MM-DD) or an ISO date-time.", code="invalid") from None
            return _DayStart.of(day)
        return super().to_python(value)


class _DayStart(datetime):
    """Midnight (UTC) of a date given without a time."""

    @classmethod
    def of(cls, day: date) -> _DayStart:
        start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())
        return cls(start.year, start.month, start.day, tzinfo=start.tzinfo)


@extend_schema_field(OpenApiTypes.STR)
class CreatedFilter(filters.Filter):
    """created_at bound. `created_before=<date>` includes that whole day; a date-time is exact."""

    field_class = DateOrDateTimeField

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        if isinstance(value, _DayStart) and self.lookup_expr == "lt":
            value = value + timedelta(days=1)
        return qs.filter(**{f"{self.field_name}__{self.lookup_expr}": value})


class _ScopeKey(Func):
    """`(org_id)::text || ':' || (kind)::text`: columns as text, joined by colons, written as
    migration 0018 writes its index expressions (PostgreSQL matches an expression by its form)."""

    arg_joiner = " || ':' || "
    template = "(%(expressions)s)"
    output_field = TextField()

    def __init__(self, columns: tuple[str, ...]):
        super().__init__(*[Func(F(c), template="(%(expressions)s)::text", output_field=TextField()) for c in columns])


def search_scope(queryset: QuerySet, columns: tuple[str, ...]) -> tuple[_ScopeKey, str] | None:
    """The scope key expression of a search of `queryset` and its value, read from the queryset's
    own equality conditions on `columns` (in_org's organization, the list's kind); None elsewhere
    than on PostgreSQL or if a column is not fixed by one."""
    if connection.vendor != "postgresql":
        return None
    fixed = {c.lhs.target.column: c.rhs for c in queryset.query.where.children
             if isinstance(c, Exact) and isinstance(c.lhs, Col) and isinstance(c.rhs, int | str)}
    if not all(c in fixed for c in columns):
        return None
    return _ScopeKey(columns), ":".join(str(fixed[c]) for c in columns)


class CatalogFilterSet(filters.FilterSet):
    """What every catalog list filters on: creator (an email or `me`), cloud, project, created range."""

    created_by = filters.CharFilter(method="by_creator", label="Created by",
                                    help_text="An email address, or `me`.")
    cloud = filters.ModelChoiceFilter(queryset=Cloud.objects.none(), label="Cloud")
    project = filters.ModelChoiceFilter(queryset=Project.objects.none(), label="Project")
    created_after = CreatedFilter(field_name="created_at", lookup_expr="gte", label="Created from",
                                  help_text="ISO date (inclusive) or date-time.")
    created_before = CreatedFilter(field_name="created_at", lookup_expr="lt", label="Created until",
                                   help_text="ISO date (that whole day included) or date-time (exclusive).")
    sort = filters.ChoiceFilter(choices=SORTS, method="sort_by", label="Sort", empty_label="Newest first")

    creator_field = "created_by"
    # What a search's scope key is made of (migration 0018's index expressions): assets by
    # organization and kind, every asset list being of one kind.
    scope_columns: tuple[str, ...] = ("org_id", "kind")

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, org: Organization | None = None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.org = org
        # Scoped choices: built per request, never from another org.
        self.filters["cloud"].queryset = Cloud.objects.in_org(org) if org else Cloud.objects.none()
        self.filters["project"].queryset = (
            Project.objects.in_org(org).select_related("cloud") if org else Project.objects.none()
        )

    def _edges(self) -> QuerySet:
        return WorkloadAsset.objects.in_org(self.org) if self.org else WorkloadAsset.objects.none()

    def by_creator(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.strip().lower() == "me":
            value = getattr(self.request.user, "email", "") if self.request else ""
        # iexact compiles to UPPER(col) = UPPER(%s); the models index UPPER(col) for it.
        return queryset.filter(**{f"{self.creator_field}__iexact": value.strip()})

    def by_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """`q`: a case-insensitive substring of the filter's field (`name`, its field_name), and on
        PostgreSQL the search's scope key, so that the search index reads this organization's
        matches only (catalog migration 0018)."""
        queryset = queryset.filter(**{f"{name}__icontains": value})
        scope = search_scope(queryset, self.scope_columns)
        return queryset if scope is None else queryset.alias(search_scope=scope[0]).filter(search_scope=scope[1])

    def sort_by(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # A unique tie-breaker keeps pages stable when many rows share a name or a time.
        tie = "-id" if value.startswith("-") else "id"
        return queryset.order_by(value, tie)


class AssetFilterSet(CatalogFilterSet):
    """Datasets and models."""

    q = filters.CharFilter(field_name="uri", method="by_text", label="Name or URI contains")
    type = filters.CharFilter(field_name="dataset_type", lookup_expr="iexact", label="Type")
    read_by = filters.NumberFilter(method="by_workload_edge", label="Read by workload (id)")
    written_by = filters.NumberFilter(method="by_workload_edge", label="Written by workload (id)")

    class Meta:
        model = Asset
        fields = ["q", "type", "created_by", "cloud", "project", "created_after", "created_before",
                  "read_by", "written_by", "sort"]

    def by_workload_edge(self, queryset: QuerySet, name: str, value) -> QuerySet:
        direction = Direction.INPUT if name == "read_by" else Direction.OUTPUT
        edges = self._edges().filter(workload_id=value, direction=direction)
        return queryset.filter(pk__in=edge_members(edges, "asset_id"))


class WorkloadFilterSet(CatalogFilterSet):
    q = filters.CharFilter(field_name="name", method="by_text", label="Name contains")
    type = filters.ChoiceFilter(field_name="kind", choices=WorkloadKind.choices, label="Type", empty_label="Any type")
    status = filters.CharFilter(field_name="status", lookup_expr="iexact", label="Status")
    reads = filters.NumberFilter(method="by_asset_edge", label="Reads asset (id)")
    writes = filters.NumberFilter(method="by_asset_edge", label="Writes asset (id)")

    creator_field = "owner_email"
    scope_columns = ("org_id",)

    class Meta:
        model = Workload
        fields = ["q", "type", "status", "created_by", "cloud", "project", "created_after", "created_before",
                  "reads", "writes", "sort"]

    def by_asset_edge(self, queryset: QuerySet, name: str, value) -> QuerySet:
        direction = Direction.INPUT if name == "reads" else Direction.OUTPUT
        edges = self._edges().filter(asset_id=value, direction=direction)
        return queryset.filter(pk__in=edge_members(edges, "workload_id"))


class RunFilterSet(filters.FilterSet):
    workload = filters.NumberFilter(field_name="workload_id")
    state = filters.CharFilter(field_name="state")

    class Meta:
        model = Run
        fields = ["workload", "state"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, org: Organization | None = None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.org = org
