"""The demo tenant and its lineage history, loaded by `manage.py load_demo`.

The tenant (organizations, clouds, projects, users, toggle history, ingest keys) is created with
the apps' service functions, idempotently. The history goes in the way real lineage does: as
OpenLineage events built with the official `openlineage-python` client and posted over HTTP,
with each cloud's ingest key, to the real ingest endpoint served by a temporary in-process WSGI
server. So the demo exercises the whole pipeline: authentication, the capture rule, the raw
store, normalization and the catalog.

The history is deterministic (run ids are uuid5 of fixed labels) but its times are relative to
"now", so the UI looks fresh. Because of that a second load would store the same runs again with
shifted times; the loader therefore sends the history only once per database (see
`history_loaded`).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attr
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connections
from django.db.models import Count
from django.utils import timezone
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    column_lineage_dataset,
    dataset_type_dataset,
    datasource_dataset,
    environment_variables_run,
    error_message_run,
    execution_parameters_run,
    job_type_job,
    ownership_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_location_job,
    storage_dataset,
)
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from requests import Response, Session

from catalog.models import Asset, AssetKind, Workload
from clouds.models import Cloud, IngestKey
from clouds.services import (
    create_cloud,
    create_ingest_key,
    create_project,
    grant_ownership,
    set_cloud_lineage,
)
from ingest.models import RawEvent
from orgs.models import Organization, Role
from orgs.services import create_org, ensure_user, set_lineage_beta, set_membership

ACTOR = "manage.py load_demo"
PASSWORD = "demo-password-123"
ORG_SLUG, ORG_NAME = "acme", "Acme Robotics"
OTHER_ORG_SLUG, OTHER_ORG_NAME = "globex", "Globex Corporation"
PROD, DEV = "acme-prod", "acme-dev"
# (cloud, project name, fixed public id): events name projects by public id.
PROJECTS = (
    (PROD, "perception", "prj_perception"),
    (PROD, "forecasting", "prj_forecasting"),
    (DEV, "sandbox", "prj_sandbox"),
)
# (email, role in acme or None, platform staff, what they show)
USERS = (
    ("admin@acme.test", Role.ADMIN, False, "org admin of acme"),
    ("owner@acme.test", Role.MEMBER, False, f"member of acme, owner of cloud {PROD}"),
    ("member@acme.test", Role.MEMBER, False, "member of acme"),
    ("auditor@acme.test", Role.AUDITOR, False, "auditor of acme"),
    ("staff@platform.test", None, True, "platform staff (Django admin, beta switch for any org)"),
    ("outsider@globex.test", None, False, "admin of globex only: sees nothing of acme"),
)
# Toggle history: acme-prod on since 30 days ago; acme-dev on 10 days ago, off 2 days ago.
PROD_ON_SINCE = timedelta(days=30)
DEV_ON_SINCE, DEV_OFF_SINCE = timedelta(days=10), timedelta(days=2)

PRODUCER = "https://github.com/acme-robotics/lineage-demo/tree/1.0.0"
DBT_PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/dbt"
RAY_VERSION, PYTHON_VERSION, OS_VERSION = "2.60.0", "3.11.11", "Ubuntu 22.04.5 LTS"
IMAGE = "anyscale/ray:2.60.0-slim-py311-cu128"
REPO = "https://github.com/acme-robotics/ml-platform"
GIB = 1024**3
# The acme-dev job whose cluster starts after the toggle went off (its events are dropped), and
# the local path outside the tracked mounts (left out of the catalog).
SMOKE_TEST_WORKLOAD = "nightly-smoke-test"
OUTSIDE_PATH = "/tmp/scratch.csv"


# --- Custom facets -------------------------------------------------------------------------------
# Built like the client's generated facets (attrs classes over RunFacet / DatasetFacet), so the
# client's serializer handles them. `_schemaURL` points at the schema this application serves
# under /spec/facets/ on the server the demo is meant to be browsed on.


def facet_schema_url(base_url: str, definition: str) -> str:
    return f"{base_url.rstrip('/')}/spec/facets/1-0-0/{definition}.json#/$defs/{definition}"


@attr.define
class WorkloadResources:
    nodes: int | None = attr.field(default=None)
    cpus: float | None = attr.field(default=None)
    gpus: float | None = attr.field(default=None)
    gpuType: str | None = attr.field(default=None)
    memoryBytes: int | None = attr.field(default=None)


@attr.define
class WorkloadRunFacet(RunFacet):
    """Run facet `workload`: the platform workload (Job, Service, Workspace) and its cluster."""

    type: str
    id: str
    name: str | None = attr.field(default=None)
    projectId: str | None = attr.field(default=None)
    ownerEmail: str | None = attr.field(default=None)
    clusterId: str | None = attr.field(default=None)
    clusterStartedAt: str | None = attr.field(default=None)
    status: str | None = attr.field(default=None)
    rayVersion: str | None = attr.field(default=None)
    pythonVersion: str | None = attr.field(default=None)
    osVersion: str | None = attr.field(default=None)
    resources: WorkloadResources | None = attr.field(default=None)
    image: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return "/spec/facets/1-0-0/WorkloadRunFacet.json#/$defs/WorkloadRunFacet"


@attr.define
class MlflowModelDatasetFacet(DatasetFacet):
    """Dataset facet `mlflowModel`: the dataset is an MLflow model, and which one."""

    modelId: str | None = attr.field(default=None)
    flavor: str | None = attr.field(default=None)
    runId: str | None = attr.field(default=None)
    experimentId: str | None = attr.field(default=None)
    artifactPath: str | None = attr.field(default=None)
    modelUri: str | None = attr.field(default=None)
    registeredName: str | None = attr.field(default=None)
    registeredVersion: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return "/spec/facets/1-0-0/MlflowModelDatasetFacet.json#/$defs/MlflowModelDatasetFacet"


def _with_schema(facet: Any, url: str) -> Any:
    # BaseFacet sets _schemaURL from a static _get_schema(); ours depends on the server's address.
    facet._schemaURL = url
    return facet


# --- The history ---------------------------------------------------------------------------------


def demo_uuid(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://acme.test/lineage-demo/{label}"))


def _hex(label: str, n: int) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:n]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class DemoWorkload:
    key: str
    kind: str  # job | service | workspace
    name: str
    cloud: str
    project: str  # public id
    owner: str
    cluster_started: datetime
    gpus: int = 0

    @property
    def id(self) -> str:
        return workload_id(self.key, self.kind)

    @property
    def cluster_id(self) -> str:
        return f"ses_{_hex(self.key + '/cluster', 20)}"

    @property
    def parent(self) -> tuple[str, str, str]:
        """(job namespace, job name, run id) of the workload-level run the plugins hang runs under."""
        return self.id, self.name, demo_uuid(f"workload/{self.key}")


@dataclass(frozen=True)
class Ds:
    """A dataset as an event names it, with the facets that event carries."""

    namespace: str
    name: str
    facets: dict[str, DatasetFacet] = field(default_factory=dict, hash=False, compare=False)

    def as_input(self) -> InputDataset:
        return InputDataset(namespace=self.namespace, name=self.name, facets=dict(self.facets))

    def as_output(self) -> OutputDataset:
        return OutputDataset(namespace=self.namespace, name=self.name, facets=dict(self.facets))


@dataclass
class DemoEvent:
    cloud: str
    event: RunEvent
    label: str  # "<workload>/<step> <eventType>", for messages

    @property
    def time(self) -> str:
        return self.event.eventTime


def _schema(*fields: tuple[str, str] | tuple[str, str, list]) -> schema_dataset.SchemaDatasetFacet:
    def one(f):
        nested = [one(n) for n in f[2]] if len(f) > 2 else None
        return schema_dataset.SchemaDatasetFacetFields(name=f[0], type=f[1], fields=nested)

    return schema_dataset.SchemaDatasetFacet(fields=[one(f) for f in fields], producer=PRODUCER)


def _storage(layer: str, fmt: str) -> storage_dataset.StorageDatasetFacet:
    return storage_dataset.StorageDatasetFacet(storageLayer=layer, fileFormat=fmt, producer=PRODUCER)


def _source(uri: str) -> datasource_dataset.DatasourceDatasetFacet:
    return datasource_dataset.DatasourceDatasetFacet(name=uri, uri=uri, producer=PRODUCER)


def _dataset_type(kind: str, producer: str = PRODUCER) -> dataset_type_dataset.DatasetTypeDatasetFacet:
    return dataset_type_dataset.DatasetTypeDatasetFacet(datasetType=kind, producer=producer)


class History:
    """Builds the demo's events. Times are offsets before `now`; ids are fixed."""

    def __init__(self, now: datetime, base_url: str):
        self.now = now
        self.base_url = base_url
        self.events: list[DemoEvent] = []

    def ago(self, days: float, hours: float = 0) -> datetime:
        return self.now - timedelta(days=days) + timedelta(hours=hours)

    # Facets ----------------------------------------------------------------------------------

    def workload_facet(self, w: DemoWorkload, status: str) -> WorkloadRunFacet:
        facet = WorkloadRunFacet(
            type=w.kind, id=w.id, name=w.name, projectId=w.project, ownerEmail=w.owner, clusterId=w.cluster_id,
            clusterStartedAt=_iso(w.cluster_started), status=status, rayVersion=RAY_VERSION,
            pythonVersion=PYTHON_VERSION, osVersion=OS_VERSION, image=IMAGE,
            resources=WorkloadResources(
                nodes=3 if w.gpus else 2, cpus=48 if w.gpus else 16, gpus=w.gpus,
                gpuType="NVIDIA-L4" if w.gpus else None, memoryBytes=(192 if w.gpus else 64) * GIB,
            ),
            producer=PRODUCER,
        )
        return _with_schema(facet, facet_schema_url(self.base_url, "WorkloadRunFacet"))

    def mlflow_model(self, *, experiment: str, label: str, flavor: str, name: str, version: str,
                     namespace: str = "s3://acme-mlflow", path: str | None = None) -> Ds:
        """A model as MLflow logs it: its artifact location, marked MODEL, with the mlflowModel facet."""
        model_id = f"m-{_hex(label, 32)}"
        run_id = _hex(label + "/run", 32)
        facet = MlflowModelDatasetFacet(
            modelId=model_id, flavor=flavor, runId=run_id, experimentId=experiment, artifactPath="model",
            modelUri=f"models:/{name}/{version}", registeredName=name, registeredVersion=version, producer=PRODUCER,
        )
        return Ds(namespace, path or f"artifacts/{experiment}/models/{model_id}/artifacts", {
            "datasetType": _dataset_type("MODEL"),
            "mlflowModel": _with_schema(facet, facet_schema_url(self.base_url, "MlflowModelDatasetFacet")),
        })

    # Runs ------------------------------------------------------------------------------------

    def run(self, w: DemoWorkload, step: str, *, start: datetime, minutes: float, inputs: list[Ds] | tuple = (),
            outputs: list[Ds] | tuple = (), engine: tuple[str, str] = ("Ray Data", RAY_VERSION),
            params: dict[str, Any] | None = None, error: str | None = None, commit: str | None = None,
            env: dict[str, str] | None = None, attempt: int = 1) -> str:
        """One run of a step of a workload: a START event and a COMPLETE (or FAIL) one."""
        run_id = demo_uuid(f"run/{w.key}/{step}/{attempt}")
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="RAY", jobType="TASK",
                                                    producer=PRODUCER),
        }
        if commit:
            job_facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
                type="git", url=f"{REPO}/tree/{commit}/{w.name}", repoUrl=f"{REPO}.git", path=w.name,
                version=commit, branch="main", producer=PRODUCER,
            )
        end = start + timedelta(minutes=minutes)
        for event_type, when in (("START", start), ("FAIL" if error else "COMPLETE", end)):
            facets: dict[str, Any] = {
                "workload": self.workload_facet(w, _status(w, event_type)),
                "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                    version=engine[1], name=engine[0], openlineageAdapterVersion="0.1.0", producer=PRODUCER),
                "parent": parent_run.ParentRunFacet(
                    run=parent_run.Run(runId=w.parent[2]), job=parent_run.Job(namespace=w.parent[0], name=w.parent[1]),
                    producer=PRODUCER),
            }
            if params:
                facets["executionParameters"] = execution_parameters_run.ExecutionParametersRunFacet(
                    parameters=[execution_parameters_run.ExecutionParameter(key=k, value=str(v))
                                for k, v in params.items()],
                    producer=PRODUCER)
            if env:
                facets["environmentVariables"] = environment_variables_run.EnvironmentVariablesRunFacet(
                    environmentVariables=[environment_variables_run.EnvironmentVariable(name=k, value=v)
                                          for k, v in env.items()],
                    producer=PRODUCER)
            if error and event_type == "FAIL":
                facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                    message=error, programmingLanguage="PYTHON",
                    stackTrace=f'Traceback (most recent call last):\n  File "{w.name}/train.py", line 88, in '
                               f"train_loop\n    loss.backward()\n{error}\n",
                    producer=PRODUCER)
            done = event_type != "START"
            self.events.append(DemoEvent(w.cloud, RunEvent(
                eventType=RunState(event_type),
                eventTime=_iso(when),
                run=Run(runId=run_id, facets=facets),
                job=Job(namespace=w.id, name=f"{w.name}.{step}", facets=job_facets),
                inputs=[d.as_input() for d in inputs],
                # Outputs (and their schemas) are known once the write is done.
                outputs=[d.as_output() for d in outputs] if done and not error else [],
                producer=PRODUCER,
            ), f"{w.name}/{step} {event_type}"))
        return run_id

    def dbt_run(self, *, project: str, owner: str, start: datetime,
                models: list[tuple[str, list[Ds], list[Ds]]]) -> None:
        """A dbt-like producer that knows nothing of our workload facet: a parent job for the dbt
        invocation, one child job per model, linked by the `parent` facet (root = the invocation)."""
        namespace = "dbt://acme-analytics"
        root_name = f"dbt-run-{project}"
        root_id = demo_uuid(f"dbt/{project}/{start.date()}")
        dbt_engine = processing_engine_run.ProcessingEngineRunFacet(
            version="1.9.4", name="dbt", openlineageAdapterVersion="1.54.0", producer=DBT_PRODUCER)
        ownership = ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner(name=f"user:{owner}", type="MAINTAINER")],
                                                    producer=DBT_PRODUCER)

        def job_facets(job_type: str) -> dict[str, Any]:
            return {
                "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DBT", jobType=job_type,
                                                        producer=DBT_PRODUCER),
                "ownership": ownership,
                "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
                    type="git", url="https://github.com/acme-robotics/analytics-dbt", version="4be1c0ffee51",
                    branch="main", producer=DBT_PRODUCER),
            }

        def emit(event_type: str, when: datetime, run_id: str, name: str, job_type: str, facets: dict,
                 inputs: list[Ds], outputs: list[Ds]) -> None:
            self.events.append(DemoEvent(PROD, RunEvent(
                eventType=RunState(event_type), eventTime=_iso(when), run=Run(runId=run_id, facets=facets),
                job=Job(namespace=namespace, name=name, facets=job_facets(job_type)),
                inputs=[d.as_input() for d in inputs], outputs=[d.as_output() for d in outputs],
                producer=DBT_PRODUCER,
            ), f"{name} {event_type}"))

        emit("START", start, root_id, root_name, "JOB", {"processing_engine": dbt_engine}, [], [])
        t = start
        for name, inputs, outputs in models:
            run_id = demo_uuid(f"dbt/{project}/{start.date()}/{name}")
            parent = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=root_id), job=parent_run.Job(namespace=namespace, name=root_name),
                root=parent_run.Root(run=parent_run.RootRun(runId=root_id),
                                     job=parent_run.RootJob(namespace=namespace, name=root_name)),
                producer=DBT_PRODUCER)
            facets = {"parent": parent, "processing_engine": dbt_engine}
            job = f"{project}.{name}"
            emit("START", t + timedelta(seconds=5), run_id, job, "MODEL", facets, inputs, [])
            t += timedelta(minutes=3)
            emit("COMPLETE", t, run_id, job, "MODEL", facets, inputs, outputs)
        emit("COMPLETE", t + timedelta(seconds=10), root_id, root_name, "JOB", {"processing_engine": dbt_engine}, [], [])


def _status(w: DemoWorkload, event_type: str) -> str:
    if event_type == "FAIL":
        return "RUNNING"  # a failed attempt; the job retries
    if w.kind in ("service", "workspace") or event_type == "START":
        return "RUNNING"
    return "SUCCEEDED"


def build_history(now: datetime, base_url: str) -> History:
    """The demo history: perception and forecasting on acme-prod, a sandbox on acme-dev."""
    h = History(now, base_url)

    def wl(key: str, kind: str, name: str, project: str, owner: str, started_days_ago: float, *,
           cloud: str = PROD, gpus: int = 0) -> DemoWorkload:
        return DemoWorkload(key, kind, name, cloud, project, owner, h.ago(started_days_ago), gpus)

    # Datasets (as the events name them; facets differ per event where a schema changes).
    frames = Ds("s3://acme-raw", "camera/frames/2025", {"storage": _storage("s3", "image")})
    manifest = Ds("s3://acme-raw", "camera/manifests/frames.csv", {
        "schema": _schema(("frame_id", "string"), ("camera", "string"), ("captured_at", "timestamp"),
                          ("path", "string"))})
    frames_index_schema = _schema(("frame_id", "string"), ("camera", "string"), ("captured_at", "timestamp"),
                                  ("width", "int32"), ("height", "int32"), ("path", "string"))
    frames_index = Ds("file", "/mnt/shared_storage/perception/frames_index.parquet", {"schema": frames_index_schema})
    decoded = Ds("file", "/mnt/cluster_storage/decoded/batch-00000.parquet")
    scratch = Ds("file", OUTSIDE_PATH)
    labels = Ds("gs://acme-labels", "annotations/v3/labels.jsonl", {
        "schema": _schema(("frame_id", "string"), ("label", "string"),
                          ("bbox", "struct", [("x", "float"), ("y", "float"), ("w", "float"), ("h", "float")]))})
    label_guide = Ds("gs://acme-labels", "annotations/v3/labeling_guide.txt")
    labeled_fields = [("frame_id", "string"), ("camera", "string"), ("path", "string"), ("label", "string"),
                      ("bbox", "struct", [("x", "float"), ("y", "float"), ("w", "float"), ("h", "float")])]
    labeled = Ds("s3://acme-curated", "perception/labeled_frames.parquet", {
        "schema": _schema(*labeled_fields),
        "columnLineage": _column_lineage({
            "frame_id": [(frames_index, "frame_id"), (labels, "frame_id")],
            "camera": [(frames_index, "camera")],
            "path": [(frames_index, "path")],
            "label": [(labels, "label")],
            "bbox": [(labels, "bbox")],
        }),
    })
    heldout = Ds("s3://acme-curated", "perception/heldout_frames.parquet", {"schema": _schema(*labeled_fields)})
    detector_eval = Ds("s3://acme-reports", "perception/detector_eval.json")
    predictions = Ds("s3://acme-logs", "frame-detector-api/predictions.jsonl")

    warehouse = "postgres://warehouse.acme.internal:5432"

    def table(name: str, *fields: tuple[str, str]) -> Ds:
        return Ds(warehouse, f"analytics.public.{name}", {
            "datasetType": _dataset_type("TABLE", DBT_PRODUCER), "dataSource": _source(warehouse),
            **({"schema": _schema(*fields)} if fields else {})})

    raw_orders = table("raw_orders", ("order_id", "bigint"), ("store_id", "int"), ("sku", "text"),
                       ("quantity", "int"), ("ordered_at", "timestamptz"))
    stores = table("stores", ("store_id", "int"), ("region", "text"), ("opened_on", "date"))
    stg_orders = table("stg_orders", ("order_id", "bigint"), ("store_id", "int"), ("sku", "text"),
                       ("quantity", "int"), ("order_date", "date"))
    orders_daily = table("orders_daily", ("store_id", "int"), ("region", "text"), ("sku", "text"),
                         ("order_date", "date"), ("units", "bigint"))
    forecasts = table("demand_forecasts", ("store_id", "int"), ("sku", "text"), ("forecast_date", "date"),
                      ("units_p50", "double precision"), ("units_p90", "double precision"))
    weather = Ds("s3://acme-curated", "forecasting/weather/daily.csv")
    holidays = Ds("file", "/mnt/shared_storage/forecasting/holidays.json")
    feature_fields = [("store_id", "int64"), ("sku", "string"), ("order_date", "date"), ("units", "int64"),
                      ("units_lag_7", "double"), ("units_lag_28", "double"), ("temp_max_c", "double"),
                      ("is_holiday", "bool")]
    features_v1 = Ds("s3://acme-features", "forecasting/demand_features.parquet",
                     {"schema": _schema(*feature_fields), "storage": _storage("s3", "parquet")})
    # The second build adds a column: the dataset's schema changes between the two runs.
    features_v2 = Ds(features_v1.namespace, features_v1.name, {
        "schema": _schema(*feature_fields, ("promo_active", "bool")), "storage": _storage("s3", "parquet")})
    backtest = Ds("s3://acme-reports", "forecasting/backtest_metrics.parquet")
    eda_sample = Ds("file", "/mnt/cluster_storage/notebooks/eda_sample.csv")
    weekly_summary = Ds("s3://acme-reports", "forecasting/weekly_summary.txt")

    tickets = Ds("gs://acme-corpora", "support/tickets-2025.txt")
    calls = Ds("s3://acme-raw", "support-calls/2025-06", {"storage": _storage("s3", "audio")})
    prompts = Ds("file", "/mnt/shared_storage/sandbox/prompts.jsonl")
    embeddings = Ds("s3://acme-dev-scratch", "embeddings/tickets.parquet")
    smoke_out = Ds("s3://acme-dev-scratch", "smoke/output.parquet")

    detector = h.mlflow_model(experiment="12", label="frame-detector/1", flavor="pytorch",
                              name="frame-detector", version="1")
    forecaster_v1 = h.mlflow_model(experiment="7", label="demand-forecaster/1", flavor="lightgbm",
                                   name="demand-forecaster", version="1")
    forecaster_v2 = h.mlflow_model(experiment="7", label="demand-forecaster/2", flavor="lightgbm",
                                   name="demand-forecaster", version="2")
    classifier = h.mlflow_model(experiment="3", label="ticket-classifier/1", flavor="transformers",
                                name="ticket-classifier", version="1", namespace="file",
                                path="/mnt/cluster_storage/checkpoints/ticket-classifier")

    # Perception (acme-prod): raw frames -> index -> labeled frames -> detector -> detector API.
    ingest = wl("ingest-camera-frames", "job", "ingest-camera-frames", "prj_perception", "owner@acme.test", 20)
    h.run(ingest, "read_images", start=h.ago(20, 0.2), minutes=35, inputs=[frames, manifest],
          outputs=[frames_index, decoded, scratch], commit="9f2c1e7a4b", env={"RAY_DATA_VERBOSE_PROGRESS": "1"})
    label = wl("label-frames", "job", "label-frames", "prj_perception", "member@acme.test", 18)
    h.run(label, "join_labels", start=h.ago(18, 0.1), minutes=20, inputs=[frames_index, labels, label_guide],
          outputs=[labeled, heldout], commit="9f2c1e7a4b")
    train_det = wl("train-frame-detector", "job", "train-frame-detector", "prj_perception", "owner@acme.test", 16,
                   gpus=8)
    detector_params = {"model": "yolov8m", "epochs": 40, "batch_size": 64, "learning_rate": 0.0003,
                       "image_size": 640, "seed": 17}
    h.run(train_det, "train", start=h.ago(16, 0.3), minutes=190, inputs=[labeled, heldout],
          outputs=[detector, detector_eval], engine=("MLflow", "3.17.2"), params=detector_params,
          commit="c41d2e9b07")
    det_api = wl("frame-detector-api", "service", "frame-detector-api", "prj_perception", "admin@acme.test", 14,
                 gpus=1)
    h.run(det_api, "load_model", start=h.ago(14, 0.1), minutes=2, inputs=[detector], engine=("MLflow", "3.17.2"))
    h.run(det_api, "log_predictions", start=h.ago(13), minutes=60, inputs=[detector], outputs=[predictions])

    # Forecasting (acme-prod): warehouse tables (dbt) -> features -> forecaster -> forecast API.
    h.dbt_run(project="acme_analytics", owner="dana@acme.test", start=h.ago(13, 2), models=[
        ("stg_orders", [raw_orders], [stg_orders]),
        ("orders_daily", [stg_orders, stores], [orders_daily]),
    ])
    feats1 = wl("build-demand-features/1", "job", "build-demand-features", "prj_forecasting", "member@acme.test", 12)
    h.run(feats1, "write_parquet", start=h.ago(12, 0.2), minutes=25, inputs=[orders_daily, weather, holidays],
          outputs=[features_v1], commit="5e8a0b1d33")
    train_fc = wl("train-demand-forecaster/1", "job", "train-demand-forecaster", "prj_forecasting",
                  "owner@acme.test", 11, gpus=1)
    forecaster_params = {"objective": "tweedie", "num_leaves": 255, "learning_rate": 0.05,
                         "num_boost_round": 2000, "feature_fraction": 0.8, "horizon_days": 28}
    h.run(train_fc, "train", start=h.ago(11, 0.2), minutes=14, inputs=[features_v1], engine=("MLflow", "3.17.2"),
          params={**forecaster_params, "num_leaves": 1023},
          error="torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 22.05 GiB total "
                "capacity; 19.87 GiB already allocated)", commit="5e8a0b1d33")
    h.run(train_fc, "train", start=h.ago(11, 1), minutes=48, inputs=[features_v1],
          outputs=[forecaster_v1, backtest], engine=("MLflow", "3.17.2"), params=forecaster_params,
          commit="5e8a0b1d33", attempt=2)
    notebook = wl("forecasting-notebook", "workspace", "forecasting-notebook", "prj_forecasting",
                  "member@acme.test", 6)
    h.run(notebook, "eda", start=h.ago(6, 1), minutes=40, inputs=[features_v1], outputs=[eda_sample],
          engine=("Ray Data", RAY_VERSION))
    h.run(notebook, "evaluate_model", start=h.ago(6, 3), minutes=15, inputs=[forecaster_v1, features_v1],
          outputs=[weekly_summary], engine=("MLflow", "3.17.2"))
    feats2 = wl("build-demand-features/2", "job", "build-demand-features", "prj_forecasting", "member@acme.test", 5)
    h.run(feats2, "write_parquet", start=h.ago(5, 0.2), minutes=27, inputs=[orders_daily, weather, holidays],
          outputs=[features_v2], commit="77b3f90c12")
    retrain = wl("retrain-demand-forecaster", "job", "retrain-demand-forecaster", "prj_forecasting",
                 "owner@acme.test", 4, gpus=1)
    h.run(retrain, "train", start=h.ago(4, 0.2), minutes=52, inputs=[features_v2], outputs=[forecaster_v2, backtest],
          engine=("MLflow", "3.17.2"), params={**forecaster_params, "learning_rate": 0.03}, commit="77b3f90c12")
    fc_api = wl("forecast-api", "service", "forecast-api", "prj_forecasting", "admin@acme.test", 3)
    h.run(fc_api, "load_model", start=h.ago(3, 0.1), minutes=1, inputs=[forecaster_v2],
          engine=("MLflow", "3.17.2"))
    h.run(fc_api, "write_forecasts", start=h.ago(1, 2), minutes=10, inputs=[forecaster_v2, holidays],
          outputs=[forecasts])

    # Sandbox (acme-dev, on from 10 to 2 days ago). The workspace's cluster started while the
    # toggle was on, so it is captured even after the toggle went off; the smoke test's cluster
    # started after that, so its events are dropped.
    sandbox = wl("llm-sandbox", "workspace", "llm-sandbox", "prj_sandbox", "member@acme.test", 3, cloud=DEV, gpus=4)
    h.run(sandbox, "embed_tickets", start=h.ago(3, 1), minutes=30, inputs=[tickets, calls, prompts],
          outputs=[embeddings])
    h.run(sandbox, "finetune", start=h.ago(1, 4), minutes=95, inputs=[embeddings, prompts], outputs=[classifier],
          engine=("MLflow", "3.17.2"), params={"base_model": "distilbert-base-uncased", "epochs": 3, "lr": 5e-5})
    smoke = wl(SMOKE_TEST_WORKLOAD, "job", SMOKE_TEST_WORKLOAD, "prj_sandbox", "admin@acme.test", 1, cloud=DEV)
    h.run(smoke, "smoke", start=h.ago(1, 0.1), minutes=3, inputs=[embeddings], outputs=[smoke_out])

    h.events.sort(key=lambda e: e.time)
    return h


def _column_lineage(mapping: dict[str, list[tuple[Ds, str]]]) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    direct = column_lineage_dataset.Transformation(type="DIRECT", subtype="IDENTITY")
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            out: column_lineage_dataset.Fields(inputFields=[
                column_lineage_dataset.InputField(namespace=ds.namespace, name=ds.name, field=col,
                                                  transformations=[direct])
                for ds, col in sources
            ])
            for out, sources in mapping.items()
        },
        producer=PRODUCER,
    )


def workload_id(key: str, kind: str) -> str:
    """The platform id a demo workload reports (ids look like the platform's: prodjob_..., ...)."""
    prefix = {"job": "prodjob", "service": "service2", "workspace": "expwrk"}[kind]
    return f"{prefix}_{_hex(key, 20)}"


# --- The tenant ----------------------------------------------------------------------------------


@dataclass
class DemoTenant:
    org: Organization
    clouds: dict[str, Cloud]


def ensure_tenant(now: datetime) -> DemoTenant:
    """Create (or find) the demo organizations, clouds, projects, users and toggle history."""
    org, created = create_org(slug=ORG_SLUG, name=ORG_NAME, actor=ACTOR)
    if created:  # later, the beta is whatever staff or an admin set it to
        set_lineage_beta(org=org, enabled=True, actor=ACTOR)
    clouds = {name: create_cloud(org=org, name=name, actor=ACTOR)[0] for name in (PROD, DEV)}
    for cloud, name, public_id in PROJECTS:
        create_project(cloud=clouds[cloud], name=name, public_id=public_id, actor=ACTOR)
    # The toggle history is written once; a cloud whose toggle was ever set is left as it is
    # (someone may have flipped it since, and the history is append-only anyway).
    if not clouds[PROD].toggle_changes.exists():
        set_cloud_lineage(cloud=clouds[PROD], enabled=True, at=now - PROD_ON_SINCE, actor=ACTOR)
    if not clouds[DEV].toggle_changes.exists():
        set_cloud_lineage(cloud=clouds[DEV], enabled=True, at=now - DEV_ON_SINCE, actor=ACTOR)
        set_cloud_lineage(cloud=clouds[DEV], enabled=False, at=now - DEV_OFF_SINCE, actor=ACTOR)

    other, _ = create_org(slug=OTHER_ORG_SLUG, name=OTHER_ORG_NAME, actor=ACTOR)
    for email, role, staff, _ in USERS:
        user, created = ensure_user(email=email, is_staff=staff)
        if created:  # a password someone changed since is left alone (and re-runs skip the slow hashing)
            ensure_user(email=email, password=PASSWORD)
        if role:
            set_membership(org=org, user=user, role=role, actor=ACTOR)
        if email == "owner@acme.test":
            grant_ownership(cloud=clouds[PROD], user=user, actor=ACTOR)
        if email == "outsider@globex.test":
            set_membership(org=other, user=user, role=Role.ADMIN, actor=ACTOR)
    return DemoTenant(org=org, clouds=clouds)


def history_loaded(org: Organization, history: History) -> bool:
    """Whether the history was sent already: the last event it stores is in the raw event store."""
    last = next(e for e in reversed(history.events) if e.cloud == PROD)
    return RawEvent.objects.in_org(org).filter(run_id=last.event.run.runId).exists()


def create_demo_keys(tenant: DemoTenant, now: datetime) -> dict[str, str]:
    """One ingest key per cloud, named `demo` (or `demo-<time>` if an earlier, interrupted load made one)."""
    keys = {}
    for name, cloud in tenant.clouds.items():
        key_name = "demo"
        if IngestKey.objects.in_org(tenant.org).filter(cloud=cloud, name=key_name).exists():
            key_name = f"demo-{now:%Y%m%d-%H%M%S}"
        keys[name] = create_ingest_key(cloud=cloud, name=key_name, actor=ACTOR)[1]
    return keys


# --- Sending -------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def ingest_server() -> Iterator[str]:
    """Serve this application on an ephemeral port of 127.0.0.1 in a background thread."""
    server: WSGIServer = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_QuietHandler)

    def serve() -> None:
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()  # this thread's database connections

    thread = threading.Thread(target=serve, name="load-demo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class SendReport:
    statuses: Counter = field(default_factory=Counter)  # (cloud, status) -> count
    dropped: list[str] = field(default_factory=list)  # labels of dropped events
    failures: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(n for (_, s), n in self.statuses.items() if s == status)


def send_history(url: str, keys: dict[str, str], events: list[DemoEvent]) -> SendReport:
    """Emit the events with the official client, one HTTP transport (and key) per cloud."""
    report = SendReport()
    replies: list[Response] = []

    def keep(response: Response, *args: Any, **kwargs: Any) -> Response:
        replies.append(response)
        return response

    clients = {}
    for cloud, key in keys.items():
        session = Session()
        session.hooks["response"].append(keep)
        transport = HttpTransport(HttpConfig(url=url, auth=ApiKeyTokenProvider({"api_key": key}), session=session,
                                             timeout=60.0))
        # Explicit config: no YAML file or OPENLINEAGE__* variables of the machine get mixed in.
        clients[cloud] = OpenLineageClient(transport=transport, config={"transport": {}})
    try:
        for item in events:
            replies.clear()
            try:
                clients[item.cloud].emit(item.event)
            except Exception as exc:  # the transport raises on 4xx/5xx; say which event and why
                body = replies[-1].text[:300] if replies else ""
                report.failures.append(f"{item.label}: {exc} {body}".strip())
                continue
            reply = replies[-1].json() if replies else {}
            status = reply.get("status", "unknown")
            report.statuses[(item.cloud, status)] += 1
            if status == "dropped":
                report.dropped.append(f"{item.label} ({item.cloud}): {reply.get('detail', '')}")
    finally:
        for client in clients.values():
            client.close()
    return report


# --- Counting ------------------------------------------------------------------------------------


def catalog_counts(org: Organization) -> dict[str, int]:
    workloads = Workload.objects.in_org(org)
    assets = Asset.objects.in_org(org)
    counts = {f"workloads.{kind}": workloads.filter(kind=kind).count() for kind in ("job", "service", "workspace")}
    counts["workloads"] = workloads.count()
    counts["datasets"] = assets.filter(kind=AssetKind.DATASET).count()
    counts["models"] = assets.filter(kind=AssetKind.MODEL).count()
    return counts


def raw_counts(org: Organization) -> dict[str, int]:
    rows = RawEvent.objects.in_org(org).values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def broker_configured() -> bool:
    return bool(settings.CELERY_BROKER_URL)


# --- The whole load ------------------------------------------------------------------------------


@dataclass
class DemoResult:
    tenant: DemoTenant
    keys: dict[str, str]  # cloud -> secret; empty when the history was loaded before
    already_loaded: bool
    sent: SendReport | None
    counts: dict[str, int]
    raw: dict[str, int]
    elapsed_seconds: float


def load_demo(*, public_url: str, now: datetime | None = None) -> DemoResult:
    """Set up the demo tenant and, once per database, send it the demo history over HTTP."""
    started = time.monotonic()
    now = (now or timezone.now()).replace(microsecond=0)
    tenant = ensure_tenant(now)
    history = build_history(now, public_url)
    keys: dict[str, str] = {}
    sent = None
    already = history_loaded(tenant.org, history)
    if not already:
        # Without the beta the endpoint refuses everything; the history needs it on.
        set_lineage_beta(org=tenant.org, enabled=True, actor=ACTOR)
        keys = create_demo_keys(tenant, now)
        with ingest_server() as url:
            sent = send_history(url, keys, history.events)
    return DemoResult(tenant=tenant, keys=keys, already_loaded=already, sent=sent,
                      counts=catalog_counts(tenant.org), raw=raw_counts(tenant.org),
                      elapsed_seconds=time.monotonic() - started)
