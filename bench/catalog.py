"""A large synthetic catalog built straight into the catalog tables, and the read-side measurements
over it: `manage.py generate_catalog` (build, print a report) and `manage.py bench graph|pages`
(figures against a reference) both use this module.

Shape: assets in ten layers; each workload reads a few assets of one layer and writes a few of the
next (a DAG with fan-in and fan-out), plus "hub" datasets that thousands of workloads read; each
workload has one OpenLineage job and a few runs. Rows go straight into the tables (COPY on
PostgreSQL, bulk_create elsewhere): no events, no normalizer, because the point is the size and
shape of the tables the read side queries. At the default size (200k assets, 50k workloads, ~400k
workload<->asset edges) this is the catalog about a million events of 50k workloads normalize to.
Run-level edges (RunAsset) are not built: no page or graph endpoint reads them (exports do, and the
export benchmark builds its own).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from catalog.models import Asset, AssetKind, Direction, Job, Run, Workload, WorkloadAsset
from clouds.models import Cloud, Project
from clouds.services import create_cloud, create_project
from orgs.models import Organization, Role
from orgs.services import ensure_user, set_membership

LAYERS = 10
TYPES = ["Parquet"] * 6 + ["CSV"] * 2 + ["JSON", "Table", "Image", "Text", "Avro", "Unknown"]
STATUSES = ["SUCCEEDED"] * 6 + ["RUNNING"] * 2 + ["FAILED", "TERMINATED"]
KINDS = ["job"] * 8 + ["service", "workspace"]
BENCH_USER = "bench@bigco.test"
ACTOR = "bench.catalog"


@dataclass(frozen=True)
class Shape:
    assets: int = 200_000
    workloads: int = 50_000
    hubs: int = 30  # layer-0 datasets, each read by `hub_readers` workloads
    hub_readers: int = 5_000
    owners: int = 500
    runs_per_workload: int = 2
    seed: int = 7


QUICK = Shape(assets=3_000, workloads=600, hubs=2, hub_readers=100, owners=20)


@dataclass
class Built:
    org: Organization
    assets: int
    workloads: int
    edges: int
    runs: int
    seconds: float

    def describe(self) -> str:
        return (f"{self.assets:,} assets, {self.workloads:,} workloads, {self.edges:,} workload-asset edges, "
                f"{self.runs:,} runs, built straight into the tables in {self.seconds:.0f} s")


def _insert(model: type[models.Model], columns: list[str], rows: Iterable[tuple]) -> list[int]:
    """Insert rows (values in `columns` order, JSON as Python objects); return their new ids in order.
    COPY on PostgreSQL (an order of magnitude faster than INSERT for hundreds of thousands of rows)."""
    if connection.vendor == "postgresql":
        from bench.bulk import _copy

        json_at = [i for i, c in enumerate(columns) if isinstance(model._meta.get_field(c), models.JSONField)]

        def encoded():
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = json.dumps(row[i])
                yield row

        with connection.cursor() as wrapper:
            return _copy(wrapper.cursor, model._meta.db_table, columns, encoded())
    objs = model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=2_000)
    return [o.pk for o in objs]


def build(org: Organization, shape: Shape = Shape(), *, log: Callable[[str], object] = lambda _: None) -> Built:
    """Fill `org` (new, or at least without catalog rows) with a synthetic catalog of `shape`, and
    make `BENCH_USER` a member of it."""
    rng = random.Random(shape.seed)
    started = time.monotonic()
    clouds = [create_cloud(org=org, name=f"{org.slug}-{n}", actor=ACTOR)[0] for n in ("prod", "dev")]
    projects = [create_project(cloud=clouds[i % 2], name=f"project-{i:02d}", public_id=f"prj_{org.slug}_{i:02d}",
                               actor=ACTOR)[0] for i in range(10)]
    user, _ = ensure_user(email=BENCH_USER)  # measured through force_login; no password
    set_membership(org=org, user=user, role=Role.MEMBER, actor=ACTOR)
    owners = [BENCH_USER] + [f"user{i:04d}@{org.slug}.test" for i in range(1, shape.owners)]
    # A few people own most things (Zipf-like), as in real teams.
    cum = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(owners))))
    now = timezone.now()

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    per_layer = shape.assets // LAYERS
    schema = {"facet:schema": {"fields": [{"name": f"c{k}", "type": "double"} for k in range(6)]}}

    def asset_rows():
        for i in range(shape.assets):
            layer = min(i // per_layer, LAYERS - 1)
            is_model = rng.random() < 0.1 and layer > 2
            project = rng.choice(projects)
            dtype = "Model" if is_model else rng.choice(TYPES)
            ns = "mlflow://tracking" if is_model else f"s3://{org.slug}-layer{layer}-{i % 50:02d}"
            name = f"models/m-{i:07d}" if is_model else f"domain{i % 37:02d}/table_{i:07d}.{dtype.lower()}"
            attrs = schema if not is_model else {**schema, "facet:mlflowModel": {
                "modelId": f"m-{i:07d}", "flavor": "sklearn", "registeredName": f"model-{i % 300}",
                "registeredVersion": str(i % 7 + 1)}}
            yield (org.pk, ns, name, AssetKind.MODEL if is_model else AssetKind.DATASET, dtype, f"{ns}/{name}",
                   project.cloud_id, project.pk, rng.choices(owners, cum_weights=cum)[0],
                   ago(365 - layer * 30 - rng.random() * 30), now, attrs, {})

    asset_ids = _insert(Asset, ["org_id", "namespace", "name", "kind", "dataset_type", "uri", "cloud_id", "project_id",
                                "created_by", "created_at", "updated_at", "attrs", "stamps"], asset_rows())
    layers = [asset_ids[k * per_layer:(k + 1) * per_layer] for k in range(LAYERS)]
    log(f"  {len(asset_ids):,} assets in {time.monotonic() - started:.0f} s")

    created = [ago(365 - (i % (LAYERS - 1)) * 30 - rng.random() * 30) for i in range(shape.workloads)]

    def workload_rows():
        for i in range(shape.workloads):
            project = rng.choice(projects)
            kind = rng.choice(KINDS)
            yield (org.pk, project.cloud_id, project.pk, f"prodjob_{i:08d}", kind,
                   f"{'etl' if kind == 'job' else kind}-{i % 4000:04d}-{rng.choice(['daily', 'hourly', 'adhoc'])}",
                   rng.choice(STATUSES), rng.choices(owners, cum_weights=cum)[0], False, created[i],
                   created[i] + timedelta(hours=1), {"ray_version": "2.60.0", "python_version": "3.11.11"}, {})

    workload_ids = _insert(Workload, ["org_id", "cloud_id", "project_id", "external_id", "kind", "name", "status",
                                      "owner_email", "derived", "created_at", "updated_at", "attrs", "stamps"],
                           workload_rows())
    log(f"  {len(workload_ids):,} workloads in {time.monotonic() - started:.0f} s")

    # Workload i sits in layer i % 9: it reads 1-5 assets of that layer and writes 1-3 of the next.
    edges: dict[tuple[int, int, str], datetime] = {}
    for i, wid in enumerate(workload_ids):
        layer = i % (LAYERS - 1)
        for aid in rng.sample(layers[layer], min(rng.randint(1, 5), len(layers[layer]))):
            edges[(wid, aid, Direction.INPUT)] = created[i]
        for aid in rng.sample(layers[layer + 1], min(rng.randint(1, 3), len(layers[layer + 1]))):
            edges[(wid, aid, Direction.OUTPUT)] = created[i]
    by_id = dict(zip(workload_ids, created, strict=True))
    for hub in layers[0][:shape.hubs]:
        for wid in rng.sample(workload_ids, min(shape.hub_readers, len(workload_ids))):
            edges[(wid, hub, Direction.INPUT)] = by_id[wid]
    _insert(WorkloadAsset, ["org_id", "workload_id", "asset_id", "direction", "first_seen_at", "last_seen_at"],
            ((org.pk, w, a, d, t, t + timedelta(minutes=rng.randint(0, 10_000))) for (w, a, d), t in edges.items()))
    log(f"  {len(edges):,} workload<->asset edges in {time.monotonic() - started:.0f} s")

    job_ids = _insert(Job, ["org_id", "namespace", "name", "job_type", "integration", "created_at", "updated_at",
                            "attrs", "stamps"],
                      ((org.pk, f"prodjob_{i:08d}", "main", "", "", t, t, {}, {}) for i, t in enumerate(created)))
    runs = _insert(Run, ["org_id", "run_id", "job_id", "workload_id", "state", "started_at", "ended_at",
                         "error_message", "created_at", "updated_at", "attrs", "stamps"],
                   ((org.pk, uuid.UUID(int=rng.getrandbits(128)), job_ids[i], wid, "COMPLETE", t + timedelta(days=k),
                     t + timedelta(days=k, minutes=20), "", t + timedelta(days=k), t + timedelta(days=k), {}, {})
                    for i, (wid, t) in enumerate(zip(workload_ids, created, strict=True))
                    for k in range(shape.runs_per_workload)))
    log(f"  {len(job_ids):,} jobs, {len(runs):,} runs in {time.monotonic() - started:.0f} s")
    if connection.vendor == "postgresql":
        # Fresh statistics, and (VACUUM) a visibility map so counts and deep pages can be index-only,
        # as autovacuum would leave them. VACUUM cannot run inside a transaction (as under a test).
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
        with connection.cursor() as cursor:
            for model in (Asset, Workload, WorkloadAsset, Job, Run):
                cursor.execute(f"{command} {model._meta.db_table}")
    return Built(org, len(asset_ids), len(workload_ids), len(edges), len(runs), time.monotonic() - started)


# --- Measuring ---------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Foci:
    """The nodes and filter values the measurements use, found in a built catalog."""

    hub: Asset  # a layer-0 dataset read by thousands of workloads
    mid: Asset  # a dataset half-way down the pipeline, both written and read
    early: Asset  # an early dataset that is not a hub
    workload: Workload
    owner: str  # a heavy owner other than the bench user
    cloud: Cloud
    project: Project

    @classmethod
    def find(cls, org: Organization) -> Foci:
        datasets = Asset.objects.in_org(org).filter(kind=AssetKind.DATASET).order_by("id")
        n = datasets.count()
        half = datasets[n // 2].pk
        written = WorkloadAsset.objects.in_org(org).filter(direction=Direction.OUTPUT, asset_id__gte=half)
        mid_id = (WorkloadAsset.objects.in_org(org)
                  .filter(direction=Direction.INPUT, asset__kind=AssetKind.DATASET,
                          asset_id__in=written.values("asset_id"))
                  .order_by("asset_id").values_list("asset_id", flat=True).first())
        workloads = Workload.objects.in_org(org).order_by("id")
        cloud = Cloud.objects.in_org(org).filter(projects__isnull=False).order_by("id").first()
        return cls(
            hub=datasets.first(),
            mid=Asset.objects.get(pk=mid_id) if mid_id else datasets[n // 2],
            early=datasets[min(1_000, n // 20)],
            workload=workloads[min(123, workloads.count() - 1)],
            owner=f"user0002@{org.slug}.test",
            cloud=cloud,
            project=Project.objects.filter(cloud=cloud).order_by("id").first(),
        )


def signed_in_client(org: Organization):
    """A test client signed in as the bench member (requests go through the real middleware)."""
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(email=BENCH_USER))
    return client


@dataclass
class Sample:
    total_ms: float  # the whole request, in-process through the middleware
    db_ms: float  # every query's execute (with its rows) summed
    catalog_ms: float  # of which the queries that read catalog tables (not session, user, org)
    queries: int
    response: object


class RequestTimer:
    """Times GET requests through a signed-in test client: the whole request (server time, no
    network) and the database time inside it, summed over each query with an execute wrapper."""

    def __init__(self, client):
        self.client = client
        self._db = self._catalog = 0.0
        self._queries = 0

    def __call__(self, execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - t
            self._db += spent
            self._catalog += spent if "catalog_" in sql else 0.0
            self._queries += 1

    def get(self, url: str, params: dict) -> Sample:
        self._db, self._catalog, self._queries = 0.0, 0.0, 0
        with connection.execute_wrapper(self):
            t = time.perf_counter()
            response = self.client.get(url, params)
            total = time.perf_counter() - t
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} {params}: {response.status_code} {response.content[:300]!r}")
        return Sample(total * 1000, self._db * 1000, self._catalog * 1000, self._queries, response)


# --- The graph endpoints against a bare recursive CTE -------------------------------------------------

EDGE_TABLE = "bench_graph_edge"


def build_reference(org: Organization) -> int:
    """The reference: the org's lineage graph in ONE bare edge table (asset -> workload for reads,
    workload -> asset for writes; asset ids as they are, workload ids negated), indexed both ways."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {EDGE_TABLE}")
        cursor.execute(f"CREATE UNLOGGED TABLE {EDGE_TABLE} (src bigint NOT NULL, dst bigint NOT NULL)")
        cursor.execute(
            f"INSERT INTO {EDGE_TABLE} (src, dst)"  # noqa: S608 - the table name is ours
            " SELECT CASE WHEN direction = 'in' THEN asset_id ELSE -workload_id END,"
            "        CASE WHEN direction = 'in' THEN -workload_id ELSE asset_id END"
            " FROM catalog_workloadasset WHERE org_id = %s", [org.pk])
        edges = cursor.rowcount
        cursor.execute(f"CREATE INDEX {EDGE_TABLE}_src ON {EDGE_TABLE} (src)")
        cursor.execute(f"CREATE INDEX {EDGE_TABLE}_dst ON {EDGE_TABLE} (dst)")
        cursor.execute(f"ANALYZE {EDGE_TABLE}")
    return edges


