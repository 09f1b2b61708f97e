"""A deterministic stream of realistic OpenLineage events for benchmarks. Framework-free.

Pipelines of `depth` stages: stage s of pipeline p reads 1-3 outputs of stage s-1 (and sometimes a
shared hub dataset: fan-in across pipelines) and writes 1-2 datasets, or a model at the last stage
(which a serving workload then loads). Each run sends START and COMPLETE, each carrying our
`workload` facet, schemas and storage facets; events come to ~2 KB.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

PRODUCER = "https://github.com/example/lineage-bench/v1"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FORMATS = ["parquet"] * 6 + ["csv", "json", "avro", "tfrecords"]


def _facet(**kw) -> dict:
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/Facet.json", **kw}


def _fields(rng: random.Random, n: int) -> list[dict]:
    types = ["int64", "double", "string", "timestamp", "boolean", "binary"]
    return [{"name": f"col_{i:02d}_{rng.choice(['id', 'ts', 'val', 'label', 'feat'])}", "type": rng.choice(types)}
            for i in range(n)]


def _dataset(rng: random.Random, bucket: str, name: str) -> dict:
    fmt = rng.choice(FORMATS)
    return {"namespace": f"s3://{bucket}", "name": f"{name}.{fmt}", "facets": {
        "schema": _facet(fields=_fields(rng, rng.randint(3, 6))),
        "storage": _facet(storageLayer="s3", fileFormat=fmt),
    }}


def _model(rng: random.Random, name: str, version: int) -> dict:
    return {"namespace": "mlflow://tracking.bench", "name": f"models/{name}", "facets": {
        "datasetType": _facet(datasetType="MODEL"),
        "mlflowModel": _facet(modelId=name, flavor="pytorch", runId=f"{rng.getrandbits(64):016x}", experimentId="42",
                              artifactPath="model", registeredName=name, registeredVersion=str(version)),
    }}


def events(n: int, *, seed: int = 1, pipelines: int = 200, depth: int = 10, hubs: int = 20,
           start: datetime | None = None, cluster_started: datetime | None = None,
           project_prefix: str = "prj_bench") -> Iterator[dict]:
    """About `n` events (whole runs), deterministic for a seed."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    cluster_started = cluster_started or start - timedelta(hours=1)
    produced: dict[tuple[int, int], list[dict]] = {}
    hub_sets = [_dataset(rng, "hub-data", f"reference/hub_{i:03d}") for i in range(hubs)]
    emitted, run_no = 0, 0
    while emitted < n:
        # Each pipeline runs its stages in order, pipelines one after another, then all again.
        p, s = (run_no // (depth + 1)) % pipelines, run_no % (depth + 1)
        version = run_no // (pipelines * (depth + 1))
        run_no += 1
        now = start + timedelta(seconds=run_no)
        if s == 0:
            inputs = [_dataset(rng, "raw-landing", f"p{p:04d}/raw_{i}") for i in range(rng.randint(1, 2))]
        else:
            previous = produced.get((p, s - 1)) or [rng.choice(hub_sets)]
            inputs = rng.sample(previous, min(len(previous), rng.randint(1, 3)))
            if rng.random() < 0.2:
                inputs.append(rng.choice(hub_sets))
        if s == depth:
            kind, outputs = "service", []
            inputs = produced.get((p, s - 1), inputs)[:1]
        elif s == depth - 1:
            kind, outputs = "job", [_model(rng, f"model-p{p:04d}", version + 1)]
        else:
            kind = "workspace" if rng.random() < 0.1 else "job"
            outputs = [_dataset(rng, "features", f"p{p:04d}/stage{s}/out_{i}") for i in range(rng.randint(1, 2))]
        produced[(p, s)] = outputs or produced.get((p, s), [])
        workload_id = f"wl-p{p:04d}-s{s:02d}"
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        workload = _facet(
            type=kind, id=workload_id, name=f"pipeline {p} stage {s}", projectId=f"{project_prefix}_{p % 20:02d}",
            ownerEmail=f"user{p % 50:02d}@bench.test", clusterId=f"cluster-{workload_id}-{version}",
            clusterStartedAt=cluster_started.isoformat(), status="RUNNING", rayVersion="2.49.0",
            pythonVersion="3.11.7", osVersion="Ubuntu 22.04.4 LTS", image="anyscale/ray:2.49.0-py311",
            resources={"nodes": 4, "cpus": 32, "gpus": 4 if s == depth - 1 else 0, "gpuType": "A10G",
                       "memoryBytes": 137438953472},
        )
        base = {
            "producer": PRODUCER, "schemaURL": RUN_SCHEMA,
            "job": {"namespace": workload_id, "name": f"stage_{s}.run", "facets": {
                "jobType": _facet(processingType="BATCH", integration="RAY", jobType="JOB"),
                "sourceCodeLocation": _facet(type="git", url=f"https://git.bench.test/p{p:04d}.git",
                                             version=f"{rng.getrandbits(64):016x}"),
            }},
        }
        for event_type, at, outs in (("START", now, []), ("COMPLETE", now + timedelta(seconds=30), outputs)):
            yield {**base, "eventType": event_type, "eventTime": at.isoformat(),
                   "run": {"runId": run_id, "facets": {
                       "workload": {**workload, "status": "SUCCEEDED" if event_type == "COMPLETE" else "RUNNING"},
                   }},
                   "inputs": inputs, "outputs": outs}
            emitted += 1
