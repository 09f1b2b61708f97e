"""Normalization into the catalog: known answers for a hand-built history, and order independence."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import Asset, AssetKind, Run, SchemaVersion, Workload, WorkloadAsset
from ingest.models import RawEvent
from ingest.pipeline import normalize_raw_events
from tests.catalog_snapshot import snapshot
from tests.conftest import post_event
from tests.events import PRODUCER, at, dataset, model, rid, run_event, workload

pytestmark = pytest.mark.django_db

RAW = dataset("s3://acme-raw", "events/2026-11-01.csv", fields=[("user_id", "int"), ("event", "string")])
FEATURES = dataset("file", "/mnt/shared_storage/features/daily", fields=[("user_id", "int"), ("f1", "double")],
                   storage={"_producer": PRODUCER, "_schemaURL": "x", "storageLayer": "default", "fileFormat": "parquet"})
FEATURES_V2 = dataset("file", "/mnt/shared_storage/features/daily",
                      fields=[("user_id", "int"), ("f1", "double"), ("f2", "double")])
MODEL = model("mlflow://tracking", "models/m-123", modelId="m-123", flavor="sklearn", registeredName="churn",
              registeredVersion="3", runId="abc", experimentId="7", artifactPath="model")


def wl(wid, type="job", owner="ana@acme.test", **kw):
    return workload(wid, type=type, owner=owner, name=wid.replace("-", " "), projectId="prj_acme_training", **kw)


def history() -> list[dict]:
    """ingest reads raw and writes features; train reads features and logs a model; serve loads it."""
    return [
        run_event("START", "ingest-1", job=("wl-ingest", "etl"), time=at(0), workload_facet=wl("wl-ingest", status="RUNNING"),
                  inputs=[RAW]),
        run_event("COMPLETE", "ingest-1", job=("wl-ingest", "etl"), time=at(5),
                  workload_facet=wl("wl-ingest", status="SUCCEEDED"), inputs=[RAW], outputs=[FEATURES]),
        run_event("START", "train-1", job=("wl-train", "fit"), time=at(10), workload_facet=wl("wl-train", owner="bo@acme.test"),
                  inputs=[FEATURES]),
        run_event("FAIL", "train-1", job=("wl-train", "fit"), time=at(12), workload_facet=wl("wl-train", owner="bo@acme.test"),
                  errorMessage={"_producer": PRODUCER, "_schemaURL": "x", "message": "CUDA out of memory",
                                "programmingLanguage": "python"}),
        run_event("START", "train-2", job=("wl-train", "fit"), time=at(20), workload_facet=wl("wl-train", owner="bo@acme.test"),
                  inputs=[FEATURES_V2]),
        run_event("COMPLETE", "train-2", job=("wl-train", "fit"), time=at(30),
                  workload_facet=wl("wl-train", owner="bo@acme.test", rayVersion="2.49.0"),
                  inputs=[FEATURES_V2], outputs=[MODEL]),
        run_event("OTHER", "train-2", job=("wl-train", "fit"), time=at(31),
                  environmentVariables={"_producer": PRODUCER, "_schemaURL": "x", "environmentVariables": [
                      {"name": "AWS_SECRET_ACCESS_KEY", "value": "hunter2"}, {"name": "OMP_NUM_THREADS", "value": "4"}]}),
        run_event("START", "serve-1", job=("wl-serve", "load"), time=at(40), workload_facet=wl("wl-serve", type="service"),
                  inputs=[MODEL]),
        # A dbt-like producer without our facet: its workload is the root of the parent chain.
        run_event("COMPLETE", "dbt-model-1", job=("dbt", "analytics.orders"), time=at(50),
                  parent={"run": {"runId": rid("dbt-run")}, "job": {"namespace": "dbt", "name": "dbt-run"},
                          "root": {"run": {"runId": rid("dag")}, "job": {"namespace": "airflow", "name": "nightly"}}},
                  inputs=[dataset("postgres://db:5432", "shop.public.orders")],
                  outputs=[dataset("postgres://db:5432", "shop.analytics.orders_daily")]),
    ]


def post_all(tenant, events):
    client = Client()
    for event in events:
        r = post_event(client, tenant.key, event)
        assert r.status_code in (200, 201), r.content


def edges(direction):
    return {(e.workload.external_id, e.asset.name) for e in
            WorkloadAsset.objects.filter(direction=direction).select_related("workload", "asset")}


def test_history_gives_the_known_catalog(tenant):
    post_all(tenant, history())

    assert {(w.external_id, w.kind, w.derived) for w in Workload.objects.all()} == {
        ("wl-ingest", "job", False), ("wl-train", "job", False), ("wl-serve", "service", False),
        ("airflow/nightly", "job", True),
    }
    ingest = Workload.objects.get(external_id="wl-ingest")
    assert ingest.status == "SUCCEEDED" and ingest.owner_email == "ana@acme.test"
    assert ingest.project.public_id == "prj_acme_training" and ingest.cloud == tenant.cloud
    assert Workload.objects.get(external_id="wl-train").details["ray_version"] == "2.49.0"

    assert edges("in") == {
        ("wl-ingest", "events/2026-11-01.csv"), ("wl-train", "/mnt/shared_storage/features/daily"),
        ("wl-serve", "models/m-123"), ("airflow/nightly", "shop.public.orders"),
    }
    assert edges("out") == {
        ("wl-ingest", "/mnt/shared_storage/features/daily"), ("wl-train", "models/m-123"),
        ("airflow/nightly", "shop.analytics.orders_daily"),
    }

    features = Asset.objects.get(name="/mnt/shared_storage/features/daily")
    assert features.namespace == f"file://{tenant.cloud.public_id}"
    assert features.uri == f"file://{tenant.cloud.public_id}/mnt/shared_storage/features/daily"
    assert features.dataset_type == "Parquet" and features.kind == AssetKind.DATASET
    assert features.created_by == "ana@acme.test"  # its producer, not its later readers
    assert [f["name"] for f in features.schema_fields] == ["user_id", "f1", "f2"]  # latest schema
    assert SchemaVersion.objects.filter(asset=features).count() == 2

    m = Asset.objects.get(name="models/m-123")
    assert m.kind == AssetKind.MODEL and m.dataset_type == "Model" and m.created_by == "bo@acme.test"
    assert m.facets["mlflowModel"]["registeredName"] == "churn"
    assert Asset.objects.get(name="events/2026-11-01.csv").dataset_type == "CSV"
    assert Asset.objects.get(name="shop.public.orders").dataset_type == "Table"

    failed = Run.objects.get(run_id=rid("train-1"))
    assert failed.state == "FAIL" and failed.error_message == "CUDA out of memory"
    assert failed.ended_at is not None
    done = Run.objects.get(run_id=rid("train-2"))
    assert done.state == "COMPLETE"  # the later OTHER event adds facets, not a state
    env = {v["name"]: v["value"] for v in done.facets["environmentVariables"]["environmentVariables"]}
    assert env == {"AWS_SECRET_ACCESS_KEY": "[redacted]", "OMP_NUM_THREADS": "4"}
    assert "hunter2" not in json.dumps(done.attrs)

    dbt = Run.objects.get(run_id=rid("dbt-model-1"))
    assert str(dbt.parent_run_id) == rid("dbt-run") and dbt.workload.external_id == "airflow/nightly"


def test_complete_before_start_ends_the_same(tenant):
    start = run_event("START", "r", time=at(0), workload_facet=wl("w"))
    complete = run_event("COMPLETE", "r", time=at(9), workload_facet=wl("w"))
    post_all(tenant, [complete, start])
    run = Run.objects.get()
    assert run.state == "COMPLETE"
    assert run.started_at.isoformat().startswith("2026-11-01T12:00:00")
    assert run.ended_at.isoformat().startswith("2026-11-01T12:09:00")


def test_late_better_informed_event_moves_the_run_to_its_workload(tenant):
    # COMPLETE arrives first without the workload facet (its workload is guessed from the job)...
    complete = run_event("COMPLETE", "r", job=("ns", "step"), time=at(9), outputs=[dataset("s3://b", "k")])
    post_all(tenant, [complete])
    assert Workload.objects.get().external_id == "ns/step"
    # ...then START names the real workload: the run, its edges, and nothing of the guess remain.
    post_all(tenant, [run_event("START", "r", job=("ns", "step"), time=at(0), workload_facet=wl("w-real"))])
    assert list(Workload.objects.values_list("external_id", flat=True)) == ["w-real"]
    assert edges("out") == {("w-real", "k")}


def test_rebuild_from_raw_events_gives_the_same_catalog(tenant):
    from django.core.management import call_command

    post_all(tenant, history())
    before = snapshot(tenant.org)
    call_command("rebuild_catalog", "acme", stdout=open("/dev/null", "w"))
    assert snapshot(tenant.org) == before


EVENTS = history()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(EVENTS))), replays=st.lists(st.integers(0, len(EVENTS) - 1), max_size=5),
       batch=st.booleans())
def test_any_order_and_any_replay_gives_the_same_catalog(tenant, order, replays, batch):
    def build(sequence, as_batch):
        sid = transaction.savepoint()
        try:
            if as_batch:
                r = post_event(Client(), tenant.key, [EVENTS[i] for i in sequence], path="/api/v1/lineage/batch")
                assert r.status_code == 200
            else:
                post_all(tenant, [EVENTS[i] for i in sequence])
            return snapshot(tenant.org)
        finally:
            transaction.savepoint_rollback(sid)

    reference = build(range(len(EVENTS)), False)
    assert build([*order, *replays], batch) == reference


def test_a_week_late_replay_changes_nothing(tenant):
    post_all(tenant, history())
    before = snapshot(tenant.org)
    # Replayed by a client later (a new delivery of the same events) and reprocessed by the worker.
    RawEvent.objects.update(status="pending")
    normalize_raw_events(RawEvent.objects.values_list("id", flat=True))
    post_all(tenant, history()[::-1])
    assert snapshot(tenant.org) == before


def test_a_reader_does_not_rewrite_what_the_producer_said(tenant):
    logged = model("mlflow://t", "models/m-9", modelId="m-9", flavor="sklearn", experimentId="7")
    loaded = model("mlflow://t", "models/m-9", modelId="m-9", flavor="pyfunc")
    # The load happens later, and arrives first.
    post_all(tenant, [run_event("START", "serve", time=at(50), workload_facet=wl("svc", type="service"), inputs=[loaded]),
                      run_event("COMPLETE", "train", time=at(10), workload_facet=wl("trainer"), outputs=[logged])])
    facet = Asset.objects.get(name="models/m-9").facets["mlflowModel"]
    assert (facet["flavor"], facet["experimentId"]) == ("sklearn", "7")


def test_beta_switch_updates_the_callers_instance(tenant):
    from orgs.services import set_lineage_beta

    org = tenant.org
    set_lineage_beta(org=org, enabled=False)
    assert org.lineage_beta_enabled is False
