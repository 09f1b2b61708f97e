"""Naming rules and custom facet serialization (pure functions, real code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lineage_plugins.naming import collapse_identities, dataset_identity, storage_layer, uri_for


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("/mnt/cluster_storage/data/train", ("file", "/mnt/cluster_storage/data/train")),
        ("/mnt/cluster_storage/data/train/", ("file", "/mnt/cluster_storage/data/train")),
        ("/mnt/shared_storage/a/../b/x.parquet", ("file", "/mnt/shared_storage/b/x.parquet")),
        ("file:///mnt/cluster_storage/x.csv", ("file", "/mnt/cluster_storage/x.csv")),
        ("local:///mnt/cluster_storage/x.csv", ("file", "/mnt/cluster_storage/x.csv")),
        ("s3://my-bucket/path/to/dir/", ("s3://my-bucket", "path/to/dir")),
        ("s3a://my-bucket/key.parquet", ("s3://my-bucket", "key.parquet")),
        ("s3://my-bucket", ("s3://my-bucket", "/")),
        ("gs://gbucket/a/b.json", ("gs://gbucket", "a/b.json")),
        ("abfss://cont@acct.dfs.core.windows.net/dir/f.csv",
         ("abfss://cont@acct.dfs.core.windows.net", "dir/f.csv")),
        ("wasbs://cont@acct.blob.core.windows.net/dir", ("wasbs://cont@acct.blob.core.windows.net", "dir")),
        ("hdfs://namenode:8020/user/x", ("hdfs://namenode:8020", "/user/x")),
        ("https://example.com/data/x.csv", ("https://example.com", "/data/x.csv")),
    ],
)
def test_dataset_identity(uri, expected):
    assert dataset_identity(uri) == expected


def test_relative_local_path_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dataset_identity("data/x.csv") == ("file", f"{tmp_path}/data/x.csv")


def test_schemeless_path_on_object_store_filesystem():
    # Ray accepts "bucket/key" together with a pyarrow S3FileSystem
    assert dataset_identity("bucket/k/v.parquet", filesystem_type="s3") == ("s3://bucket", "k/v.parquet")
    assert dataset_identity("bucket/k", filesystem_type="gcs") == ("gs://bucket", "k")


def test_uri_and_storage_layer():
    assert uri_for("file", "/mnt/cluster_storage/x") == "file:///mnt/cluster_storage/x"
    assert uri_for("s3://b", "k/x") == "s3://b/k/x"
    assert storage_layer("file") == "local"
    assert storage_layer("s3://b") == "s3"
    assert storage_layer("gs://b") == "gcs"


def test_collapse_long_file_lists_to_their_directory():
    ids = [("s3://b", f"data/part-{i}.parquet") for i in range(60)] + [("file", "/x/y")]
    assert collapse_identities(ids) == [("s3://b", "data"), ("file", "/x/y")]
    assert collapse_identities([("file", "/a"), ("file", "/a")]) == [("file", "/a")]


def test_tracking_namespaces():
    pytest.importorskip("mlflow")
    from lineage_plugins.mlflow.common import artifact_identity, tracking_namespace

    assert tracking_namespace("http://mlflow.internal:5000") == "mlflow://mlflow.internal:5000"
    assert tracking_namespace("https://Host.example.com/mlflow/") == "mlflow://host.example.com/mlflow"
    assert tracking_namespace("sqlite:///mlflow.db") == "mlflow://local"
    assert tracking_namespace("file:///tmp/mlruns") == "mlflow://local"
    assert tracking_namespace("/tmp/mlruns") == "mlflow://local"
    assert tracking_namespace("databricks") == "mlflow://databricks"
    assert tracking_namespace("postgresql://user:secret@db.internal:5432/mlflow") == "mlflow://db.internal:5432/mlflow"
    assert artifact_identity("mlflow-artifacts://srv:5000/1/abc/artifacts/x") == (
        "mlflow://srv:5000", "artifacts/1/abc/artifacts/x")
    assert artifact_identity("s3://bkt/mlflow/1/abc/artifacts/m") == ("s3://bkt", "mlflow/1/abc/artifacts/m")


def _serialize_in_subprocess(env_extra: dict[str, str]) -> dict:
    """Settings are read at load, so build the facets in a fresh interpreter."""
    code = (
        "import json\n"
        "from openlineage.client.serde import Serde\n"
        "from lineage_plugins.emitter import workload_facet\n"
        "from lineage_plugins.facets import MlflowModelDatasetFacet\n"
        "wf = workload_facet()\n"
        "print(json.dumps({'workload': Serde.to_dict(wf) if wf else None,\n"
        "  'model': Serde.to_dict(MlflowModelDatasetFacet(modelId='m-1', flavor='sklearn'))}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINEAGE_", "OPENLINEAGE"))}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_custom_facets_serialize_with_schema_url_and_producer():
    from conftest import validate_event  # noqa: F401  (schemas are checked in the e2e tests)

    got = _serialize_in_subprocess({
        "OPENLINEAGE_URL": "https://lineage.example.com/",
        "LINEAGE_WORKLOAD_ID": "wl-9",
        "LINEAGE_WORKLOAD_TYPE": "Service",
        "LINEAGE_CLUSTER_STARTED_AT": "not a date",
    })
    wl = got["workload"]
    assert wl["_schemaURL"] == "https://lineage.example.com/spec/facets/1-0-0/WorkloadRunFacet.json#/$defs/WorkloadRunFacet"
    assert wl["_producer"] == "pkg:pypi/lineage-plugins@0.1.0"
    assert wl["type"] == "service" and wl["id"] == "wl-9"
    assert "clusterStartedAt" not in wl  # invalid RFC 3339 is left out, not sent
    assert wl["resources"]["cpus"] >= 1 and wl["resources"]["memoryBytes"] > 0
    model = got["model"]
    assert model == {
        "_producer": "pkg:pypi/lineage-plugins@0.1.0",
        "_schemaURL": "https://lineage.example.com/spec/facets/1-0-0/MlflowModelDatasetFacet.json#/$defs/MlflowModelDatasetFacet",
        "modelId": "m-1",
        "flavor": "sklearn",
    }


def test_no_workload_id_means_no_workload_facet():
    got = _serialize_in_subprocess({"OPENLINEAGE_URL": "http://x"})
    assert got["workload"] is None
