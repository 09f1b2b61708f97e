"""MLflow tracking-store plugin (entry point group ``mlflow.tracking_store``).

Registered under MLflow's own schemes (``file``, ``sqlite``, ``postgresql``,
``mysql``, ``mssql``, ``http``, ``https``), so it replaces MLflow's builder
for them. Each builder calls MLflow's own builder, then gives the store a
subclass of its own class that adds the lineage hooks (the subclass holds no
state, so every check MLflow makes on the store type still holds). With
lineage off, or inside an ``mlflow server`` process, the builders return
MLflow's store untouched.

Hooks (each calls MLflow first, then does lineage under the error policy):

* ``create_logged_model`` -> START of ``mlflow.log_model`` (model as output);
* ``finalize_logged_model`` -> COMPLETE (READY) or FAIL (FAILED) of it;
* ``log_inputs`` -> COMPLETE of ``mlflow.log_input`` with the datasets as inputs.
"""

from __future__ import annotations

import json
from typing import Any

from lineage_plugins.config import tracking_active
from lineage_plugins.emitter import guard
from lineage_plugins.mlflow import common


class TrackingStoreLineageMixin:
    def create_logged_model(self, *args: Any, **kwargs: Any) -> Any:
        model = super().create_logged_model(*args, **kwargs)  # type: ignore[misc]
        with guard("MLflow lineage (create_logged_model)"):
            _model_event(self, "START", model)
        return model

    def finalize_logged_model(self, *args: Any, **kwargs: Any) -> Any:
        model = super().finalize_logged_model(*args, **kwargs)  # type: ignore[misc]
        with guard("MLflow lineage (finalize_logged_model)"):
            status = kwargs.get("status", args[1] if len(args) > 1 else None)
            failed = "FAILED" in str(getattr(status, "name", status)).upper()
            _model_event(self, "FAIL" if failed else "COMPLETE", model)
        return model

    def log_inputs(self, *args: Any, **kwargs: Any) -> Any:
        result = super().log_inputs(*args, **kwargs)  # type: ignore[misc]
        with guard("MLflow lineage (log_inputs)"):
            run_id = kwargs.get("run_id", args[0] if args else None)
            datasets = kwargs.get("datasets", args[1] if len(args) > 1 else None)
            if datasets:
                _log_inputs_event(self, run_id, datasets)
        return result


def _model_event(store: Any, event_type: str, model: Any) -> None:
    model_id = getattr(model, "model_id", None)
    if not model_id:
        return
    facts = common.model_facts(model_id)
    flavor = facts.get("flavor")
    if flavor is None and event_type != "START":
        flavor = _flavor_from_location(model)
    common.remember_model(model_id, experiment_id=model.experiment_id, run_id=model.source_run_id,
                          artifact_location=model.artifact_location)
    ns = common.store_namespace(store)
    output = common.model_dataset(
        "output",
        ns,
        common.model_name(model_id),
        model_id=model_id,
        flavor=flavor,
        run_id=model.source_run_id,
        experiment_id=model.experiment_id,
        artifact_path=model.artifact_location,
        model_uri=f"models:/{model_id}",
    )
    params = getattr(model, "params", None) or {}
    error = None
    if event_type == "FAIL":
        error = RuntimeError(getattr(model, "status_message", None) or "MLflow marked the logged model FAILED")
    common.send(
        event_type,
        "mlflow.log_model",
        outputs=[output],
        run_key=f"log_model:{ns}:{model_id}",
        parent=common.parent_for_run(model.source_run_id, model.experiment_id),
        error=error,
        extra_run_facets=common.execution_parameters(params) if event_type != "START" else None,
    )


def _flavor_from_location(model: Any) -> str | None:
    """Flavor from the MLmodel file when the model's artifacts are local."""
    from lineage_plugins.naming import dataset_identity

    loc = getattr(model, "artifact_location", None) or ""
    ns, path = dataset_identity(loc) if loc else (None, None)
    if ns != "file" or not path:
        return None
    try:
        return common.flavor_of(common.read_mlmodel(path))
    except Exception:  # noqa: BLE001
        return None


def _dataset_identity(ds: Any) -> tuple[str, str]:
    """Identity of an MLflow dataset from its source, else by name."""
    source = getattr(ds, "source", None)
    try:
        src = json.loads(source) if isinstance(source, str) else (source or {})
    except ValueError:
        src = {}
    if isinstance(src, dict):
        for key in ("uri", "url", "path", "location"):
            value = src.get(key)
            if isinstance(value, str) and value:
                return common.artifact_identity(value)
        table = src.get("table_name") or src.get("delta_table_name")
        if isinstance(table, str) and table:
            return common.tracking_namespace(), f"tables/{table}"
    return common.tracking_namespace(), f"datasets/{getattr(ds, 'name', 'dataset')}"


def _schema_fields(ds: Any) -> list[tuple[str, str]]:
    raw = getattr(ds, "schema", None)
    try:
        schema = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    cols = (schema or {}).get("mlflow_colspec") if isinstance(schema, dict) else None
    out = []
    for col in cols or []:
        if isinstance(col, dict) and col.get("name") is not None:
            out.append((str(col["name"]), str(col.get("type", ""))))
    return out


def _log_inputs_event(store: Any, run_id: str | None, dataset_inputs: list[Any]) -> None:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        datasource_dataset,
        schema_dataset,
    )

    from lineage_plugins import PRODUCER
    from lineage_plugins.naming import uri_for

    inputs = []
    for di in dataset_inputs:
        ds = getattr(di, "dataset", None)
        if ds is None:
            continue
        ns, name = _dataset_identity(ds)
        facets: dict[str, Any] = {
            "dataSource": datasource_dataset.DatasourceDatasetFacet(
                name=ns, uri=uri_for(ns, name), producer=PRODUCER
            )
        }
        fields = _schema_fields(ds)
        if fields:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields],
                producer=PRODUCER,
            )
        if getattr(ds, "digest", None):
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(ds.digest), producer=PRODUCER
            )
        inputs.append(InputDataset(namespace=ns, name=name, facets=facets))
    if not inputs:
        return
    common.send(
        "COMPLETE",
        "mlflow.log_input",
        inputs=inputs,
        parent=common.parent_for_run(run_id, store=store),
    )


# --------------------------------------------------------------------------
# Builders (entry points)


def _call_builtin(name: str, store_uri: str, artifact_uri: str | None) -> Any:
    from mlflow.tracking._tracking_service import utils

    builtin = getattr(utils, name)
    return builtin(store_uri=store_uri, artifact_uri=artifact_uri)


def _wrap(store: Any) -> Any:
    if not tracking_active():
        return store
    with guard("MLflow lineage (tracking store setup)"):
        common.check_version()
        store.__class__ = common.lineage_subclass(TrackingStoreLineageMixin, type(store))
    return store


def file_store_builder(store_uri: str, artifact_uri: str | None = None) -> Any:
    return _wrap(_call_builtin("_get_file_store", store_uri, artifact_uri))


def sqlalchemy_store_builder(store_uri: str, artifact_uri: str | None = None) -> Any:
    return _wrap(_call_builtin("_get_sqlalchemy_store", store_uri, artifact_uri))


def rest_store_builder(store_uri: str, artifact_uri: str | None = None) -> Any:
    return _wrap(_call_builtin("_get_rest_store", store_uri, artifact_uri))


__all__ = [
    "TrackingStoreLineageMixin",
    "file_store_builder",
    "rest_store_builder",
    "sqlalchemy_store_builder",
]
