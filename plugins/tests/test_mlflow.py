"""MLflow plugin against real MLflow: file store, the SQLite default, and a
tracking server (``mlflow server`` subprocess; the plugin works client side)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from conftest import WORKLOAD_ENV, Receiver, clean_env, json_lines, run_workload, validate_event

pytest.importorskip("mlflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real tracking server with proxied artifacts. The plugin is installed
    in its environment too and has lineage configured: it must stay silent
    there (lineage belongs to the client workload)."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    server_receiver = Receiver().start()
    env = clean_env(OPENLINEAGE_URL=server_receiver.url, **WORKLOAD_ENV)
    log = open(root / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server",
         "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
         "--artifacts-destination", str(root / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError("mlflow server did not start:\n" + (root / "server.log").read_text()[-4000:])
        time.sleep(0.3)
    yield {"url": url, "port": port, "receiver": server_receiver}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    server_receiver.stop()


def _events(rec):
    return [r["body"] for r in rec.requests]


def _by_job(events, job):
    return [e for e in events if e["job"]["name"] == job]


def _ids(datasets):
    return [(d["namespace"], d["name"]) for d in datasets]


def _model_facet(ds):
    return {k: v for k, v in ds["facets"]["mlflowModel"].items() if not k.startswith("_")}


def _local_artifact(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri


BACKENDS = ["file", "sqlite-default", "server"]


@pytest.fixture(params=BACKENDS)
def mlflow_backend(request, tmp_path):
    if request.param == "file":
        return {"name": "file", "env": {"MLFLOW_TRACKING_URI": f"file://{tmp_path}/mlruns",
                                        "MLFLOW_ALLOW_FILE_STORE": "true"},
                "namespace": "mlflow://local"}
    if request.param == "sqlite-default":
        # no MLFLOW_TRACKING_URI: MLflow's default (sqlite:///mlflow.db in the cwd)
        return {"name": "sqlite-default", "env": {}, "namespace": "mlflow://local"}
    server = request.getfixturevalue("mlflow_server")
    return {"name": "server", "env": {"MLFLOW_TRACKING_URI": server["url"]},
            "namespace": f"mlflow://127.0.0.1:{server['port']}", "server": server}


def test_log_and_load_in_separate_processes(mlflow_backend, tmp_path, receiver):
    backend = mlflow_backend
    work = tmp_path / "work"
    work.mkdir()
    debug = backend["name"] == "sqlite-default"
    env = clean_env(OPENLINEAGE_URL=receiver.url, OPENLINEAGE_API_KEY="k-mlflow", **WORKLOAD_ENV, **backend["env"])
    if debug:
        env["LINEAGE_LOG_LEVEL"] = "DEBUG"
    proc = run_workload("mlflow_log.py", str(work), env=env, cwd=work)
    out = json_lines(proc.stdout)[-1]
    assert out["model_status"].endswith("READY")
    log_events = _events(receiver)
    if debug:  # LINEAGE_LOG_LEVEL=DEBUG logs every event emitted
        assert proc.stderr.count("lineage: emitting") == len(log_events)
    receiver.clear()

    proc2 = run_workload("mlflow_load.py", out["model_id"], env=env, cwd=work)
    assert json_lines(proc2.stdout)[-1]["pyfunc"] == "PyFuncModel"
    load_events = _events(receiver)

    for req in receiver.requests:
        assert req["headers"]["Authorization"] == "Bearer k-mlflow"
    for e in log_events + load_events:
        validate_event(e)
        assert e["job"]["namespace"] == WORKLOAD_ENV["LINEAGE_WORKLOAD_ID"]
        assert e["run"]["facets"]["workload"]["id"] == WORKLOAD_ENV["LINEAGE_WORKLOAD_ID"]
        assert e["run"]["facets"]["processing_engine"]["name"] == "mlflow"

    # exactly these, in this order (nothing for MLflow's own load of the model
    # while logging it, nor for its peeks at MLmodel/requirements when loading)
    assert [(e["job"]["name"], e["eventType"]) for e in log_events] == [
        ("mlflow.log_input", "COMPLETE"),
        ("mlflow.log_model", "START"),
        ("mlflow.log_model", "COMPLETE"),
        ("mlflow.register_model", "COMPLETE"),
        ("mlflow.log_artifact", "COMPLETE"),
        ("mlflow.log_artifacts", "COMPLETE"),
        ("mlflow.download_artifacts", "COMPLETE"),
    ]
    assert [(e["job"]["name"], e["eventType"]) for e in load_events] == [
        ("mlflow.load_model", "COMPLETE"),
        ("mlflow.load_model", "COMPLETE"),
    ]

    ns = backend["namespace"]
    model_id = out["model_id"]
    model_ident = (ns, f"models/{model_id}")
    mlflow_parent = {
        "job": {"namespace": WORKLOAD_ENV["LINEAGE_WORKLOAD_ID"],
                "name": f"mlflow/experiments/{out['experiment_id']}", "facets": {}},
        "run": {"runId": str(uuid.UUID(hex=out["run_id"])), "facets": {}},
    }

    # log_input: the dataset's source, schema and digest
    (ev,) = _by_job(log_events, "mlflow.log_input")
    assert _ids(ev["inputs"]) == [("file", "/mnt/cluster_storage/train.csv")] and ev["outputs"] == []
    facets = ev["inputs"][0]["facets"]
    assert [(f["name"], f["type"]) for f in facets["schema"]["fields"]] == [("x1", "double"), ("x2", "double")]
    assert facets["version"]["datasetVersion"]
    assert {k: ev["run"]["facets"]["parent"][k] for k in ("job", "run")} == mlflow_parent

    # log_model: START and COMPLETE of one run, the model as an output asset
    start, complete = _by_job(log_events, "mlflow.log_model")
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert _ids(complete["outputs"]) == [model_ident] and complete["inputs"] == []
    model = complete["outputs"][0]
    assert model["facets"]["datasetType"]["datasetType"] == "MODEL"
    assert _model_facet(model) == {
        "modelId": model_id,
        "flavor": "sklearn",
        "runId": out["run_id"],
        "experimentId": out["experiment_id"],
        "artifactPath": out["model_artifact_location"],
        "modelUri": f"models:/{model_id}",
    }
    assert model["facets"]["mlflowModel"]["_schemaURL"] == (
        f"{receiver.url}/spec/facets/1-0-0/MlflowModelDatasetFacet.json#/$defs/MlflowModelDatasetFacet"
    )
    params = {p["key"]: p["value"] for p in complete["run"]["facets"]["executionParameters"]["parameters"]}
    assert params["C"] == "1.0"
    assert {k: complete["run"]["facets"]["parent"][k] for k in ("job", "run")} == mlflow_parent
    assert complete["run"]["facets"]["parent"]["root"]["job"]["name"] == WORKLOAD_ENV["LINEAGE_WORKLOAD_NAME"]

    # register_model: same asset, with the registered name and version
    (reg,) = _by_job(log_events, "mlflow.register_model")
    assert _ids(reg["outputs"]) == [model_ident]
    mf = _model_facet(reg["outputs"][0])
    assert (mf["registeredName"], mf["registeredVersion"], mf["modelId"]) == ("iris-clf", "1", model_id)
    assert mf["modelUri"] == "models:/iris-clf/1"
    assert reg["outputs"][0]["facets"]["symlinks"]["identifiers"] == [
        {"namespace": ns, "name": "registered-models/iris-clf/versions/1", "type": "MODEL_VERSION"}
    ]

    # artifacts: local file/dir in, artifact location out
    if backend["name"] == "server":
        art_ns = ns
        art_base = "artifacts/" + out["artifact_uri"][len("mlflow-artifacts:"):].strip("/")
    else:
        art_ns = "file"
        art_base = _local_artifact(out["artifact_uri"])
    (la,) = _by_job(log_events, "mlflow.log_artifact")
    assert _ids(la["inputs"]) == [("file", f"{work}/notes.txt")]
    assert _ids(la["outputs"]) == [(art_ns, f"{art_base}/docs/notes.txt")]
    (las,) = _by_job(log_events, "mlflow.log_artifacts")
    assert _ids(las["inputs"]) == [("file", f"{work}/plots")]
    assert _ids(las["outputs"]) == [(art_ns, f"{art_base}/plots")]
    (dl,) = _by_job(log_events, "mlflow.download_artifacts")
    assert _ids(dl["inputs"]) == [(art_ns, f"{art_base}/docs/notes.txt")]
    assert _ids(dl["outputs"]) == [("file", out["downloaded"])]

    # load in another process: the same model asset, as an input
    sk, pf = load_events
    assert _ids(sk["inputs"]) == [model_ident] and sk["outputs"] == []
    assert _ids(pf["inputs"]) == [model_ident]
    skf, pff = _model_facet(sk["inputs"][0]), _model_facet(pf["inputs"][0])
    assert (skf["flavor"], skf["modelId"], skf["runId"], skf["modelUri"]) == (
        "sklearn", model_id, out["run_id"], f"models:/{model_id}")
    assert (pff["flavor"], pff["registeredName"], pff["registeredVersion"], pff["modelUri"]) == (
        "pyfunc", "iris-clf", "1", "models:/iris-clf/1")
    assert skf["artifactPath"] == out["model_artifact_location"]
    assert sk["inputs"][0]["facets"]["datasetType"]["datasetType"] == "MODEL"

    if backend["name"] == "server":
        assert backend["server"]["receiver"].requests == [], "the tracking server must not emit"


def test_disabled_sets_nothing_up_and_emits_nothing(tmp_path, receiver):
    env = clean_env(OPENLINEAGE_URL=receiver.url, LINEAGE_TRACKING_ENABLED="false", **WORKLOAD_ENV,
                    MLFLOW_TRACKING_URI=f"file://{tmp_path}/mlruns", MLFLOW_ALLOW_FILE_STORE="true")
    proc = run_workload("mlflow_small.py", str(tmp_path), env=env, cwd=tmp_path)
    out = json_lines(proc.stdout)[-1]
    assert out["status"].endswith("READY")
    assert out["store_class"] == "FileStore"  # MLflow's own class: nothing set up
    assert receiver.requests == []
