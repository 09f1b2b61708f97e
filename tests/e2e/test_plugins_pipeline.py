"""The workload-side plugins (plugins/) emitting into a live instance of the service.

Real Ray Data (a local Ray instance) and real MLflow run the example pipeline
(plugins/examples/train_and_serve.py, plain user code) as subprocesses with the plugins' own
virtualenv (plugins/.venv), configured only by environment variables as the platform would set
them. They post through the official OpenLineage client to the pytest-django live server; a real
Celery worker subprocess on a Redis of our own normalizes the events into the catalog.

The pipeline, on /mnt/shared_storage (created for the test when missing, removed after):
- job `prodjob_features` (Ray Data) reads a CSV and a directory of PNGs, writes Parquet features;
- three training jobs read the features and log + register a scikit-learn model, one per MLflow
  store: SQLite (features read with Ray Data inside the MLflow run), a file store and a tracking
  server (features read with pandas and declared with `mlflow.log_input`);
- three services load "their" model by registered name and version in another process;
- one more training job runs with LINEAGE_TRACKING_ENABLED=false and must emit nothing.
The tracking server has the plugins installed and the lineage environment set: it must stay silent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from catalog.models import Asset, SchemaVersion, Workload, WorkloadAsset
from catalog.models import Run as CatalogRun
from clouds.models import IngestKey, LineageToggleChange
from clouds.services import create_ingest_key
from ingest.models import DropCount, RawEvent
from tests.conftest import make_tenant
from tests.e2e.support import (
    REPO,
    Proc,
    RedisServer,
    celery_broker,
    free_port,
    iso,
    start_worker,
    subprocess_database_url,
    wait_until,
)

pytestmark = pytest.mark.services

PLUGINS_PY = REPO / "plugins" / ".venv" / "bin" / "python"
EXAMPLE = REPO / "plugins" / "examples" / "train_and_serve.py"
SHARED_STORAGE = Path("/mnt/shared_storage")
RAY_CALLBACK = "lineage_plugins.ray_data.LineageExecutionCallback"
FEATURES_JOB = ("ray.data:read_csv->MapBatches(tx_features)->read_image->MapBatches(receipt_features)->Zip"
                "->Repartition->write_parquet")
FEATURE_COLUMNS = ["tx_id", "log_amount", "is_travel", "is_fraud", "receipt_brightness"]
STEP_TIMEOUT = 240.0

# The training/serving variants: (suffix of the workload ids, MLflow store, how features are read).
VARIANTS = [("sqlite", "ray"), ("file", "pandas"), ("server", "pandas")]


def _require_plugins_venv() -> None:
    if not PLUGINS_PY.is_file():
        pytest.fail(f"the plugins' virtualenv is missing ({PLUGINS_PY}): run `make -C plugins install` "
                    "(about 2.5 minutes) before this test", pytrace=False)
    probe = subprocess.run(
        [str(PLUGINS_PY), "-c", "import importlib.util as u; print(' '.join(m for m in ('lineage_plugins', 'ray', "
                                "'mlflow', 'sklearn', 'PIL', 'openlineage.client') if u.find_spec(m) is None))"],
        capture_output=True, text=True, timeout=60)
    missing = probe.stdout.strip() or probe.stderr.strip()[-500:]
    if probe.returncode != 0 or missing:
        pytest.fail(f"{PLUGINS_PY} lacks {missing!r}: run `make -C plugins install`", pytrace=False)


@pytest.fixture
def own_redis(processes, tmp_path):
    """A redis-server of our own (nobody else's tasks, nobody else's worker)."""
    server = processes.add(RedisServer(free_port(), tmp_path / "redis.log"))
    server.start()
    return server


@pytest.fixture
def shared_dir():
    """A fresh directory under /mnt/shared_storage, the mount the catalog tracks per cloud."""
    created_root = not SHARED_STORAGE.exists()
    try:
        SHARED_STORAGE.mkdir(parents=True, exist_ok=True)
        path = SHARED_STORAGE / f"lineage-e2e-{uuid.uuid4().hex[:12]}"
        path.mkdir()
    except OSError as exc:
        pytest.fail(f"this test writes its datasets under {SHARED_STORAGE} (the catalog only tracks local paths "
                    f"under /mnt/shared_storage and /mnt/cluster_storage) and could not create it: {exc}. Run it as "
                    "root, or create the directory writable for this user.", pytrace=False)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if created_root:
            try:
                SHARED_STORAGE.rmdir()
            except OSError:
                pass  # someone else put something there meanwhile


def _clean_env() -> dict[str, str]:
    """This process's environment without anything of the server's, the test run's or a user's lineage,
    OpenLineage, MLflow or Ray configuration."""
    drop_prefixes = ("LINEAGE_", "OPENLINEAGE", "MLFLOW_", "_MLFLOW_", "RAY_", "PYTEST_", "DJANGO_", "CELERY_")
    drop = {"DATABASE_URL", "DATABASE_TEST_NAME", "REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes) and k not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Pipeline:
    """Starts the example's steps as workloads, with the environment the platform would give them."""

    def __init__(self, *, processes, tmp_path: Path, server_url: str, tenant, cluster_started: str,
                 data_dir: Path):
        self.processes, self.tmp, self.url, self.tenant = processes, tmp_path, server_url, tenant
        self.cluster_started, self.data_dir = cluster_started, data_dir

    def env(self, *, wid: str, name: str, kind: str = "job", key: str | None = None, **extra: str) -> dict:
        t = self.tenant
        env = _clean_env()
        env.update({
            "OPENLINEAGE_URL": self.url,
            "OPENLINEAGE_API_KEY": key or t.key,
            "RAY_DATA_EXECUTION_CALLBACKS": RAY_CALLBACK,
            "RAY_ADDRESS": "local",  # a Ray of its own, whatever else runs on the machine
            "LINEAGE_WORKLOAD_TYPE": kind,
            "LINEAGE_WORKLOAD_ID": wid,
            "LINEAGE_WORKLOAD_NAME": name,
            "LINEAGE_PROJECT_ID": f"prj_{t.org.slug}_training",
            "LINEAGE_CLOUD_ID": t.cloud.public_id,
            "LINEAGE_ORGANIZATION_ID": t.org.slug,
            "LINEAGE_OWNER_EMAIL": f"{name}@acme.test",
            "LINEAGE_CLUSTER_ID": f"ses_{wid}",
            "LINEAGE_CLUSTER_STARTED_AT": self.cluster_started,
            "LINEAGE_WORKLOAD_STATUS": "RUNNING",
            # A refused or failed event fails the workload, with the reason in its log.
            "LINEAGE_IGNORE_ERRORS": "false",
        })
        env.update(extra)
        return env

    def start(self, label: str, argv: list[str], env: dict, cwd: Path) -> Proc:
        cwd.mkdir(parents=True, exist_ok=True)
        return self.processes.add(Proc(label, argv, env=env, log_path=self.tmp / f"{label}.log", cwd=cwd))

    def step(self, label: str, args: list[str], env: dict, cwd: Path) -> Proc:
        return self.start(label, [str(PLUGINS_PY), str(EXAMPLE), *args], env, cwd)