def drop_reference() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {EDGE_TABLE}")


def reference_sql(direction: str) -> str:
    """A bare breadth-first walk: one recursive CTE per side, stopped by depth and a node limit."""
    from catalog.graph import BOTH, DOWNSTREAM, UPSTREAM

    # No values in it (they are parameters); the names are ours.
    side = ("{name}(node, hop) AS (SELECT %(focus)s::bigint, 0 UNION"  # noqa: S608
            " SELECT e.{far}, w.hop + 1 FROM {name} w JOIN " + EDGE_TABLE + " e ON e.{near} = w.node"
            " WHERE w.hop < %(depth)s)")
    ctes, selects = [], []
    if direction in (UPSTREAM, BOTH):
        ctes.append(side.format(name="up", near="dst", far="src"))
        selects.append("(SELECT node, -hop FROM up LIMIT %(limit)s)")
    if direction in (DOWNSTREAM, BOTH):
        ctes.append(side.format(name="down", near="src", far="dst"))
        selects.append("(SELECT node, hop FROM down LIMIT %(limit)s)")
    return "WITH RECURSIVE " + ", ".join(ctes) + " " + " UNION ALL ".join(selects)


def reference_walk(sql: str, focus: int, depth: int, limit: int) -> tuple[float, int]:
    """(milliseconds, rows) of one reference walk: execute and fetch, timed from Python."""
    with connection.cursor() as cursor:
        t = time.perf_counter()
        cursor.execute(sql, {"focus": focus, "depth": depth, "limit": limit})
        rows = cursor.fetchall()
        return (time.perf_counter() - t) * 1000, len(rows)


