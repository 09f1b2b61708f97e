"""Shared test helpers.

Workloads run as real subprocesses (plain user code in tests/workloads/),
configured only through environment variables, exactly as on the platform.
They emit through the real OpenLineage client to a real HTTP receiver
(tests/receiver.py) started here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLUGINS = HERE.parent
REPO = PLUGINS.parent
WORKLOADS = HERE / "workloads"
CUSTOM_FACETS = REPO / "ingest" / "spec" / "facets"

sys.path.insert(0, str(HERE))
from receiver import Receiver  # noqa: E402

RAY_CALLBACK = "lineage_plugins.ray_data.LineageExecutionCallback"

WORKLOAD_ENV = {
    "LINEAGE_WORKLOAD_TYPE": "job",
    "LINEAGE_WORKLOAD_ID": "prodjob_test123",
    "LINEAGE_WORKLOAD_NAME": "nightly-train",
    "LINEAGE_PROJECT_ID": "prj_1",
    "LINEAGE_CLOUD_ID": "cld_1",
    "LINEAGE_OWNER_EMAIL": "owner@example.com",
    "LINEAGE_CLUSTER_ID": "ses_42",
    "LINEAGE_CLUSTER_STARTED_AT": "2026-01-02T03:04:05Z",
    "LINEAGE_WORKLOAD_STATUS": "RUNNING",
    "LINEAGE_IMAGE": "registry.example.com/ml/train:1.2.3",
}


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any lineage/OL/MLflow settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LINEAGE_", "OPENLINEAGE", "MLFLOW_", "RAY_DATA_", "_MLFLOW_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_workload(script: str, *args: str, env: dict[str, str], cwd: str | Path | None = None,
                 timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(WORKLOADS / script), *args],
        env=env,
        cwd=str(cwd) if cwd else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{script} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


# ---------------------------------------------------------------- validation


def _find_ol_spec() -> Path | None:
    candidates = []
    if os.environ.get("OPENLINEAGE_SPEC_DIR"):
        candidates.append(Path(os.environ["OPENLINEAGE_SPEC_DIR"]))
    candidates += [REPO.parent / "shared" / "openlineage" / "schema", Path("/work/shared/openlineage/schema")]
    for c in candidates:
        if (c / "OpenLineage.json").is_file():
            return c
    return None


OL_SPEC = _find_ol_spec()

# Stand-in for the core spec when shared/ is not beside the repository: the
# facet base definitions our custom facet schemas build on.
_CORE_STUB = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    "$defs": {
        "BaseFacet": {
            "type": "object",
            "properties": {
                "_producer": {"type": "string", "format": "uri"},
                "_schemaURL": {"type": "string", "format": "uri"},
            },
            "required": ["_producer", "_schemaURL"],
        },
        "RunFacet": {"allOf": [{"$ref": "#/$defs/BaseFacet"}]},
        "DatasetFacet": {"allOf": [{"$ref": "#/$defs/BaseFacet"}]},
    },
}


def _registry():
    from referencing import Registry, Resource

    resources = []
    if OL_SPEC is not None:
        core = json.loads((OL_SPEC / "OpenLineage.json").read_text())
    else:
        core = _CORE_STUB
    resources.append(("https://openlineage.io/spec/2-0-2/OpenLineage.json", Resource.from_contents(core)))
    return Registry().with_resources(resources), core


def validate_event(event: dict) -> None:
    """Validate an event: core RunEvent (when the spec is available), every
    standard facet against its schema in the spec, our custom facets against
    the schemas in ingest/spec/facets/."""
    import jsonschema

    registry, core = _registry()
    if OL_SPEC is not None:
        schema = {"$ref": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}
        jsonschema.Draft202012Validator(schema, registry=registry).validate(event)

    facets = []
    facets += list((event["run"].get("facets") or {}).items())
    facets += list((event["job"].get("facets") or {}).items())
    for ds in event.get("inputs", []) + event.get("outputs", []):
        facets += list((ds.get("facets") or {}).items())
    for key, facet in facets:
        url = facet["_schemaURL"]
        file_name, _, definition = url.partition("#/$defs/")
        file_name = file_name.rsplit("/", 1)[-1]
        if key in ("workload", "mlflowModel"):
            schema_doc = json.loads((CUSTOM_FACETS / file_name).read_text())
        elif OL_SPEC is not None and (OL_SPEC / "facets" / file_name).is_file():
            schema_doc = json.loads((OL_SPEC / "facets" / file_name).read_text())
        else:
            continue
        from referencing import Resource

        reg = registry.with_resource("urn:facet", Resource.from_contents(schema_doc))
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:facet#/$defs/{definition}"}, registry=reg
        )
        validator.validate(facet)