def _finish(proc: Proc, timeout: float = STEP_TIMEOUT) -> dict:
    """Wait for a step; return the JSON line it printed, or fail with its log."""
    try:
        code = proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.stop()
        raise AssertionError(f"{proc.name} did not finish within {timeout:.0f}s:\n{proc.log(8000)}") from None
    assert code == 0, f"{proc.name} exited {code}:\n{proc.log(8000)}"
    for line in reversed(proc.log_path.read_text(errors="replace").splitlines()):
        if line.startswith('{"step"'):
            return json.loads(line)
    raise AssertionError(f"{proc.name} printed no result:\n{proc.log(8000)}")


def _start_mlflow_server(pipe: Pipeline, root: Path, port: int) -> Proc:
    # The plugins are installed in its environment and the lineage variables are set, as they would be
    # on a cluster serving MLflow: the server must stay silent (lineage belongs to the client workload).
    env = pipe.env(wid="service_mlflow_server", name="mlflow-server", kind="service")
    return pipe.start("mlflow-server", [
        str(PLUGINS_PY), "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
        "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1"], env, root)


def _mlflow_up(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _catalog(org) -> dict:
    return {
        "workloads": sorted(Workload.objects.in_org(org).values_list("external_id", "kind", "name", "derived")),
        "assets": sorted(Asset.objects.in_org(org).values_list("namespace", "name", "kind", "dataset_type")),
        "edges": sorted(WorkloadAsset.objects.in_org(org).values_list("workload__external_id", "asset__namespace",
                                                                       "asset__name", "direction")),
        "runs": sorted(CatalogRun.objects.in_org(org).values_list("workload__external_id", "job__name", "state")),
        "raw": sorted(RawEvent.objects.in_org(org).values_list("status", flat=True)),
    }


def _raw_datasets(org) -> list[tuple[str, str]]:
    out = []
    for body in RawEvent.objects.in_org(org).values_list("body", flat=True):
        event = json.loads(body)
        out += [(d["namespace"], d["name"]) for d in event.get("inputs", []) + event.get("outputs", [])]
    return out


def test_ray_and_mlflow_workloads_into_a_live_service(live_server, processes, own_redis, shared_dir, settings,
                                                       tmp_path):
    _require_plugins_venv()
    tenant = make_tenant("plugins")
    org, cloud = tenant.org, tenant.cloud
    _, untracked_key = create_ingest_key(cloud=cloud, name="untracked")
    toggled_on = LineageToggleChange.objects.filter(cloud=cloud, enabled=True).latest("changed_at").changed_at
    cluster_started = datetime.now(UTC) - timedelta(minutes=30)
    assert toggled_on < cluster_started, "the clusters must start after the cloud's lineage toggle went on"
    pipe = Pipeline(processes=processes, tmp_path=tmp_path, server_url=live_server.url, tenant=tenant,
                    cluster_started=iso(cluster_started), data_dir=shared_dir)
    data = str(shared_dir)

    with celery_broker(own_redis.url, settings):
        worker = processes.add(start_worker(broker_url=own_redis.url, database_url=subprocess_database_url(),
                                            log_path=tmp_path / "worker.log", name="e2e-plugins"))
        mlflow_port = free_port()
        mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        mlflow_server = _start_mlflow_server(pipe, tmp_path / "mlflow-server", mlflow_port)
        stores = {
            "sqlite": ({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow-sqlite'}/mlflow.db"},
                       tmp_path / "mlflow-sqlite"),
            "file": ({"MLFLOW_TRACKING_URI": f"file://{tmp_path / 'mlflow-file'}/mlruns",
                      "MLFLOW_ALLOW_FILE_STORE": "true"}, tmp_path / "mlflow-file"),
            "server": ({"MLFLOW_TRACKING_URI": mlflow_url}, tmp_path / "mlflow-client"),
        }

        # 1. The feature job: Ray Data reads the CSV and the images, writes Parquet.
        features = _finish(pipe.step("features", ["features", data],
                                     pipe.env(wid="prodjob_features", name="features"), tmp_path / "features"))
        assert features["output"] == f"{data}/features"

        # 2. Three training jobs (one per MLflow store) and one with lineage switched off, side by side.
        wait_until(lambda: _mlflow_up(mlflow_url) or not mlflow_server.alive(), timeout=120,
                   message=lambda: f"mlflow server to answer:\n{mlflow_server.log()}")
        assert mlflow_server.alive(), mlflow_server.log()
        trainings = {
            store: pipe.step(f"train-{store}", ["train", data, "--model", f"fraud-{store}", "--reader", reader],
                             pipe.env(wid=f"prodjob_train_{store}", name=f"train-{store}", **stores[store][0]),
                             stores[store][1])
            for store, reader in VARIANTS
        }
        untracked_dir = tmp_path / "mlflow-untracked"
        untracked = pipe.step(
            "train-untracked", ["train", data, "--model", "fraud-untracked", "--reader", "ray"],
            pipe.env(wid="prodjob_untracked", name="train-untracked", key=untracked_key,
                     LINEAGE_TRACKING_ENABLED="false", MLFLOW_TRACKING_URI=f"sqlite:///{untracked_dir}/mlflow.db"),
            untracked_dir)
        trained = {store: _finish(proc) for store, proc in trainings.items()}
        untracked_result = _finish(untracked)

        # 3. A service per model loads it by registered name and version, in another process.
        services = {
            store: pipe.step(f"serve-{store}", ["serve", "--model", f"fraud-{store}", "--version", "1"],
                             pipe.env(wid=f"service_scoring_{store}", name=f"scoring-{store}", kind="service",
                                      **stores[store][0]), stores[store][1])
            for store, _ in VARIANTS
        }
        served = {store: _finish(proc) for store, proc in services.items()}
        assert all(len(s["predictions"]) == 2 for s in served.values()), served

        # 4. The catalog, once the worker has normalized everything.
        shared_ns = f"file://{cloud.public_id}"
        server_ns = f"mlflow://127.0.0.1:{mlflow_port}"
        model_ns = {"sqlite": "mlflow://local", "file": "mlflow://local", "server": server_ns}
        models = {store: (model_ns[store], f"models/{trained[store]['model_id']}") for store, _ in VARIANTS}
        srv = trained["server"]
        report = (server_ns, f"artifacts/{srv['experiment_id']}/{srv['run_id']}/artifacts/training_report.json")
        csv = (shared_ns, f"{data}/raw/transactions.csv")
        images = (shared_ns, f"{data}/raw/receipts")
        feats = (shared_ns, f"{data}/features")
        train_jobs = {
            "ray": ["ray.data:read_parquet", "mlflow.log_model", "mlflow.register_model", "mlflow.log_artifact"],
            "pandas": ["mlflow.log_input", "mlflow.log_model", "mlflow.register_model", "mlflow.log_artifact"],
        }
        expected = {
            "workloads": sorted(
                [("prodjob_features", "job", "features", False)]
                + [(f"prodjob_train_{s}", "job", f"train-{s}", False) for s, _ in VARIANTS]
                + [(f"service_scoring_{s}", "service", f"scoring-{s}", False) for s, _ in VARIANTS]),
            "assets": sorted(
                [(*csv, "dataset", "CSV"), (*images, "dataset", "Image"), (*feats, "dataset", "Parquet"),
                 (*report, "dataset", "JSON")]
                + [(*models[s], "model", "Model") for s, _ in VARIANTS]),
            "edges": sorted(
                [("prodjob_features", *csv, "in"), ("prodjob_features", *images, "in"),
                 ("prodjob_features", *feats, "out"), ("prodjob_train_server", *report, "out")]
                + [(f"prodjob_train_{s}", *feats, "in") for s, _ in VARIANTS]
                + [(f"prodjob_train_{s}", *models[s], "out") for s, _ in VARIANTS]
                + [(f"service_scoring_{s}", *models[s], "in") for s, _ in VARIANTS]),
            "runs": sorted(
                [("prodjob_features", FEATURES_JOB, "COMPLETE")]
                + [(f"prodjob_train_{s}", job, "COMPLETE") for s, reader in VARIANTS for job in train_jobs[reader]]
                + [(f"service_scoring_{s}", "mlflow.load_model", "COMPLETE") for s, _ in VARIANTS]),
        }
        # Ray executions and log_model send START + COMPLETE; the other operations one COMPLETE each.
        expected["raw"] = ["processed"] * (2 + (2 + 2 + 1 + 1) + 2 * (1 + 2 + 1 + 1) + 3)
        wait_until(lambda: _catalog(org) == expected, timeout=90,
                   message=lambda: f"the catalog to match.\nexpected {expected}\n     got {_catalog(org)}\n"
                                   f"worker log:\n{worker.log()}")

    # The model: kind model, the mlflowModel facet with what the registry knows.
    for store, _ in VARIANTS:
        model = Asset.objects.in_org(org).get(namespace=models[store][0], name=models[store][1])
        facet = model.facets["mlflowModel"]
        assert facet["modelId"] == trained[store]["model_id"], facet
        assert (facet["registeredName"], facet["registeredVersion"]) == (f"fraud-{store}", "1"), facet
        assert facet["runId"] == trained[store]["run_id"], facet
        assert model.facets["datasetType"]["datasetType"] == "MODEL"
        assert model.cloud_id == cloud.pk and model.created_by == f"train-{store}@acme.test"
        assert model.project is not None and model.project.public_id == f"prj_{org.slug}_training"

    # Schemas: the Parquet features as Ray wrote them (and as the training jobs read them).
    features_asset = Asset.objects.in_org(org).get(namespace=feats[0], name=feats[1])
    assert [f["name"] for f in features_asset.schema_fields] == FEATURE_COLUMNS
    written = [json.loads(b) for b in RawEvent.objects.in_org(org).values_list("body", flat=True)]
    written = [e for e in written if e["job"]["name"] == FEATURES_JOB and e["eventType"] == "COMPLETE"]
    assert len(written) == 1
    (out,) = written[0]["outputs"]
    assert [f["name"] for f in out["facets"]["schema"]["fields"]] == FEATURE_COLUMNS
    assert out["facets"]["storage"]["fileFormat"] == "parquet"
    assert FEATURE_COLUMNS in [[f["name"] for f in v.fields] for v in SchemaVersion.objects.filter(asset=features_asset)]

    # Workloads carry what the plugins read from the environment and the machine.
    features_wl = Workload.objects.in_org(org).get(external_id="prodjob_features")
    assert features_wl.attrs["cluster_started_at"] == iso(cluster_started)
    assert features_wl.attrs["ray_version"] and features_wl.attrs["python_version"]
    assert features_wl.owner_email == "features@acme.test" and features_wl.cloud_id == cloud.pk

    # Local paths outside the mounts (the training reports and the local MLflow stores' artifacts) were
    # sent, and kept in the raw events, but left out of the catalog.
    local_outside = [(ns, name) for ns, name in _raw_datasets(org)
                     if ns == "file" and not name.startswith(("/mnt/shared_storage/", "/mnt/cluster_storage/"))]
    assert {Path(name).name for _, name in local_outside} == {"training_report.json"}
    assert len(local_outside) >= 5, local_outside  # 3 local files logged, 2 local artifact copies
    assert not Asset.objects.in_org(org).filter(name__startswith=str(tmp_path)).exists()

    # Everything was captured (nothing dropped by the capture rule) and nothing failed.
    assert not DropCount.objects.filter(cloud__org=org).exists()
    assert not RawEvent.objects.in_org(org).exclude(error="").exists()

    # LINEAGE_TRACKING_ENABLED=false: the workload ran (and registered its model) but sent nothing at all.
    assert untracked_result["model_id"].startswith("m-")
    key = IngestKey.objects.get(cloud=cloud, name="untracked")
    assert key.last_used_at is None, "the untracked workload reached the ingest endpoint"
    assert RawEvent.objects.filter(ingest_key=key).count() == 0
    assert not Workload.objects.in_org(org).filter(external_id="prodjob_untracked").exists()
    assert worker.alive(), worker.log()
    assert mlflow_server.alive(), mlflow_server.log()
