"""Ray Data plugin against real Ray Data (local cluster, 2 CPUs) and a real receiver."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict

import pytest
from conftest import RAY_CALLBACK, WORKLOAD_ENV, Receiver, clean_env, json_lines, run_workload, validate_event

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("ray_formats")
    with Receiver() as rec:
        env = clean_env(
            OPENLINEAGE_URL=rec.url,
            OPENLINEAGE_API_KEY="ingest-key-123",
            RAY_DATA_EXECUTION_CALLBACKS=RAY_CALLBACK,
            MLFLOW_TRACKING_URI=f"file://{work}/mlruns",
            MLFLOW_ALLOW_FILE_STORE="true",
            **WORKLOAD_ENV,
        )
        proc = run_workload("ray_formats.py", str(work), env=env, timeout=400)
        requests = list(rec.requests)
        url = rec.url
    marks = {m["scenario"]: m for m in json_lines(proc.stdout) if "scenario" in m}
    assert "done" in marks, proc.stdout
    events = [r["body"] for r in requests]
    runs: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        runs[e["run"]["runId"]].append(e)
    return {"work": str(work), "marks": marks, "events": events, "runs": runs,
            "requests": requests, "url": url}


def _ds(event, kind, name):
    matches = [d for d in event[kind] if d["name"] == name]
    assert len(matches) == 1, (kind, name, [d["name"] for d in event[kind]])
    return matches[0]


def _run_for(ray_run, job_name):
    runs = [evs for evs in ray_run["runs"].values() if evs[0]["job"]["name"] == job_name]
    assert len(runs) == 1, (job_name, sorted({e["job"]["name"] for e in ray_run["events"]}))
    return runs[0]


def _ids(datasets):
    return [(d["namespace"], d["name"]) for d in datasets]


def _fields(ds):
    return [(f["name"], f.get("type")) for f in ds["facets"].get("schema", {}).get("fields", [])]


def _final(run_events):
    types = [e["eventType"] for e in run_events]
    assert types[0] == "START" and len(types) == 2, types
    assert len({e["run"]["runId"] for e in run_events}) == 1
    return run_events[-1]


EXPECTED_JOBS = {
    "ray.data:read_parquet->MapBatches(<lambda>)->write_parquet",
    "ray.data:read_csv->write_json",
    "ray.data:read_json->limit=2",
    "ray.data:read_text",
    "ray.data:read_image->write_image",
    "ray.data:read_binary",
    "ray.data:read_avro",
    "ray.data:read_audio->limit=1",
    "ray.data:read_video->limit=1",
    "ray.data:read_webdataset->write_webdataset",
    "ray.data:read_parquet->MapBatches(count_rows)",
    "ray.data:read_csv->limit=1",
    "ray.data:read_csv->Map(<lambda>)",
    "ray.data:read_tfrecords->limit=1",
    "ray.data:read_parquet->Map(<lambda>)",  # materialize()
    "ray.data:InputData->write_csv",  # write of the materialized dataset
    "ray.data:read_csv->limit=1->Map(<lambda>)",  # schema() that executes
    "ray.data:read_json",  # inside an MLflow run
    "ray.data:read_numpy->write_numpy",
    "ray.data:read_orc->limit=1",
}


def test_one_run_per_execution_and_nothing_for_executions_without_files(ray_run):
    names = [evs[0]["job"]["name"] for evs in ray_run["runs"].values()]
    # exactly the executions that touched files, each once (from_items() -> none)
    assert sorted(names) == sorted(EXPECTED_JOBS)
    for evs in ray_run["runs"].values():
        assert [e["eventType"] for e in evs][0] == "START"
        assert [e["eventType"] for e in evs][-1] in ("COMPLETE", "FAIL")
        assert len(evs) == 2


def test_transport_endpoint_auth_and_event_schemas(ray_run):
    assert ray_run["requests"], "no events received"
    for req in ray_run["requests"]:
        assert req["path"] == "/api/v1/lineage"
        assert req["headers"]["Authorization"] == "Bearer ingest-key-123"
        validate_event(req["body"])


def test_parquet_read_map_write(ray_run):
    work = ray_run["work"]
    final = _final(_run_for(ray_run, "ray.data:read_parquet->MapBatches(<lambda>)->write_parquet"))
    assert [(d["namespace"], d["name"]) for d in final["inputs"]] == [("file", f"{work}/in_parquet")]
    assert [(d["namespace"], d["name"]) for d in final["outputs"]] == [("file", f"{work}/out_parquet")]
    inp = final["inputs"][0]
    out = final["outputs"][0]
    assert inp["facets"]["storage"]["fileFormat"] == "parquet"
    assert inp["facets"]["storage"]["storageLayer"] == "local"
    assert _fields(inp) == [("id", "int64"), ("name", "large_string")]
    assert out["facets"]["storage"]["fileFormat"] == "parquet"
    # fused read->map->write: the schema is read back from the written footer
    assert _fields(out) == [("id", "int64"), ("upper", "string")]
    assert out["facets"]["dataSource"]["uri"] == f"file://{work}/out_parquet"
    assert final["job"]["namespace"] == WORKLOAD_ENV["LINEAGE_WORKLOAD_ID"]


def test_csv_to_json_schemas(ray_run):
    work = ray_run["work"]
    final = _final(_run_for(ray_run, "ray.data:read_csv->write_json"))
    inp = _ds(final, "inputs", f"{work}/in.csv")
    out = _ds(final, "outputs", f"{work}/out_json")
    assert inp["facets"]["storage"]["fileFormat"] == "csv"
    assert out["facets"]["storage"]["fileFormat"] == "json"
    assert _fields(inp) == [("x", "double"), ("label", "string")]
    assert _fields(out) == [("x", "double"), ("label", "string")]


@pytest.mark.parametrize(
    "job,path,fmt,schema_names",
    [
        ("ray.data:read_json->limit=2", "in_json", "json", ["k", "v"]),
        ("ray.data:read_text", "in.txt", "text", ["text"]),
        ("ray.data:read_binary", "in_binary", "binary", ["bytes"]),
        ("ray.data:read_avro", "in.avro", "avro", ["n", "s"]),
        ("ray.data:read_audio->limit=1", "in_audio", "audio", ["amplitude", "sample_rate"]),
        ("ray.data:read_video->limit=1", "clip.mp4", "video", ["frame", "frame_index"]),
        ("ray.data:read_orc->limit=1", "in.orc", "orc", ["o", "p"]),
    ],
)
def test_reads_by_format(ray_run, job, path, fmt, schema_names):
    final = _final(_run_for(ray_run, job))
    assert final["eventType"] == "COMPLETE"
    assert final["outputs"] == []
    assert [(d["namespace"], d["name"]) for d in final["inputs"]] == [("file", f"{ray_run['work']}/{path}")]
    inp = final["inputs"][0]
    assert inp["facets"]["storage"]["fileFormat"] == fmt
    assert [n for n, _ in _fields(inp)] == schema_names


def test_images_numpy_and_webdataset_round_trips(ray_run):
    work = ray_run["work"]
    final = _final(_run_for(ray_run, "ray.data:read_image->write_image"))
    assert _ds(final, "inputs", f"{work}/in_images")["facets"]["storage"]["fileFormat"] == "image"
    out = _ds(final, "outputs", f"{work}/out_images")
    assert out["facets"]["storage"]["fileFormat"] == "image"
    assert [n for n, _ in _fields(out)] == ["image"]

    final = _final(_run_for(ray_run, "ray.data:read_numpy->write_numpy"))
    assert _ds(final, "inputs", f"{work}/in.npy")["facets"]["storage"]["fileFormat"] == "numpy"
    assert _ds(final, "outputs", f"{work}/out_npy")["facets"]["storage"]["fileFormat"] == "numpy"

    final = _final(_run_for(ray_run, "ray.data:read_webdataset->write_webdataset"))
    assert _ds(final, "inputs", f"{work}/in_wds")["facets"]["storage"]["fileFormat"] == "webdataset"
    assert _ds(final, "outputs", f"{work}/out_wds")["facets"]["storage"]["fileFormat"] == "webdataset"


def test_count_reads_the_directory(ray_run):
    final = _final(_run_for(ray_run, "ray.data:read_parquet->MapBatches(count_rows)"))
    inp = _ds(final, "inputs", f"{ray_run['work']}/in_parquet")
    assert inp["facets"]["storage"]["fileFormat"] == "parquet"
    # count() only reads the file manifest/footers: no (wrong) manifest schema
    assert "schema" not in inp["facets"]


def test_relative_path_is_made_absolute(ray_run):
    final = _final(_run_for(ray_run, "ray.data:read_csv->limit=1"))
    assert [(d["namespace"], d["name"]) for d in final["inputs"]] == [("file", f"{ray_run['work']}/in.csv")]


def test_failed_execution_is_a_fail_event_with_the_error(ray_run):
    assert ray_run["marks"]["udf_failure_raised"]["error"]  # the workload saw its own error
    evs = _run_for(ray_run, "ray.data:read_csv->Map(<lambda>)")
    final = _final(evs)
    assert final["eventType"] == "FAIL"
    assert "ZeroDivisionError" in final["run"]["facets"]["errorMessage"]["message"]
    assert final["run"]["facets"]["errorMessage"]["programmingLanguage"] == "PYTHON"
    assert _ds(final, "inputs", f"{ray_run['work']}/in.csv")


def test_tfrecords_read_is_captured(ray_run):
    final = _final(_run_for(ray_run, "ray.data:read_tfrecords->limit=1"))
    inp = _ds(final, "inputs", f"{ray_run['work']}/in.tfrecords")
    assert inp["facets"]["storage"]["fileFormat"] == "tfrecords"
    # Without tensorflow installed Ray cannot parse TFRecords: the execution
    # fails and so does the run; with tensorflow it completes.
    if "tfrecords_read_raised" in ray_run["marks"]:
        assert final["eventType"] == "FAIL"
    else:
        assert final["eventType"] == "COMPLETE"


def test_materialized_blocks_keep_their_inputs(ray_run):
    work = ray_run["work"]
    mat = _final(_run_for(ray_run, "ray.data:read_parquet->Map(<lambda>)"))
    assert _ids(mat["inputs"]) == [("file", f"{work}/in_parquet")] and mat["outputs"] == []
    # the later write reads blocks materialized from in_parquet: same input
    final = _final(_run_for(ray_run, "ray.data:InputData->write_csv"))
    assert _ids(final["inputs"]) == [("file", f"{work}/in_parquet")]
    inp = final["inputs"][0]
    assert inp["facets"]["storage"]["fileFormat"] == "parquet"
    assert _fields(inp) == [("id", "int64"), ("name", "large_string")]
    out = _ds(final, "outputs", f"{work}/out_from_materialized")
    assert out["facets"]["storage"]["fileFormat"] == "csv"
    assert _fields(out) == [("id", "int64")]


def test_schema_that_executes_is_captured(ray_run):
    final = _final(_run_for(ray_run, "ray.data:read_csv->limit=1->Map(<lambda>)"))
    assert _ids(final["inputs"]) == [("file", f"{ray_run['work']}/in.csv")]


def test_parent_is_the_active_mlflow_run(ray_run):
    mark = ray_run["marks"]["inside_mlflow_run"]
    final = _final(_run_for(ray_run, "ray.data:read_json"))
    assert _ids(final["inputs"]) == [("file", mark["input"])]
    parent = final["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == str(uuid.UUID(hex=mark["run_id"]))
    assert parent["job"]["name"] == f"mlflow/experiments/{mark['experiment_id']}"
    assert parent["root"]["job"]["name"] == WORKLOAD_ENV["LINEAGE_WORKLOAD_NAME"]


def test_workload_facet(ray_run):
    import ray

    final = _final(_run_for(ray_run, "ray.data:read_text"))
    wl = final["run"]["facets"]["workload"]
    assert wl["type"] == "job"
    assert wl["id"] == "prodjob_test123"
    assert wl["name"] == "nightly-train"
    assert wl["projectId"] == "prj_1"
    assert wl["cloudId"] == "cld_1"
    assert wl["ownerEmail"] == "owner@example.com"
    assert wl["clusterId"] == "ses_42"
    assert wl["clusterStartedAt"] == "2026-01-02T03:04:05Z"
    assert wl["status"] == "RUNNING"
    assert wl["image"] == "registry.example.com/ml/train:1.2.3"
    assert wl["rayVersion"] == ray.__version__
    assert wl["pythonVersion"].count(".") == 2
    assert wl["osVersion"]
    assert wl["resources"]["cpus"] == 2.0  # ray.init(num_cpus=2) in the workload
    assert wl["resources"]["nodes"] == 1
    assert wl["_schemaURL"] == f"{ray_run['url']}/spec/facets/1-0-0/WorkloadRunFacet.json#/$defs/WorkloadRunFacet"
    assert wl["_producer"].startswith("pkg:pypi/lineage-plugins@")
    engine = final["run"]["facets"]["processing_engine"]
    assert (engine["name"], engine["version"]) == ("ray", ray.__version__)
    parent = final["run"]["facets"]["parent"]
    assert parent["job"] == {"namespace": "prodjob_test123", "name": "nightly-train", "facets": {}}
    assert final["job"]["facets"]["jobType"]["integration"] == "RAY"


def test_disabled_emits_nothing(tmp_path, receiver):
    env = clean_env(
        OPENLINEAGE_URL=receiver.url,
        RAY_DATA_EXECUTION_CALLBACKS=RAY_CALLBACK,
        LINEAGE_TRACKING_ENABLED="false",
        **WORKLOAD_ENV,
    )
    proc = run_workload("ray_small.py", str(tmp_path), env=env)
    assert os.path.isdir(tmp_path / "out")  # the workload did its work
    assert json_lines(proc.stdout)[-1] == {"ok": True}
    assert receiver.requests == []