@dataclass(frozen=True)
class GraphCase:
    label: str
    endpoint: str  # graph | impact
    params: dict
    direction: str  # of the reference walk, the same as the endpoint's
    depth: int
    limit: int  # the endpoint's node limit, which the reference walk also stops at
    goal_ms: float  # whole request, p95


def graph_cases() -> list[GraphCase]:
    from catalog.graph import BOTH, DOWNSTREAM, GRAPH_DEFAULT_LIMIT, IMPACT_DEFAULT_LIMIT

    return [
        GraphCase("graph: expand one node (depth 1)", "graph", {}, BOTH, 1, GRAPH_DEFAULT_LIMIT, 15),
        GraphCase("graph: depth 5", "graph", {"depth": 5}, BOTH, 5, GRAPH_DEFAULT_LIMIT, 30),
        GraphCase("graph: impact analysis, 10 hops", "impact", {"depth": 10}, DOWNSTREAM, 10,
                  IMPACT_DEFAULT_LIMIT, 100),
    ]


@dataclass
class GraphFigure:
    case: GraphCase
    total: list[float]
    db: list[float]
    catalog: list[float]
    reference: list[float]
    by_focus: dict[str, dict]


def measure_graph(org: Organization, foci: Foci, *, repeat: int, warmup: int = 3) -> list[GraphFigure]:
    """Each case from each focus (a hub dataset, a mid-pipeline dataset, a workload): `repeat`
    requests, each followed by the reference walk from the same node (so both see the same load)."""
    from catalog.graph import ASSET, WORKLOAD

    timer = RequestTimer(signed_in_client(org))
    focus_nodes = {"hub dataset": (ASSET, foci.hub.pk), "mid dataset": (ASSET, foci.mid.pk),
                   "workload": (WORKLOAD, foci.workload.pk)}
    figures = []
    for case in graph_cases():
        url = f"/api/v1/o/{org.slug}/{case.endpoint}/"
        sql = reference_sql(case.direction)
        figure = GraphFigure(case, [], [], [], [], {})
        for name, (kind, pk) in focus_nodes.items():
            params = {"node": f"{kind}:{pk}", **case.params}
            ref_node = pk if kind == ASSET else -pk
            # The endpoint's node limit counts the focus; impact walks one past its limit to know it is cut.
            ref_limit = case.limit + (1 if case.endpoint == "impact" else 0)
            total, db, cat, ref = [], [], [], []
            for i in range(warmup + repeat):
                sample = timer.get(url, params)
                ms, found = reference_walk(sql, ref_node, case.depth, ref_limit)
                if i >= warmup:
                    total.append(sample.total_ms)
                    db.append(sample.db_ms)
                    cat.append(sample.catalog_ms)
                    ref.append(ms)
            body = sample.response.json()
            shown = f"{len(body['nodes'])} nodes" if "nodes" in body else f"{body['count']} rows"
            figure.by_focus[name] = {"total": p95(total), "db": p95(db), "catalog": p95(cat), "reference": p95(ref),
                                     "queries": sample.queries, "shown": shown, "reference_rows": found,
                                     "truncated": body["truncated"]}
            figure.total += total
            figure.db += db
            figure.catalog += cat
            figure.reference += ref
        figures.append(figure)
    return figures


# --- List pages --------------------------------------------------------------------------------------

# "1 - 25 of 5024", or "of <abbr ...>about 80000</abbr>" for a search too broad to count.
_RANGE = re.compile(rb'class="range">\s*(\d+) - (\d+) of (?:<abbr[^>]*>about )?(\d+)')


def page_filters(org: Organization, foci: Foci) -> dict[str, list[tuple[str, dict]]]:
    """Each list and each of its filters (as the sidebar sets them), by a short label."""
    everyone = {"created_by": ""}
    common = [
        ("created by me (default)", {}),
        ("everyone", everyone),
        ("everyone, 100 rows", {**everyone, "per_page": 100}),
        ("created by a heavy owner", {"created_by": foci.owner}),
        ("cloud", {**everyone, "cloud": foci.cloud.pk}),
        ("cloud + project", {**everyone, "cloud": foci.cloud.pk, "project": foci.project.pk}),
        ("created-at range", {**everyone, "created_after": (timezone.now() - timedelta(days=200)).date().isoformat(),
                              "created_before": (timezone.now() - timedelta(days=150)).date().isoformat()}),
        ("sort by name", {**everyone, "sort": "name"}),
        ("sort by name, Z-A", {**everyone, "sort": "-name"}),
        ("oldest first", {**everyone, "sort": "created_at"}),
    ]
    return {
        "datasets": [*common,
                     ("type CSV", {**everyone, "type": "CSV"}),
                     ("name search", {**everyone, "q": "domain07/"}),
                     ("read by a workload", {**everyone, "read_by": foci.workload.pk}),
                     ("written by a workload", {**everyone, "written_by": foci.workload.pk})],
        "models": [*common,
                   ("type Model", {**everyone, "type": "Model"}),
                   ("name search", {**everyone, "q": "m-01"})],
        "workloads": [*common,
                      ("type service", {**everyone, "type": "service"}),
                      ("status FAILED", {**everyone, "status": "FAILED"}),
                      ("name search", {**everyone, "q": "etl-01"}),
                      ("reading the hub", {**everyone, "reads": foci.hub.pk}),
                      ("writing a dataset", {**everyone, "writes": foci.mid.pk})],
    }


@dataclass
class PageFigure:
    section: str
    by_case: dict[str, float]  # p95 ms of each filter and page
    rows: dict[str, int]  # how many rows each filter selects
    requests: int

    @property
    def worst(self) -> tuple[str, float]:
        return max(self.by_case.items(), key=lambda kv: kv[1])


def measure_pages(org: Organization, foci: Foci, *, repeat: int, warmup: int = 2) -> list[PageFigure]:
    """Every filter of every list, page 1 and a deep page (the middle one: paginating from whichever
    end is nearer, it is the one that skips the most rows), `repeat` times each."""
    timer = RequestTimer(signed_in_client(org))
    figures = []
    for section, filters in page_filters(org, foci).items():
        url = f"/o/{org.slug}/{section}/"
        figure = PageFigure(section, {}, {}, 0)
        for label, params in filters:
            first = timer.get(url, params)
            found = _RANGE.search(first.response.content)
            count = int(found[3]) if found else 0
            per_page = int(params.get("per_page", 25))
            figure.rows[label] = count
            pages = {"page 1": 1}
            middle = (math.ceil(count / per_page) + 1) // 2
            if middle > 1:
                pages[f"page {middle}"] = middle
            for page_label, page in pages.items():
                times = []
                for i in range(warmup + repeat):
                    sample = timer.get(url, {**params, "page": page})
                    if i >= warmup:
                        times.append(sample.total_ms)
                figure.by_case[f"{label}, {page_label}"] = p95(times)
                figure.requests += repeat
        figures.append(figure)
    return figures


