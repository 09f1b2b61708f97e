"""The whole pipeline with real services: the official OpenLineage client posts to a live server,
the view stores raw events in PostgreSQL and publishes to Redis, a real Celery worker process
normalizes them into the catalog.

A small ML pipeline: a feature job reads raw CSV from S3 and writes Parquet features to shared
storage, a training job reads the features and logs an MLflow model, a service loads the model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_type_dataset, schema_dataset
from openlineage.client.uuid import generate_new_uuid

from catalog.models import Asset, Workload, WorkloadAsset
from catalog.models import Run as CatalogRun
from clouds.models import LineageToggleChange
from ingest.models import RawEvent, RawStatus
from tests.conftest import make_tenant
from tests.e2e.support import (
    PRODUCER,
    MlflowModelDatasetFacet,
    StatusRecorder,
    WorkloadRunFacet,
    celery_broker,
    iso,
    ol_client,
    queue_length,
    start_worker,
    subprocess_database_url,
    wait_until,
)

pytestmark = pytest.mark.services

PRIVATE_REDIS_DB = 14
NAMESPACE = "e2e-pipeline"
RAW = ("s3://raw-bucket", "data/raw/transactions.csv")
FEATURES_PATH = "/mnt/shared_storage/features/transactions.parquet"
MODEL = ("s3://mlflow-artifacts", "experiments/7/models/m-0f1e2d3c/artifacts")


@pytest.fixture
def private_broker(settings):
    """A Redis database of our own on the Redis the suite uses (flushed before and after), and the
    in-process Celery app (hence the live server) publishing to it."""
    parts = urlsplit(settings.CELERY_BROKER_URL or "redis://127.0.0.1:6379/15")
    assert parts.scheme == "redis", f"these tests need a Redis broker, not {settings.CELERY_BROKER_URL!r}"
    url = urlunsplit((parts.scheme, parts.netloc, f"/{PRIVATE_REDIS_DB}", "", ""))
    assert url != settings.CELERY_BROKER_URL, "pick another PRIVATE_REDIS_DB than the suite's broker database"
    r = redis.Redis.from_url(url, socket_connect_timeout=2)
    r.flushdb()
    try:
        with celery_broker(url, settings):
            yield url
    finally:
        r.flushdb()
        r.close()


def _pipeline_events(*, cloud_slug: str, cluster_started: str, start: datetime) -> list[RunEvent]:
    """Six events, as the three workloads would send them, in the order they happen."""
    minute = timedelta(minutes=1)

    def workload(kind: str, wid: str, name: str, cluster: str) -> WorkloadRunFacet:
        return WorkloadRunFacet(type=kind, id=wid, name=name, ownerEmail=f"{name}@acme.test", clusterId=cluster,
                                clusterStartedAt=cluster_started, producer=PRODUCER)

    raw = InputDataset(namespace=RAW[0], name=RAW[1])
    features_schema = schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name="amount", type="double"),
        schema_dataset.SchemaDatasetFacetFields(name="is_fraud", type="boolean"),
    ])
    features_out = OutputDataset(namespace="file", name=FEATURES_PATH, facets={"schema": features_schema})
    features_in = InputDataset(namespace="file", name=FEATURES_PATH)
    # A scratch file outside the tracked mounts: kept in the raw event, left out of the catalog.
    scratch = InputDataset(namespace="file", name="/tmp/scratch/seed.csv")
    model_facets = {
        "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(datasetType="MODEL"),
        "mlflowModel": MlflowModelDatasetFacet(modelId="m-0f1e2d3c", flavor="sklearn", runId="a1b2c3",
                                               experimentId="7", artifactPath="model",
                                               registeredName="fraud-detector", registeredVersion="3"),
    }
    model_out = OutputDataset(namespace=MODEL[0], name=MODEL[1], facets=model_facets)
    model_in = InputDataset(namespace=MODEL[0], name=MODEL[1], facets=model_facets)

    feat = Run(runId=str(generate_new_uuid()),
               facets={"workload": workload("job", "prodjob_features", "features", f"ses_{cloud_slug}_1")})
    train = Run(runId=str(generate_new_uuid()),
                facets={"workload": workload("job", "prodjob_train", "train", f"ses_{cloud_slug}_2")})
    serve = Run(runId=str(generate_new_uuid()),
                facets={"workload": workload("service", "service_scoring", "scoring", f"ses_{cloud_slug}_3")})

    def ev(state: RunState, run: Run, job: str, at: int, inputs: list, outputs: list) -> RunEvent:
        return RunEvent(eventType=state, eventTime=iso(start + at * minute), run=run,
                        job=Job(namespace=NAMESPACE, name=job), producer=PRODUCER, inputs=inputs, outputs=outputs)

    return [
        ev(RunState.START, feat, "build_features", 0, [raw], []),
        ev(RunState.COMPLETE, feat, "build_features", 1, [raw], [features_out]),
        ev(RunState.START, train, "train_model", 2, [features_in, scratch], []),
        ev(RunState.COMPLETE, train, "train_model", 3, [features_in, scratch], [model_out]),
        ev(RunState.START, serve, "serve_model", 4, [model_in], []),
        ev(RunState.RUNNING, serve, "serve_model", 5, [model_in], []),
    ]


def _catalog(org) -> dict:
    return {
        "workloads": sorted(Workload.objects.in_org(org).values_list("external_id", "kind", "name", "owner_email",
                                                                      "derived")),
        "assets": sorted(Asset.objects.in_org(org).values_list("namespace", "name", "kind", "dataset_type", "uri")),
        "edges": sorted(WorkloadAsset.objects.in_org(org).values_list("workload__external_id", "asset__namespace",
                                                                       "asset__name", "direction")),
        "runs": sorted(CatalogRun.objects.in_org(org).values_list("workload__external_id", "job__name", "state")),
        "raw": sorted(RawEvent.objects.in_org(org).values_list("status", flat=True)),
    }


@pytest.mark.parametrize("compression", [None, "gzip"], ids=["plain", "gzip"])
def test_pipeline_through_real_worker(private_broker, live_server, processes, tmp_path, compression):
    # Fixture order matters: `processes` (the worker) is torn down before `private_broker` is flushed.
    tenant = make_tenant(f"pipe-{compression or 'plain'}")
    org, cloud = tenant.org, tenant.cloud
    toggled_on = LineageToggleChange.objects.filter(cloud=cloud, enabled=True).latest("changed_at").changed_at
    now = datetime.now(UTC)
    cluster_started = now - timedelta(hours=1)
    assert toggled_on < cluster_started, "the clusters must start after the cloud's lineage toggle went on"
    events = _pipeline_events(cloud_slug=org.slug, cluster_started=iso(cluster_started), start=now)

    recorder = StatusRecorder()
    client = ol_client(live_server.url, tenant.key, compression=compression, recorder=recorder)

    # 1. No worker yet: the first event is stored pending and its task waits on *our* broker.
    client.emit(events[0])
    first = RawEvent.objects.in_org(org).get()
    assert first.status == RawStatus.PENDING
    # The server's scheduler thread publishes just after the response (ingest.scheduling).
    wait_until(lambda: queue_length(private_broker) == 1, timeout=5,
               message="the live server to publish to the broker the worker consumes")

    # 2. A real worker picks it up.
    worker = processes.add(start_worker(broker_url=private_broker, database_url=subprocess_database_url(),
                                        log_path=tmp_path / "worker.log", name="e2e-pipeline"))
    wait_until(lambda: RawEvent.objects.get(pk=first.pk).status == RawStatus.PROCESSED, timeout=60,
               message=lambda: f"the worker to process the first event; worker log:\n{worker.log()}")

    # 3. The rest of the pipeline, while the worker runs.
    for event in events[1:]:
        client.emit(event)
    client.close()
    assert recorder.statuses == [201] * len(events)
    assert {enc for _, enc in recorder.responses} == ({"gzip"} if compression else {""})

    features_ns = f"file://{cloud.public_id}"
    expected = {
        "workloads": sorted([
            ("prodjob_features", "job", "features", "features@acme.test", False),
            ("prodjob_train", "job", "train", "train@acme.test", False),
            ("service_scoring", "service", "scoring", "scoring@acme.test", False),
        ]),
        "assets": sorted([
            (RAW[0], RAW[1], "dataset", "CSV", f"{RAW[0]}/{RAW[1]}"),
            (features_ns, FEATURES_PATH, "dataset", "Parquet", f"{features_ns}{FEATURES_PATH}"),
            (MODEL[0], MODEL[1], "model", "Model", f"{MODEL[0]}/{MODEL[1]}"),
        ]),
        "edges": sorted([
            ("prodjob_features", RAW[0], RAW[1], "in"),
            ("prodjob_features", features_ns, FEATURES_PATH, "out"),
            ("prodjob_train", features_ns, FEATURES_PATH, "in"),
            ("prodjob_train", MODEL[0], MODEL[1], "out"),
            ("service_scoring", MODEL[0], MODEL[1], "in"),
        ]),
        "runs": sorted([
            ("prodjob_features", "build_features", "COMPLETE"),
            ("prodjob_train", "train_model", "COMPLETE"),
            ("service_scoring", "serve_model", "RUNNING"),
        ]),
        "raw": ["processed"] * len(events),
    }
    wait_until(lambda: _catalog(org) == expected, timeout=60,
               message=lambda: f"the catalog to match.\nexpected {expected}\n     got {_catalog(org)}\n"
                               f"worker log:\n{worker.log()}")

    # The custom and standard facets made it through the client, the raw store and the worker.
    model = Asset.objects.in_org(org).get(kind="model")
    assert model.facets["mlflowModel"]["registeredName"] == "fraud-detector"
    assert model.facets["mlflowModel"]["_schemaURL"].startswith("/spec/facets/1-0-0/MlflowModelDatasetFacet.json")
    features = Asset.objects.in_org(org).get(namespace=features_ns)
    assert [f["name"] for f in features.schema_fields] == ["amount", "is_fraud"]
    scoring = Workload.objects.in_org(org).get(external_id="service_scoring")
    assert scoring.attrs["cluster_id"] == f"ses_{org.slug}_3"
    assert scoring.cloud_id == cloud.pk
    assert not RawEvent.objects.in_org(org).exclude(error="").exists()
    # The scheduler may publish one more drain after an earlier one already normalized its events:
    # the worker takes it too, and nothing stays queued.
    wait_until(lambda: queue_length(private_broker) == 0, timeout=30,
               message=lambda: f"the worker to empty the queue; worker log:\n{worker.log()}")
    assert worker.alive(), worker.log()
