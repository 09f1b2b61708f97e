"""`manage.py generate_catalog`: a large synthetic catalog for measuring list pages and graph queries.

Rows are bulk-created straight into the catalog tables (no events, no normalizer): the point is the
size and shape of the tables the read side queries. Shape: assets in ten layers; each workload reads
a few assets of one layer and writes a few of the next (a DAG with fan-in and fan-out), plus "hub"
datasets that thousands of workloads read. `--measure` then times pages, API calls and graph walks
through the test client, as a signed-in member, and prints EXPLAIN ANALYZE for the key queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lineage_cat_bench \\
        manage.py generate_catalog --assets 200000 --workloads 50000 --measure
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog import graph
from catalog.models import Asset, AssetKind, Direction, Job, Run, Workload, WorkloadAsset
from clouds.models import Cloud, Project
from clouds.services import create_cloud, create_project
from orgs.models import Organization, Role
from orgs.services import create_org, ensure_user, set_membership

LAYERS = 10
TYPES = ["Parquet"] * 6 + ["CSV"] * 2 + ["JSON", "Table", "Image", "Text", "Avro", "Unknown"]
STATUSES = ["SUCCEEDED"] * 6 + ["RUNNING"] * 2 + ["FAILED", "TERMINATED"]
KINDS = ["job"] * 8 + ["service", "workspace"]
BENCH_USER = "bench@bigco.test"


class Command(BaseCommand):
    help = "Bulk-create a large synthetic catalog for one org, and optionally measure the read side."

    def add_arguments(self, parser):
        parser.add_argument("--org", default="bigco")
        parser.add_argument("--assets", type=int, default=200_000)
        parser.add_argument("--workloads", type=int, default=50_000)
        parser.add_argument("--hubs", type=int, default=30, help="Datasets each read by --hub-readers workloads.")
        parser.add_argument("--hub-readers", type=int, default=5_000)
        parser.add_argument("--owners", type=int, default=500)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--measure", action="store_true", help="Time pages and graph walks afterwards.")
        parser.add_argument("--measure-only", action="store_true", help="Measure an org generated before.")

    def handle(self, *args, **opts):
        if not opts["measure_only"]:
            if Organization.objects.filter(slug=opts["org"]).exists():
                raise CommandError(f"org {opts['org']} exists; pick another --org or use --measure-only")
            self.generate(opts)
        if opts["measure"] or opts["measure_only"]:
            self.measure(Organization.objects.get(slug=opts["org"]))

    # --- Generating ------------------------------------------------------------------------------

    def generate(self, opts) -> None:
        rng = random.Random(opts["seed"])
        started = time.monotonic()
        org, _ = create_org(slug=opts["org"], name=opts["org"].title(), actor="generate_catalog")
        clouds = [create_cloud(org=org, name=f"{org.slug}-{n}", actor="generate_catalog")[0] for n in ("prod", "dev")]
        projects = [create_project(cloud=clouds[i % 2], name=f"project-{i:02d}", public_id=f"prj_{org.slug}_{i:02d}",
                                   actor="generate_catalog")[0] for i in range(10)]
        user, _ = ensure_user(email=BENCH_USER)  # measured through force_login; no password
        set_membership(org=org, user=user, role=Role.MEMBER, actor="generate_catalog")
        owners = [BENCH_USER] + [f"user{i:04d}@{org.slug}.test" for i in range(1, opts["owners"])]
        # A few people own most things (Zipf-like), as in real teams.
        weights = [1 / (i + 1) ** 0.8 for i in range(len(owners))]
        cum = list(itertools.accumulate(weights))

        def owner() -> str:
            return rng.choices(owners, cum_weights=cum)[0]

        now = timezone.now()

        def when(rng_days: float) -> timezone.datetime:
            return now - timedelta(days=rng_days)

        n_assets, n_workloads = opts["assets"], opts["workloads"]
        self.stdout.write(f"assets: {n_assets}, workloads: {n_workloads}")
        per_layer = n_assets // LAYERS
        assets = []
        for i in range(n_assets):
            layer = min(i // per_layer, LAYERS - 1)
            is_model = rng.random() < 0.1 and layer > 2
            project = rng.choice(projects)
            dtype = "Model" if is_model else rng.choice(TYPES)
            ns = "mlflow://tracking" if is_model else f"s3://{org.slug}-layer{layer}-{i % 50:02d}"
            name = f"models/m-{i:07d}" if is_model else f"domain{i % 37:02d}/table_{i:07d}.{dtype.lower()}"
            assets.append(Asset(
                org=org, namespace=ns, name=name, kind=AssetKind.MODEL if is_model else AssetKind.DATASET,
                dataset_type=dtype, uri=f"{ns}/{name}", cloud_id=project.cloud_id, project=project,
                created_by=owner(), created_at=when(365 - layer * 30 - rng.random() * 30),
                updated_at=now,
                attrs={"facet:schema": {"fields": [{"name": f"c{k}", "type": "double"} for k in range(6)]},
                       **({"facet:mlflowModel": {"modelId": f"m-{i:07d}", "flavor": "sklearn",
                                                 "registeredName": f"model-{i % 300}",
                                                 "registeredVersion": str(i % 7 + 1)}} if is_model else {})},
            ))
        with transaction.atomic():
            Asset.objects.bulk_create(assets, batch_size=5_000)
        asset_ids = list(Asset.objects.in_org(org).order_by("id").values_list("id", flat=True))
        layers = [asset_ids[k * per_layer:(k + 1) * per_layer] for k in range(LAYERS)]
        self.stdout.write(f"  assets in {time.monotonic() - started:.0f} s")

        workloads = []
        for i in range(n_workloads):
            project = rng.choice(projects)
            created = when(365 - (i % (LAYERS - 1)) * 30 - rng.random() * 30)
            kind = rng.choice(KINDS)
            workloads.append(Workload(
                org=org, cloud_id=project.cloud_id, project=project, external_id=f"prodjob_{i:08d}", kind=kind,
                name=f"{'etl' if kind == 'job' else kind}-{i % 4000:04d}-{rng.choice(['daily', 'hourly', 'adhoc'])}",
                status=rng.choice(STATUSES), owner_email=owner(), created_at=created,
                updated_at=created + timedelta(hours=1),
                attrs={"ray_version": "2.60.0", "python_version": "3.11.11"},
            ))
        with transaction.atomic():
            Workload.objects.bulk_create(workloads, batch_size=5_000)
        wl = list(Workload.objects.in_org(org).order_by("id").values_list("id", "created_at"))
        self.stdout.write(f"  workloads in {time.monotonic() - started:.0f} s")

        edges: dict[tuple[int, int, str], object] = {}
        for i, (wid, created) in enumerate(wl):
            layer = i % (LAYERS - 1)
            for aid in rng.sample(layers[layer], rng.randint(1, 5)):
                edges[(wid, aid, Direction.INPUT)] = created
            for aid in rng.sample(layers[layer + 1], rng.randint(1, 3)):
                edges[(wid, aid, Direction.OUTPUT)] = created
        hubs = layers[0][:opts["hubs"]]
        for hub in hubs:
            for wid, created in rng.sample(wl, min(opts["hub_readers"], len(wl))):
                edges[(wid, hub, Direction.INPUT)] = created
        rows = [WorkloadAsset(org=org, workload_id=w, asset_id=a, direction=d, first_seen_at=t,
                              last_seen_at=t + timedelta(minutes=rng.randint(0, 10_000)))
                for (w, a, d), t in edges.items()]
        with transaction.atomic():
            WorkloadAsset.objects.bulk_create(rows, batch_size=10_000)
        self.stdout.write(f"  {len(rows)} workload<->asset edges in {time.monotonic() - started:.0f} s")

        jobs = [Job(org=org, namespace=f"prodjob_{i:08d}", name="main", created_at=t, updated_at=t)
                for i, (_, t) in enumerate(wl)]
        with transaction.atomic():
            Job.objects.bulk_create(jobs, batch_size=10_000)
        job_ids = list(Job.objects.in_org(org).order_by("id").values_list("id", flat=True))
        runs = [Run(org=org, run_id=uuid.UUID(int=rng.getrandbits(128)), job_id=job_ids[i], workload_id=wid,
                    state="COMPLETE", started_at=t, ended_at=t + timedelta(minutes=20), created_at=t + timedelta(days=k),
                    updated_at=t + timedelta(days=k))
                for i, (wid, t) in enumerate(wl) for k in range(2)]
        with transaction.atomic():
            Run.objects.bulk_create(runs, batch_size=10_000)
        self.stdout.write(f"  {len(jobs)} jobs, {len(runs)} runs in {time.monotonic() - started:.0f} s")
        if connection.vendor == "postgresql":
            # Fresh statistics, and (VACUUM) a visibility map so counts can be index-only. VACUUM
            # cannot run inside a transaction (as under a test); ANALYZE can.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for table in ("catalog_asset", "catalog_workload", "catalog_workloadasset", "catalog_run", "catalog_job"):
                    cursor.execute(f"{command} {table}")
        self.stdout.write(self.style.SUCCESS(f"generated in {time.monotonic() - started:.0f} s"))

    # --- Measuring -------------------------------------------------------------------------------

    def measure(self, org: Organization) -> None:
        client = Client()
        client.force_login(get_user_model().objects.get(email=BENCH_USER))
        s = f"/o/{org.slug}"
        a = f"/api/v1/o/{org.slug}"
        cloud = Cloud.objects.in_org(org).order_by("id").first()
        project = Project.objects.in_org(org).order_by("id").first()
        hub = Asset.objects.in_org(org).order_by("id").first()
        datasets = Asset.objects.in_org(org).filter(kind=AssetKind.DATASET).order_by("id")
        # A dataset half-way down the pipeline that is both written and read.
        half = datasets[datasets.count() // 2].pk
        written = WorkloadAsset.objects.in_org(org).filter(direction=Direction.OUTPUT, asset_id__gte=half)
        mid_id = (WorkloadAsset.objects.in_org(org).filter(direction=Direction.INPUT, asset__kind=AssetKind.DATASET,
                                                           asset_id__in=written.values("asset_id"))
                  .order_by("asset_id").values_list("asset_id", flat=True).first())
        mid = Asset.objects.get(pk=mid_id) if mid_id else datasets[datasets.count() // 2]
        first_layer = datasets[min(1_000, datasets.count() // 20)]  # an early one, not a hub
        workloads = Workload.objects.in_org(org).order_by("id")
        wl = workloads[min(123, workloads.count() - 1)]
        owner = "user0002@" + org.slug + ".test"
        cases = [
            ("datasets: default (created by me)", f"{s}/datasets/", {}),
            ("datasets: everyone, newest first", f"{s}/datasets/", {"created_by": ""}),
            ("datasets: everyone, page 2000 of 25", f"{s}/datasets/", {"created_by": "", "page": 2000}),
            ("datasets: sort by name", f"{s}/datasets/", {"created_by": "", "sort": "name"}),
            ("datasets: created by a heavy owner", f"{s}/datasets/", {"created_by": owner}),
            ("datasets: cloud + project", f"{s}/datasets/", {"created_by": "", "cloud": cloud.pk, "project": project.pk}),
            ("datasets: type CSV, 100 rows", f"{s}/datasets/", {"created_by": "", "type": "CSV", "per_page": 100}),
            ("datasets: name search 'table_01234'", f"{s}/datasets/", {"created_by": "", "q": "table_01234"}),
            ("datasets: created-at range", f"{s}/datasets/", {"created_by": "", "created_after": "2026-03-01",
                                                               "created_before": "2026-03-31"}),
            ("models: everyone", f"{s}/models/", {"created_by": ""}),
            ("workloads: default (me)", f"{s}/workloads/", {}),
            ("workloads: everyone", f"{s}/workloads/", {"created_by": ""}),
            ("workloads: type service, status FAILED", f"{s}/workloads/", {"created_by": "", "type": "service",
                                                                            "status": "FAILED"}),
            ("workloads: name search 'etl-0123'", f"{s}/workloads/", {"created_by": "", "q": "etl-0123"}),
            ("workloads: reading the hub", f"{s}/workloads/", {"created_by": "", "reads": hub.pk}),
            ("API datasets: everyone, 100 rows", f"{a}/datasets/", {"per_page": 100}),
            ("API workloads: name search", f"{a}/workloads/", {"q": "etl-0123"}),
            ("dataset page: hub (5000 readers)", f"{s}/datasets/{hub.pk}/", {}),
            ("dataset page: mid-pipeline", f"{s}/datasets/{mid.pk}/", {}),
            ("workload page", f"{s}/workloads/{wl.pk}/", {}),
            ("graph: hub, 1 hop (25 of 5000 shown)", f"{a}/graph/", {"node": f"asset:{hub.pk}"}),
            ("graph: mid dataset, 1 hop both", f"{a}/graph/", {"node": f"asset:{mid.pk}"}),
            ("graph: mid dataset, 3 hops both", f"{a}/graph/", {"node": f"asset:{mid.pk}", "depth": 3}),
            ("graph: mid dataset, 6 hops both, limit 500", f"{a}/graph/", {"node": f"asset:{mid.pk}", "depth": 6,
                                                                          "limit": 500}),
            ("graph: hub, 3 hops, 200 per node, limit 500", f"{a}/graph/", {"node": f"asset:{hub.pk}", "depth": 3,
                                                                           "per_node": 200, "limit": 500}),
            ("graph: workload, 2 hops, as of 30 days ago", f"{a}/graph/", {
                "node": f"workload:{wl.pk}", "depth": 2, "as_of": (timezone.now() - timedelta(days=30)).isoformat()}),
            ("impact: layer-0 dataset, 4 hops down", f"{a}/impact/", {"node": f"asset:{first_layer.pk}", "depth": 4}),
            ("impact: layer-0 dataset, 10 hops down (cap 2000)", f"{a}/impact/", {"node": f"asset:{first_layer.pk}",
                                                                                   "depth": 10}),
            ("impact: hub, 10 hops down (cap 10000)", f"{a}/impact/", {"node": f"asset:{hub.pk}", "depth": 10,
                                                                        "limit": 10_000}),
            ("impact: mid dataset, 10 hops up", f"{a}/impact/", {"node": f"asset:{mid.pk}", "depth": 10,
                                                                 "direction": "upstream"}),
        ]
        self.stdout.write(f"\n{'case':58} {'median ms':>9} {'max ms':>7} {'queries':>7}  notes")
        for label, url, params in cases:
            timings = []
            for _ in range(5):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    r = client.get(url, params)
                    timings.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise CommandError(f"{label}: {r.status_code} {r.content[:300]!r}")
            note = ""
            if r["Content-Type"].startswith("application/json"):
                body = r.json()
                if "nodes" in body:
                    note = f"{len(body['nodes'])} nodes, {len(body['edges'])} edges, truncated={body['truncated']}"
                elif "count" in body:
                    note = f"count={body['count']}" + (f", truncated={body['truncated']}" if "truncated" in body else "")
            elif r.context and "page" in r.context and hasattr(r.context["page"], "paginator"):
                note = f"count={r.context['page'].paginator.count}"
            self.stdout.write(f"{label:58} {statistics.median(timings[1:]):9.1f} {max(timings[1:]):7.1f} "
                              f"{len(ctx.captured_queries):7}  {note}")
        if connection.vendor == "postgresql":
            self.explain(org, hub, mid, owner)

    def explain(self, org, hub, mid, owner) -> None:
        from catalog.filters import AssetFilterSet, WorkloadFilterSet

        user = get_user_model().objects.get(email=BENCH_USER)

        class Req:
            pass

        req = Req()
        req.user = user
        datasets = Asset.objects.in_org(org).filter(kind=AssetKind.DATASET).defer("attrs", "stamps")
        plans = {
            "datasets created by me, newest first (page 1)":
                AssetFilterSet({"created_by": "me"}, datasets, request=req, org=org).qs[:25],
            "datasets name search":
                AssetFilterSet({"q": "table_01234"}, datasets, request=req, org=org).qs[:25],
            "datasets sorted by name":
                AssetFilterSet({"sort": "name"}, datasets, request=req, org=org).qs[:25],
            "workloads by owner":
                WorkloadFilterSet({"created_by": owner}, Workload.objects.in_org(org), request=req, org=org).qs[:25],
        }
        for label, qs in plans.items():
            self.stdout.write(f"\nEXPLAIN ANALYZE {label}:\n" + qs.explain(analyze=True))
        # The graph's own hop query (a window over each frontier node's edges), for a hub with
        # thousands of readers and an ordinary dataset. Django's QuerySet.explain() cannot wrap a
        # query filtered on a window function, so EXPLAIN the compiled SQL.
        ranked = graph.ranked_edges(org, "asset_id", "workload_id", [hub.pk, mid.pk], Direction.INPUT, as_of=None,
                                    per_node=graph.PER_NODE_DEFAULT, offset=0)
        sql, params = ranked.query.get_compiler(using=ranked.db).as_sql()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        self.stdout.write("\nEXPLAIN ANALYZE one graph hop (hub with 5000 readers + a dataset), 25 per node:\n" + plan)