# --- A report for people (`generate_catalog --measure`) ----------------------------------------------


def report(org: Organization, write: Callable[[str], object], *, repeat: int = 5) -> None:
    """Median and max whole-request time of pages, API calls and graph walks, with query counts and
    what each answered; then, on PostgreSQL, EXPLAIN ANALYZE of the key statements."""
    foci = Foci.find(org)
    hub, mid, wl = foci.hub, foci.mid, foci.workload
    timer = RequestTimer(signed_in_client(org))
    s, a = f"/o/{org.slug}", f"/api/v1/o/{org.slug}"
    everyone = {"created_by": ""}
    month_ago = (timezone.now() - timedelta(days=30)).isoformat()
    cases = [
        ("datasets: default (created by me)", f"{s}/datasets/", {}),
        ("datasets: everyone, newest first", f"{s}/datasets/", everyone),
        ("datasets: everyone, page 2000 of 25", f"{s}/datasets/", {**everyone, "page": 2000}),
        ("datasets: sort by name", f"{s}/datasets/", {**everyone, "sort": "name"}),
        ("datasets: created by a heavy owner", f"{s}/datasets/", {"created_by": foci.owner}),
        ("datasets: cloud + project", f"{s}/datasets/", {**everyone, "cloud": foci.cloud.pk,
                                                         "project": foci.project.pk}),
        ("datasets: type CSV, 100 rows", f"{s}/datasets/", {**everyone, "type": "CSV", "per_page": 100}),
        ("datasets: name search 'table_01234'", f"{s}/datasets/", {**everyone, "q": "table_01234"}),
        ("models: everyone", f"{s}/models/", everyone),
        ("workloads: default (me)", f"{s}/workloads/", {}),
        ("workloads: everyone", f"{s}/workloads/", everyone),
        ("workloads: type service, status FAILED", f"{s}/workloads/", {**everyone, "type": "service",
                                                                        "status": "FAILED"}),
        ("workloads: name search 'etl-0123'", f"{s}/workloads/", {**everyone, "q": "etl-0123"}),
        ("workloads: reading the hub", f"{s}/workloads/", {**everyone, "reads": hub.pk}),
        ("API datasets: everyone, 100 rows", f"{a}/datasets/", {"per_page": 100}),
        ("API workloads: name search", f"{a}/workloads/", {"q": "etl-0123"}),
        ("dataset page: hub", f"{s}/datasets/{hub.pk}/", {}),
        ("dataset page: mid-pipeline", f"{s}/datasets/{mid.pk}/", {}),
        ("workload page", f"{s}/workloads/{wl.pk}/", {}),
        ("graph: hub, 1 hop", f"{a}/graph/", {"node": f"asset:{hub.pk}"}),
        ("graph: mid dataset, 1 hop both", f"{a}/graph/", {"node": f"asset:{mid.pk}"}),
        ("graph: mid dataset, 3 hops both", f"{a}/graph/", {"node": f"asset:{mid.pk}", "depth": 3}),
        ("graph: mid dataset, 6 hops both, limit 500", f"{a}/graph/", {"node": f"asset:{mid.pk}", "depth": 6,
                                                                      "limit": 500}),
        ("graph: hub, 3 hops, 200 per node, limit 500", f"{a}/graph/", {"node": f"asset:{hub.pk}", "depth": 3,
                                                                       "per_node": 200, "limit": 500}),
        ("graph: workload, 2 hops, as of 30 days ago", f"{a}/graph/", {"node": f"workload:{wl.pk}", "depth": 2,
                                                                      "as_of": month_ago}),
        ("impact: early dataset, 10 hops down", f"{a}/impact/", {"node": f"asset:{foci.early.pk}", "depth": 10}),
        ("impact: hub, 10 hops down (cap 10000)", f"{a}/impact/", {"node": f"asset:{hub.pk}", "depth": 10,
                                                                    "limit": 10_000}),
        ("impact: mid dataset, 10 hops up", f"{a}/impact/", {"node": f"asset:{mid.pk}", "depth": 10,
                                                             "direction": "upstream"}),
    ]
    write(f"\n{'case':50} {'median ms':>9} {'max ms':>7} {'db ms':>6} {'queries':>7}  answer")
    for label, url, params in cases:
        samples = [timer.get(url, params) for _ in range(repeat + 1)][1:]
        last = samples[-1].response
        note = ""
        if last["Content-Type"].startswith("application/json"):
            body = last.json()
            if "nodes" in body:
                note = f"{len(body['nodes'])} nodes, {len(body['edges'])} edges, truncated={body['truncated']}"
            elif "count" in body:
                note = f"count={body['count']}" + (f", truncated={body['truncated']}" if "truncated" in body else "")
        elif found := _RANGE.search(last.content):
            note = f"count={found[3]}"
        totals = [x.total_ms for x in samples]
        write(f"{label:50} {statistics.median(totals):9.1f} {max(totals):7.1f} "
              f"{statistics.median(x.db_ms for x in samples):6.1f} {samples[-1].queries:7}  {note}")
    if connection.vendor == "postgresql":
        explain(org, foci, write)


