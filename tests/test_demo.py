"""`manage.py load_demo`: the demo tenant and its history, sent over HTTP through the real ingest endpoint."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import jsonschema
import pytest
from django.core.management import call_command
from openlineage.client.serde import Serde

from catalog import demo
from catalog.models import Asset, AssetKind, Job, Run, RunAsset, SchemaVersion, Workload, WorkloadAsset
from clouds.models import Cloud, CloudOwner, IngestKey, LineageToggleChange, Project
from ingest.models import DropCount, RawEvent, RawStatus
from ingest.views import SPEC_DIR
from lineage_project.celery import app as celery_app
from orgs.models import AuditEntry, Membership, Organization

PUBLIC_URL = "http://127.0.0.1:8000"


@pytest.fixture
def in_process_normalization():
    """The command normalizes in-process when no broker is configured; with one (make test-services)
    nothing here runs a worker, so run the tasks eagerly for this test."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def load() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def wid(key: str, kind: str = "job") -> str:
    return demo.workload_id(key, kind)


def edge(workload_ext_id: str, asset: Asset, direction: str) -> bool:
    return WorkloadAsset.objects.filter(workload__external_id=workload_ext_id, asset=asset, direction=direction).exists()


def state() -> dict[str, int]:
    tables = (Organization, Membership, CloudOwner, Cloud, Project, LineageToggleChange, IngestKey, AuditEntry,
              RawEvent, DropCount, Workload, Job, Run, Asset, SchemaVersion, RunAsset, WorkloadAsset)
    return {model.__name__: model.objects.count() for model in tables}


