"""Our two custom facets, as attrs classes the official serializer handles.

Their JSON Schemas live in the server repository
(``ingest/spec/facets/WorkloadRunFacet.json`` and
``MlflowModelDatasetFacet.json``) and are served at
``{OPENLINEAGE_URL}/spec/facets/1-0-0/<File>.json``; ``_schemaURL`` points
there.
"""

from __future__ import annotations

import os
from typing import Any

import attr
from openlineage.client.facet_v2 import DatasetFacet, RunFacet

from lineage_plugins import PRODUCER

FACET_SPEC_VERSION = "1-0-0"
_FALLBACK_BASE = "https://lineage.invalid"

# Set by the emitter once the OpenLineage client exists, from the client's
# HTTP transport URL, for setups that configure the client through a YAML file
# or OPENLINEAGE__TRANSPORT__* variables instead of OPENLINEAGE_URL.
_transport_base_url: str | None = None


def set_transport_base_url(url: str | None) -> None:
    global _transport_base_url  # noqa: PLW0603
    _transport_base_url = url.rstrip("/") if url else None


def schema_base_url() -> str:
    base = (
        os.environ.get("LINEAGE_SCHEMA_BASE_URL")
        or os.environ.get("OPENLINEAGE_URL")
        or _transport_base_url
        or _FALLBACK_BASE
    )
    return base.strip().rstrip("/")


def schema_url(definition: str) -> str:
    return f"{schema_base_url()}/spec/facets/{FACET_SPEC_VERSION}/{definition}.json#/$defs/{definition}"


@attr.define
class WorkloadRunFacet(RunFacet):
    """Run facet ``workload``: the platform workload and the cluster it ran on."""

    type: str  # noqa: A003
    id: str  # noqa: A003
    name: str | None = attr.field(default=None)
    projectId: str | None = attr.field(default=None)  # noqa: N815
    cloudId: str | None = attr.field(default=None)  # noqa: N815
    organizationId: str | None = attr.field(default=None)  # noqa: N815
    ownerEmail: str | None = attr.field(default=None)  # noqa: N815
    clusterId: str | None = attr.field(default=None)  # noqa: N815
    clusterStartedAt: str | None = attr.field(default=None)  # noqa: N815
    status: str | None = attr.field(default=None)
    rayVersion: str | None = attr.field(default=None)  # noqa: N815
    pythonVersion: str | None = attr.field(default=None)  # noqa: N815
    osVersion: str | None = attr.field(default=None)  # noqa: N815
    image: str | None = attr.field(default=None)
    resources: dict[str, Any] | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return schema_url("WorkloadRunFacet")

    def __attrs_post_init__(self) -> None:
        if not self._producer:
            self._producer = PRODUCER
        self._schemaURL = self._get_schema()


@attr.define
class MlflowModelDatasetFacet(DatasetFacet):
    """Dataset facet ``mlflowModel``: marks a dataset as an MLflow model."""

    modelId: str | None = attr.field(default=None)  # noqa: N815
    flavor: str | None = attr.field(default=None)
    runId: str | None = attr.field(default=None)  # noqa: N815
    experimentId: str | None = attr.field(default=None)  # noqa: N815
    artifactPath: str | None = attr.field(default=None)  # noqa: N815
    modelUri: str | None = attr.field(default=None)  # noqa: N815
    registeredName: str | None = attr.field(default=None)  # noqa: N815
    registeredVersion: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlflowModelDatasetFacet")

    def __attrs_post_init__(self) -> None:
        if not self._producer:
            self._producer = PRODUCER
        self._schemaURL = self._get_schema()