def explain(org: Organization, foci: Foci, write: Callable[[str], object]) -> None:
    from catalog import graph
    from catalog.filters import AssetFilterSet, WorkloadFilterSet

    class Req:
        user = get_user_model().objects.get(email=BENCH_USER)

    datasets = Asset.objects.in_org(org).filter(kind=AssetKind.DATASET).defer("attrs", "stamps")
    plans = {
        "datasets created by me, newest first (page 1)":
            AssetFilterSet({"created_by": "me"}, datasets, request=Req, org=org).qs[:25],
        "datasets name search": AssetFilterSet({"q": "table_01234"}, datasets, request=Req, org=org).qs[:25],
        "datasets sorted by name": AssetFilterSet({"sort": "name"}, datasets, request=Req, org=org).qs[:25],
        "workloads by owner":
            WorkloadFilterSet({"created_by": foci.owner}, Workload.objects.in_org(org), request=Req, org=org).qs[:25],
    }
    for label, qs in plans.items():
        write(f"\nEXPLAIN ANALYZE {label}:\n" + qs.explain(analyze=True))
    # A graph request from the hub is one call of catalog_lineage_graph: EXPLAIN shows only a
    # function scan, so auto_explain reports each statement inside it (superusers only: LOAD).
    write("\nThe statements of one graph request from the hub (depth 1), as auto_explain reports them:")
    try:
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
    except DatabaseError as exc:
        write(f"(not shown: {exc})")
        return
    statements: list[str] = []

    def keep(notice) -> None:
        statements.append(notice.message_primary)

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL auto_explain.log_min_duration = 0; SET LOCAL auto_explain.log_analyze = on;"
                       " SET LOCAL auto_explain.log_nested_statements = on; SET LOCAL client_min_messages = log")
        cursor.connection.add_notice_handler(keep)
        try:
            cursor.execute("SELECT count(*) FROM catalog_lineage_graph(%s, %s, ARRAY['upstream', 'downstream'], 1,"
                           " %s, %s, 0, NULL)",
                           [org.pk, foci.hub.pk, graph.GRAPH_DEFAULT_LIMIT, graph.PER_NODE_DEFAULT])
        finally:
            cursor.connection.remove_notice_handler(keep)
    write("\n\n".join(statements))