@pytest.mark.django_db(transaction=True)
def test_load_demo_builds_the_catalog_through_the_ingest_endpoint_and_a_rerun_changes_nothing(in_process_normalization):
    output = load()

    org = Organization.objects.get(slug="acme")
    prod, dev = Cloud.objects.get(org=org, name=demo.PROD), Cloud.objects.get(org=org, name=demo.DEV)
    assert org.lineage_beta_enabled
    assert prod.lineage_enabled and not dev.lineage_enabled
    assert "OPENLINEAGE_URL=http://127.0.0.1:8000 OPENLINEAGE_API_KEY=lk_" in output
    assert demo.PASSWORD in output
    assert "acme-prod: 34 accepted" in output
    assert "acme-dev: 4 accepted, 2 dropped" in output

    # Every stored event went through the pipeline into the catalog.
    assert set(RawEvent.objects.in_org(org).values_list("status", flat=True)) == {RawStatus.PROCESSED}
    workloads = Workload.objects.in_org(org)
    assert {k: workloads.filter(kind=k).count() for k in ("job", "service", "workspace")} == \
        {"job": 8, "service": 2, "workspace": 2}
    assert Asset.objects.in_org(org).filter(kind=AssetKind.DATASET).count() == 25
    assert Asset.objects.in_org(org).filter(kind=AssetKind.MODEL).count() == 4
    assert {a.dataset_type for a in Asset.objects.in_org(org).filter(kind=AssetKind.DATASET)} >= \
        {"Parquet", "CSV", "JSON", "Image", "Text", "Table", "Audio"}
    assert len(set(workloads.values_list("owner_email", flat=True))) >= 4

    # The walk: features -> training job -> model -> service that loads it.
    features = Asset.objects.get(org=org, namespace="s3://acme-features", name="forecasting/demand_features.parquet")
    models = {(m.facets["mlflowModel"]["registeredName"], m.facets["mlflowModel"]["registeredVersion"]): m
              for m in Asset.objects.in_org(org).filter(kind=AssetKind.MODEL)}
    model = models[("demand-forecaster", "2")]
    assert edge(wid("retrain-demand-forecaster"), model, "out")
    assert edge(wid("retrain-demand-forecaster"), features, "in")
    assert edge(wid("forecast-api", "service"), model, "in")
    assert Workload.objects.get(org=org, external_id=wid("forecast-api", "service")).kind == "service"
    # ... and upstream of the features, the dbt-like producer's tables.
    orders_daily = Asset.objects.get(org=org, name="analytics.public.orders_daily")
    assert orders_daily.dataset_type == "Table"
    dbt = Workload.objects.get(org=org, external_id="dbt://acme-analytics/dbt-run-acme_analytics")
    assert dbt.derived and dbt.kind == "job" and dbt.owner_email == "dana@acme.test"
    assert WorkloadAsset.objects.filter(workload=dbt, asset=orders_daily, direction="out").exists()
    assert edge(wid("build-demand-features/2"), orders_daily, "in")

    # The schema of the features changed between the two builds; one output carries column lineage.
    assert features.schema_versions.count() == 2
    assert "promo_active" in [f["name"] for f in features.schema_fields]
    labeled = Asset.objects.get(org=org, name="perception/labeled_frames.parquet")
    assert set(labeled.facets["columnLineage"]["fields"]) == {"frame_id", "camera", "path", "label", "bbox"}
    failed = Run.objects.get(org=org, state="FAIL")
    assert "CUDA out of memory" in failed.error_message
    assert failed.workload.external_id == wid("train-demand-forecaster/1")

    # Local paths: the mounts are rewritten, anything else is left out (the raw event keeps it).
    assert not Asset.objects.filter(name__startswith="/tmp").exists()
    assert RawEvent.objects.filter(body__contains=demo.OUTSIDE_PATH).exists()
    assert Asset.objects.filter(org=org, namespace=f"file://{prod.public_id}",
                                name="/mnt/shared_storage/perception/frames_index.parquet").exists()
    assert Asset.objects.filter(org=org, namespace=f"file://{wid('ingest-camera-frames')}",
                                name="/mnt/cluster_storage/decoded/batch-00000.parquet").exists()
    assert Asset.objects.get(org=org, namespace=f"file://{wid('llm-sandbox', 'workspace')}").kind == AssetKind.MODEL

    # acme-dev: the workspace whose cluster started while the toggle was on is kept, the smoke
    # test whose cluster started after it went off is dropped and not stored.
    smoke = wid(demo.SMOKE_TEST_WORKLOAD)
    assert not Workload.objects.filter(external_id=smoke).exists()
    assert not RawEvent.objects.filter(body__contains=smoke).exists()
    assert sum(DropCount.objects.filter(cloud=dev).values_list("count", flat=True)) == 2
    assert Workload.objects.filter(org=org, external_id=wid("llm-sandbox", "workspace"), cloud=dev).exists()

    # The custom facets went over the wire as the client serialized them.
    body = json.loads(RawEvent.objects.filter(body__contains=wid("retrain-demand-forecaster")).first().body)
    assert body["run"]["facets"]["workload"]["_schemaURL"] == \
        f"{PUBLIC_URL}/spec/facets/1-0-0/WorkloadRunFacet.json#/$defs/WorkloadRunFacet"

    # The globex outsider sees nothing of acme.
    assert not Membership.objects.filter(org=org, user__username="outsider@globex.test").exists()

    before = state()
    again = load()
    assert "already loaded" in again and "OPENLINEAGE_API_KEY" not in again
    assert state() == before


def test_custom_facets_serialize_to_their_served_schemas():
    history = demo.build_history(datetime(2026, 11, 1, 12, tzinfo=UTC), PUBLIC_URL)
    events = [Serde.to_dict(e.event) for e in history.events]
    workload = events[0]["run"]["facets"]["workload"]
    mlflow = next(o["facets"]["mlflowModel"] for e in events for o in e["outputs"] if "mlflowModel" in o["facets"])
    for facet, name in ((workload, "WorkloadRunFacet"), (mlflow, "MlflowModelDatasetFacet")):
        assert facet["_schemaURL"] == f"{PUBLIC_URL}/spec/facets/1-0-0/{name}.json#/$defs/{name}"
        assert facet["_producer"] == demo.PRODUCER
        schema = json.loads((SPEC_DIR / f"{name}.json").read_text())["$defs"][name]["allOf"][1]
        jsonschema.validate(facet, schema)
    assert workload["resources"]["memoryBytes"] > 0 and workload["clusterStartedAt"].endswith("Z")
    # Deterministic: the same instant gives the same events.
    again = demo.build_history(datetime(2026, 11, 1, 12, tzinfo=UTC), PUBLIC_URL)
    assert [Serde.to_json(e.event) for e in again.events] == [json.dumps(e, sort_keys=True) for e in events]
