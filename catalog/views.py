"""Catalog pages under /o/<org_slug>/: the Datasets, Models and Workloads lists, asset and workload
detail pages with their Lineage and Impact tabs.

Every view resolves the organization with `org_for_request` (404 unless the user belongs to it)
and reads through `in_org`; lists filter with the same FilterSets as the read API.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog import facets, graph
from catalog.filters import AssetFilterSet, CatalogFilterSet, WorkloadFilterSet, values_present
from catalog.models import Asset, AssetKind, Job, Run, SchemaVersion, Workload, WorkloadKind
from catalog.pagination import DeepPaginator
from orgs.models import Organization, org_for_request
from orgs.services import record

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25
RELATED_SHOWN = 25
RUNS_SHOWN = 50


# --- Lists -------------------------------------------------------------------------------------------


def querystring(params: QueryDict, **changes: str | None) -> str:
    """The current query with some parameters changed (None removes one); page resets unless given."""
    q = params.copy()
    if "page" not in changes:
        q.pop("page", None)
    for key, value in changes.items():
        if value is None:
            q.pop(key, None)
        else:
            q[key] = value
    encoded = q.urlencode()
    return f"?{encoded}" if encoded else "?"


def per_page(params: QueryDict) -> int:
    try:
        value = int(params.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        return DEFAULT_PER_PAGE
    return value if value in PER_PAGE_CHOICES else DEFAULT_PER_PAGE


@dataclass
class Chip:
    label: str
    value: str
    remove_url: str


@dataclass(frozen=True)
class ListSpec:
    section: str  # datasets | models | workloads
    title: str
    filterset: type[CatalogFilterSet]
    template: str
    detail: str  # the URL name of a row's page


def _filter_data(request: HttpRequest) -> QueryDict:
    """The filters as the URL states them; with no `created_by` at all, the list shows your own rows
    ("me" is the default chip; removing it leaves `created_by=` in the URL, meaning anyone)."""
    data = request.GET.copy()
    if "created_by" not in data:
        data["created_by"] = "me"
    return data


def _chips(request: HttpRequest, fs: CatalogFilterSet, data: QueryDict) -> list[Chip]:
    chips = []
    cleaned = fs.form.cleaned_data if fs.form.is_valid() else {}
    for name, f in fs.filters.items():
        raw = data.get(name, "")
        if name == "sort" or not raw:
            continue
        shown = raw
        if name in ("cloud", "project") and cleaned.get(name) is not None:
            shown = str(cleaned[name])
        elif isinstance(f.extra.get("choices"), list | tuple):
            shown = str(dict(f.extra["choices"]).get(raw, raw))
        # Removing the creator chip must survive the default: it becomes an explicit empty value.
        remove = querystring(request.GET, **{name: "" if name == "created_by" else None})
        if name == "cloud":
            remove = querystring(request.GET, cloud=None, project=None)
        chips.append(Chip(str(f.label), shown, remove))
    return chips


def _breadcrumb(request: HttpRequest, fs: CatalogFilterSet) -> list[tuple[str, str | None]]:
    cleaned = fs.form.cleaned_data if fs.form.is_valid() else {}
    cloud, project = cleaned.get("cloud"), cleaned.get("project")
    if project is not None and cloud is None:
        cloud = project.cloud
    crumbs: list[tuple[str, str | None]] = [("All clouds", querystring(request.GET, cloud=None, project=None))]
    if cloud is not None:
        crumbs.append((cloud.name, querystring(request.GET, cloud=str(cloud.pk), project=None)))
    if project is not None:
        crumbs.append((project.name, None))
    return crumbs


def _list_page(request: HttpRequest, org_slug: str, spec: ListSpec, queryset_for) -> HttpResponse:
    org = org_for_request(request.user, org_slug)
    data = _filter_data(request)
    fs = spec.filterset(data, queryset_for(org), request=request, org=org)
    rows = fs.qs if fs.is_valid() else fs.queryset.none()
    page = DeepPaginator(rows, per_page(request.GET)).get_page(request.GET.get("page"))
    page.object_list = _shown(list(page.object_list), org, spec.detail)
    projects = list(fs.filters["project"].queryset)
    selected_cloud = data.get("cloud", "")
    context = {
        "org": org, "section": spec.section, "title": spec.title, "spec": spec, "filterset": fs, "data": data,
        "page": page, "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "per_page": per_page(request.GET), "per_page_choices": PER_PAGE_CHOICES,
        "chips": _chips(request, fs, data), "breadcrumb": _breadcrumb(request, fs),
        "clouds": list(fs.filters["cloud"].queryset),
        "projects": [p for p in projects if not selected_cloud or str(p.cloud_id) == selected_cloud],
        "sort": data.get("sort", ""), "params": request.GET,
    }
    if spec.section == "workloads":
        context["kinds"] = WorkloadKind.choices
        context["statuses"] = values_present(Workload, org, "status")
    else:
        kind = AssetKind.MODEL if spec.section == "models" else AssetKind.DATASET
        context["types"] = values_present(Asset, org, "dataset_type", kind=kind)
    return render(request, spec.template, context)


def _shown(rows: list, org: Organization, detail: str) -> list:
    """The page's rows, each with what the list shows of it that the template would compute row by row:
    `url`, its page (one reverse() for the page), and `created`, its creation time as the lists show it.
    `{% url %}` and `|date` cost ~0.1 ms each a row: ~20 ms of a page of 100."""
    head, tail = reverse(detail, kwargs={"org_slug": org.slug, "pk": 0}).rsplit("/0/", 1)
    for row in rows:
        row.url = f"{head}/{row.pk}/{tail}"
        row.created = timezone.localtime(row.created_at).strftime("%Y-%m-%d %H:%M")
    return rows


# Only the columns a list shows: attrs (facets, schemas) can be large, and an asset list shows
# neither its cloud nor its project (joining them built two more objects a row).
def _datasets(org: Organization) -> QuerySet:
    return Asset.objects.in_org(org).filter(kind=AssetKind.DATASET) \
        .only("name", "dataset_type", "uri", "created_at", "created_by")


def _models(org: Organization) -> QuerySet:
    return Asset.objects.in_org(org).filter(kind=AssetKind.MODEL) \
        .only("name", "uri", "created_at", "created_by").annotate(
            model_id=KT("attrs__facet:mlflowModel__modelId"),
            flavor=KT("attrs__facet:mlflowModel__flavor"),
            registered_name=KT("attrs__facet:mlflowModel__registeredName"),
            registered_version=KT("attrs__facet:mlflowModel__registeredVersion"),
        )


def _workloads(org: Organization) -> QuerySet:
    return Workload.objects.in_org(org).select_related("cloud", "project").defer("attrs", "stamps")


DATASETS = ListSpec("datasets", "Datasets", AssetFilterSet, "catalog/dataset_list.html", "catalog:dataset_detail")
MODELS = ListSpec("models", "Models", AssetFilterSet, "catalog/model_list.html", "catalog:model_detail")
WORKLOADS = ListSpec("workloads", "Workloads", WorkloadFilterSet, "catalog/workload_list.html",
                     "catalog:workload_detail")


@login_required
def dataset_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _list_page(request, org_slug, DATASETS, _datasets)


@login_required
def model_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _list_page(request, org_slug, MODELS, _models)


@login_required
def workload_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _list_page(request, org_slug, WORKLOADS, _workloads)


# --- Asset detail ------------------------------------------------------------------------------------


def _asset(request: HttpRequest, org_slug: str, pk: int, kind: str) -> tuple[Organization, Asset]:
    org = org_for_request(request.user, org_slug)
    asset = get_object_or_404(Asset.objects.in_org(org).filter(kind=kind).select_related("cloud", "project"), pk=pk)
    asset.label = graph.asset_label(asset)
    return org, asset


def _section(kind: str) -> str:
    return "models" if kind == AssetKind.MODEL else "datasets"


def _related_workloads(org: Organization, asset: Asset, side: str) -> dict:
    qs = graph.related_workloads(org, asset, side).select_related("cloud", "project").defer("attrs", "stamps")
    # The first page as the lists read it: a hub's 5 000 readers are not all joined to their clouds
    # and projects to show 25 of them.
    first = DeepPaginator(qs.order_by("-created_at", "-id"), RELATED_SHOWN).page(1)
    param = "writes" if side == graph.UPSTREAM else "reads"
    return {"rows": list(first), "total": first.paginator.count,
            "all_url": reverse("catalog:workload_list", kwargs={"org_slug": org.slug})
            + f"?created_by=&{param}={asset.pk}"}


def _schema_history(asset: Asset) -> list[dict]:
    versions = list(SchemaVersion.objects.filter(asset=asset).order_by("first_seen_at", "id")[:50])
    history = []
    previous = None
    for i, v in enumerate(versions, start=1):
        change = facets.schema_change(previous.fields, v.fields) if previous is not None else None
        history.append({"number": i, "first_seen_at": v.first_seen_at, "fields": len(facets.flatten(v.fields)),
                        "change": change})
        previous = v
    history.reverse()  # newest first
    return history


def _asset_detail(request: HttpRequest, org_slug: str, pk: int, kind: str) -> HttpResponse:
    org, asset = _asset(request, org_slug, pk, kind)
    fc = asset.facets
    lineage_rows = facets.column_lineage(fc.get("columnLineage"))
    linked = graph.assets_named(org, [(r.namespace, r.name) for r in lineage_rows])
    shown = {"schema", "columnLineage", "storage", "symlinks", "mlflowModel", "dataSource", "datasetType"}
    context = {
        "org": org, "section": _section(kind), "asset": asset, "tab": "overview",
        "schema": facets.schema_rows(asset.schema_fields),
        "schema_history": _schema_history(asset),
        "column_lineage": [(r, linked.get((r.namespace, r.name))) for r in lineage_rows],
        "storage": facets.flat_pairs(fc.get("storage")),
        "data_source": facets.flat_pairs(fc.get("dataSource")),
        "data_source_url": facets.http_url((fc.get("dataSource") or {}).get("uri")
                                           if isinstance(fc.get("dataSource"), dict) else ""),
        "symlinks": facets.symlinks(fc.get("symlinks")),
        "mlflow": facets.mlflow_summary(fc.get("mlflowModel")),
        "other_facets": [(name, facets.flat_pairs(value)) for name, value in sorted(fc.items())
                         if name not in shown and facets.flat_pairs(value)],
        "facets_json": json.dumps(fc, indent=2, sort_keys=True, default=str),
        "upstream": _related_workloads(org, asset, graph.UPSTREAM),
        "downstream": _related_workloads(org, asset, graph.DOWNSTREAM),
    }
    return render(request, "catalog/asset_detail.html", context)


@login_required
def dataset_detail(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    return _asset_detail(request, org_slug, pk, AssetKind.DATASET)


@login_required
def model_detail(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    return _asset_detail(request, org_slug, pk, AssetKind.MODEL)


# --- Workload detail ---------------------------------------------------------------------------------


def _workload(request: HttpRequest, org_slug: str, pk: int) -> tuple[Organization, Workload]:
    org = org_for_request(request.user, org_slug)
    return org, get_object_or_404(Workload.objects.in_org(org).select_related("cloud", "project"), pk=pk)


def _related_assets(org: Organization, workload: Workload, side: str) -> dict:
    qs = graph.related_assets(org, workload, side).defer("attrs", "stamps")
    total = qs.count()
    rows = list(graph.with_model_names(qs).order_by("-created_at", "-id")[:RELATED_SHOWN])
    for row in rows:
        row.label = graph.asset_label(row)
    param = "read_by" if side == graph.UPSTREAM else "written_by"
    return {"rows": rows, "total": total,
            "all_datasets_url": reverse("catalog:dataset_list", kwargs={"org_slug": org.slug})
            + f"?created_by=&{param}={workload.pk}",
            "all_models_url": reverse("catalog:model_list", kwargs={"org_slug": org.slug})
            + f"?created_by=&{param}={workload.pk}"}


@login_required
def workload_detail(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    org, workload = _workload(request, org_slug, pk)
    details = workload.details
    code = details.get("code_location") if isinstance(details.get("code_location"), dict) else {}
    runs = Run.objects.in_org(org).filter(workload=workload)
    jobs = (Job.objects.in_org(org).filter(runs__workload=workload)
            .annotate(run_count=Count("runs")).order_by("namespace", "name").defer("attrs", "stamps"))
    context = {
        "org": org, "section": "workloads", "workload": workload, "tab": "overview", "details": details,
        "resources": [(k, filesizeformat(v) if k == "memoryBytes" and v.isdigit() else v)
                      for k, v in facets.flat_pairs(details.get("resources"))],
        "code": facets.flat_pairs(code), "code_url": facets.http_url(code.get("url")),
        "jobs": list(jobs[:100]),
        "runs": list(runs.select_related("job").defer("attrs", "stamps", "job__attrs", "job__stamps")
                     .order_by("-created_at", "-id")[:RUNS_SHOWN]),
        "run_total": runs.count(),
        "upstream": _related_assets(org, workload, graph.UPSTREAM),
        "downstream": _related_assets(org, workload, graph.DOWNSTREAM),
    }
    return render(request, "catalog/workload_detail.html", context)


# --- Lineage and impact tabs -------------------------------------------------------------------------


def _node_page(request: HttpRequest, org_slug: str, node_type: str, pk: int, kind: str | None):
    if node_type == graph.ASSET:
        org, row = _asset(request, org_slug, pk, kind)
        return org, row, {"asset": row, "section": _section(kind)}
    org, row = _workload(request, org_slug, pk)
    return org, row, {"workload": row, "section": "workloads"}


def _lineage(request: HttpRequest, org_slug: str, pk: int, node_type: str, kind: str | None = None) -> HttpResponse:
    org, row, extra = _node_page(request, org_slug, node_type, pk, kind)
    context = {
        "org": org, "tab": "lineage", **extra,
        "focus": graph.node_key((node_type, row.pk)),
        "graph_api": reverse("catalog-api:graph", kwargs={"org_slug": org.slug}),
        "depths": range(1, 6), "max_depth": graph.MAX_DEPTH,
    }
    template = "catalog/asset_lineage.html" if node_type == graph.ASSET else "catalog/workload_lineage.html"
    return render(request, template, context)


@login_required
def dataset_lineage(request, org_slug, pk):
    return _lineage(request, org_slug, pk, graph.ASSET, AssetKind.DATASET)


@login_required
def model_lineage(request, org_slug, pk):
    return _lineage(request, org_slug, pk, graph.ASSET, AssetKind.MODEL)


@login_required
def workload_lineage(request, org_slug, pk):
    return _lineage(request, org_slug, pk, graph.WORKLOAD)


@dataclass(frozen=True)
class ImpactQuery:
    direction: str
    depth: int
    kind: str
    q: str
    as_of: datetime | None
    errors: tuple[str, ...]

    @classmethod
    def parse(cls, params: QueryDict) -> ImpactQuery:
        errors = []
        direction = params.get("direction", graph.DOWNSTREAM)
        if direction not in (graph.UPSTREAM, graph.DOWNSTREAM):
            errors.append("Direction is downstream or upstream.")
            direction = graph.DOWNSTREAM
        try:
            depth = min(max(int(params.get("depth", 3)), 1), graph.MAX_DEPTH)
        except ValueError:
            errors.append("Depth is a number.")
            depth = 3
        kind = params.get("kind", "")
        if kind and kind not in graph.IMPACT_KINDS:
            errors.append("Unknown kind.")
            kind = ""
        as_of = None
        if params.get("as_of"):
            as_of = _parse_as_of(params["as_of"])
            if as_of is None:
                errors.append("As of is an ISO date-time.")
        return cls(direction, depth, kind, params.get("q", "")[:200], as_of, tuple(errors))


def _parse_as_of(value: str) -> datetime | None:
    """An ISO date-time; without an offset it is UTC (the pages show UTC)."""
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def _page_start(params: QueryDict, size: int) -> int:
    """Where the page asked for starts (a hint: the paginator still validates the number)."""
    try:
        return max(int(params.get("page", 1)) - 1, 0) * size
    except ValueError:
        return 0


def _impact(request: HttpRequest, org_slug: str, pk: int, node_type: str, kind: str | None = None) -> HttpResponse:
    org, row, extra = _node_page(request, org_slug, node_type, pk, kind)
    query = ImpactQuery.parse(request.GET)
    size = per_page(request.GET)
    start = _page_start(request.GET, size)
    # Only the page shown is read from the database (with the total), not every row found.
    rows, truncated = graph.impact_rows(org, (node_type, row.pk), direction=query.direction, depth=query.depth,
                                        as_of=query.as_of, kind=query.kind, q=query.q, start=start, stop=start + size)
    page = Paginator(rows, size).get_page(request.GET.get("page"))
    context = {
        "org": org, "tab": "impact", **extra, "query": query, "page": page, "truncated": truncated,
        "total": rows.count(), "kinds": graph.IMPACT_KINDS, "depths": range(1, graph.MAX_DEPTH + 1),
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "per_page": size, "per_page_choices": PER_PAGE_CHOICES, "params": request.GET,
        "csv_url": "csv/" + querystring(request.GET, page=None, per_page=None),
        "as_of_value": request.GET.get("as_of", ""),
    }
    return render(request, "catalog/impact.html", context)


# Spreadsheet programs run cells that start with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    text = "" if value is None else (value.isoformat() if isinstance(value, datetime) else str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _impact_csv(request: HttpRequest, org_slug: str, pk: int, node_type: str, kind: str | None = None) -> HttpResponse:
    org, row, _ = _node_page(request, org_slug, node_type, pk, kind)
    query = ImpactQuery.parse(request.GET)
    rows, truncated = graph.impact(org, (node_type, row.pk), direction=query.direction, depth=query.depth,
                                   as_of=query.as_of, kind=query.kind, q=query.q)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{query.direction}-{node_type}-{row.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(["hop", "type", "kind", "name", "uri", "status", "created_by", "created_at", "url"])
    base = request.build_absolute_uri("/")[:-1]
    for r in rows:
        writer.writerow([csv_cell(v) for v in (r.hop, r.type, r.kind, r.name, r.uri, r.status, r.created_by,
                                                r.created_at, base + r.url)])
    if truncated:
        writer.writerow([csv_cell("# truncated: the walk hit its limit; narrow the depth or filters")])
    # An export leaves the application: the audit log says who took what.
    record(org=org, actor=request.user, action="catalog.impact_export", target_type=node_type, target_id=row.pk,
           target_label=str(row)[:255], after={"export": "impact_csv", "direction": query.direction, "depth": query.depth, "kind": query.kind,
                                               "q": query.q, "rows": len(rows), "truncated": truncated},
           request_id=getattr(request, "request_id", ""))
    return response


@login_required
def dataset_impact(request, org_slug, pk):
    return _impact(request, org_slug, pk, graph.ASSET, AssetKind.DATASET)


@login_required
def model_impact(request, org_slug, pk):
    return _impact(request, org_slug, pk, graph.ASSET, AssetKind.MODEL)


@login_required
def workload_impact(request, org_slug, pk):
    return _impact(request, org_slug, pk, graph.WORKLOAD)


@login_required
def dataset_impact_csv(request, org_slug, pk):
    return _impact_csv(request, org_slug, pk, graph.ASSET, AssetKind.DATASET)


@login_required
def model_impact_csv(request, org_slug, pk):
    return _impact_csv(request, org_slug, pk, graph.ASSET, AssetKind.MODEL)


@login_required
def workload_impact_csv(request, org_slug, pk):
    return _impact_csv(request, org_slug, pk, graph.WORKLOAD)
