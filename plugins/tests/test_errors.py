"""A failing lineage receiver never breaks the workload, unless
LINEAGE_IGNORE_ERRORS=false, in which case the plugin raises."""

from __future__ import annotations

import os

import pytest
from conftest import RAY_CALLBACK, WORKLOAD_ENV, Receiver, clean_env, json_lines, run_workload


def _file_store(tmp_path) -> dict[str, str]:
    # MLflow's file store: no database migrations, so these tests stay fast
    return {"MLFLOW_TRACKING_URI": f"file://{tmp_path}/mlruns", "MLFLOW_ALLOW_FILE_STORE": "true"}


def _receiver_env(mode: str, rec: Receiver | None, down_url: str) -> dict[str, str]:
    """Configure the client through OPENLINEAGE__TRANSPORT__* (the client's own
    settings), with retries off so that failures are immediate."""
    url = down_url if mode == "down" else rec.url
    return {
        "OPENLINEAGE__TRANSPORT__TYPE": "http",
        "OPENLINEAGE__TRANSPORT__URL": url,
        "OPENLINEAGE__TRANSPORT__AUTH__TYPE": "api_key",
        "OPENLINEAGE__TRANSPORT__AUTH__APIKEY": "k-err",
        "OPENLINEAGE__TRANSPORT__RETRY__TOTAL": "0",
        "OPENLINEAGE__TRANSPORT__TIMEOUT": "5",
    }


@pytest.fixture(scope="module")
def down_url():
    r = Receiver().start()
    url = r.url
    r.stop()  # nothing listens there any more
    return url


@pytest.mark.parametrize("mode", ["down", "500", "403"])
@pytest.mark.parametrize("ignore", ["true", "false"])
def test_mlflow_failing_receiver(tmp_path, down_url, mode, ignore):
    with Receiver(status=int(mode) if mode != "down" else 201) as rec:
        env = clean_env(LINEAGE_IGNORE_ERRORS=ignore, **WORKLOAD_ENV, **_file_store(tmp_path),
                        **_receiver_env(mode, rec, down_url))
        proc = run_workload("mlflow_artifact.py", str(tmp_path), env=env, cwd=tmp_path, check=False)
        attempts = list(rec.requests)
    if mode != "down":
        assert attempts, "the event was sent (and refused)"
        assert attempts[0]["headers"]["Authorization"] == "Bearer k-err"
    if ignore == "true":
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json_lines(proc.stdout)[-1] == {"artifacts": ["report.txt"]}
        assert "lineage: MLflow lineage (log_artifact) failed, the workload continues" in proc.stderr
    else:
        assert proc.returncode != 0
        assert "LineageError: lineage: MLflow lineage (log_artifact) failed" in proc.stderr


def test_mlflow_log_model_survives_a_500(tmp_path):
    with Receiver(status=500) as rec:
        env = clean_env(**WORKLOAD_ENV, **_file_store(tmp_path), **_receiver_env("500", rec, ""))
        proc = run_workload("mlflow_small.py", str(tmp_path), env=env, cwd=tmp_path)
        attempts = len(rec.requests)
    out = json_lines(proc.stdout)[-1]
    assert out["status"].endswith("READY")
    assert out["store_class"] == "LineageFileStore"  # a subclass of MLflow's own: the plugin was active
    assert attempts == 2  # START and COMPLETE were both attempted


@pytest.mark.parametrize("ignore", ["true", "false"])
def test_ray_failing_receiver(tmp_path, ignore):
    with Receiver(status=500) as rec:
        env = clean_env(LINEAGE_IGNORE_ERRORS=ignore, RAY_DATA_EXECUTION_CALLBACKS=RAY_CALLBACK,
                        **WORKLOAD_ENV, **_receiver_env("500", rec, ""))
        proc = run_workload("ray_small.py", str(tmp_path), env=env, check=False)
        attempts = len(rec.requests)
    assert attempts >= 1
    if ignore == "true":
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert os.path.isdir(tmp_path / "out")
        assert json_lines(proc.stdout)[-1] == {"ok": True}
    else:
        assert proc.returncode != 0
        assert "LineageError: lineage: Ray Data lineage (execution start) failed" in proc.stderr
