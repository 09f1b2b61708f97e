"""Builders for OpenLineage events as our plugins and other producers send them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

PRODUCER = "https://github.com/example/lineage-tests"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def rid(label: str) -> str:
    """A stable run id per label, so tests can refer to runs by name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, label))


def dataset(namespace: str, name: str, *, fields: list[tuple[str, str]] | None = None, **facets: Any) -> dict:
    ds: dict[str, Any] = {"namespace": namespace, "name": name, "facets": dict(facets)}
    if fields is not None:
        ds["facets"]["schema"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": [{"name": n, "type": t} for n, t in fields],
        }
    return ds


def model(namespace: str, name: str, **mlflow: Any) -> dict:
    return dataset(
        namespace, name,
        datasetType={"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/DatasetTypeDatasetFacet.json",
                     "datasetType": "MODEL"},
        mlflowModel={"_producer": PRODUCER, "_schemaURL": "/spec/facets/1-0-0/MlflowModelDatasetFacet.json", **mlflow},
    )


def workload(wid: str, *, type: str = "job", name: str | None = None, owner: str = "owner@acme.test",
             cluster: str | None = None, started: str | None = None, **extra: Any) -> dict:
    facet = {"_producer": PRODUCER, "_schemaURL": "/spec/facets/1-0-0/WorkloadRunFacet.json#/$defs/WorkloadRunFacet",
             "type": type, "id": wid, "name": name or wid, "ownerEmail": owner, **extra}
    if cluster:
        facet["clusterId"] = cluster
    if started:
        facet["clusterStartedAt"] = started
    return facet


def run_event(event_type: str, run: str, *, job: tuple[str, str] = ("ns", "job"), time: str | None = None,
              inputs: list | None = None, outputs: list | None = None, workload_facet: dict | None = None,
              parent: dict | None = None, **run_facets: Any) -> dict:
    facets = dict(run_facets)
    if workload_facet is not None:
        facets["workload"] = workload_facet
    if parent is not None:
        facets["parent"] = parent
    return {
        "eventType": event_type,
        "eventTime": time or at(0),
        "run": {"runId": rid(run), "facets": facets},
        "job": {"namespace": job[0], "name": job[1], "facets": {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }
