"""Shared pieces of the MLflow plugins: naming, model facts, events.

Model asset identity (the same in every process that logs or loads it):

* namespace ``mlflow://<tracking server host[:port][/path]>`` for a tracking
  server (``http(s)://...``), ``mlflow://databricks`` for Databricks,
  ``mlflow://<db host[:port]>/<db>`` for a remote SQL store and
  ``mlflow://local`` for local stores (``file:``, ``sqlite:``);
* name ``models/<model_id>`` (MLflow 3 logged-model id, ``m-...``). A model
  without a logged-model id (registered from an MLflow 2 style source) is
  named ``registered-models/<name>/versions/<version>``, or
  ``runs/<run_id>/<path>`` when only its run is known.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

from lineage_plugins import MLFLOW_TESTED_RANGE, PRODUCER, config
from lineage_plugins.config import log
from lineage_plugins.emitter import (
    emit,
    job_facets,
    mlflow_active_parent,
    mlflow_parent,
    run_event,
    run_facets,
)

_RANGE_TEXT = ">={}.{},<{}.{}".format(*MLFLOW_TESTED_RANGE[0], *MLFLOW_TESTED_RANGE[1])
_warned: set[str] = set()
_lock = threading.Lock()

# model_id -> facts learned in this process (flavor from MLmodel, experiment...)
_model_facts: dict[str, dict[str, Any]] = {}

MODEL_LOCATION_RE = re.compile(r"/models/(m-[0-9a-zA-Z]+)/artifacts/?$")


def warn_once(key: str, msg: str, *args: Any) -> None:
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(msg, *args)


def mlflow_version() -> str:
    try:
        from mlflow.version import VERSION

        return VERSION
    except Exception:  # noqa: BLE001
        return "unknown"


def check_version() -> None:
    version = mlflow_version()
    if not config.in_range(version, MLFLOW_TESTED_RANGE):
        warn_once(
            "mlflow-untested",
            "lineage: MLflow %s is outside the tested range %s of lineage-plugins; "
            "MLflow lineage is attempted but may be incomplete.",
            version,
            _RANGE_TEXT,
        )


# --------------------------------------------------------------------------
# Naming


def tracking_uri() -> str:
    try:
        import mlflow

        return mlflow.get_tracking_uri()
    except Exception:  # noqa: BLE001
        return ""


def tracking_namespace(uri: str | None = None) -> str:
    uri = uri if uri is not None else tracking_uri()
    if (uri or "").lower().startswith(("databricks", "uc:")) or uri in ("uc", "databricks-uc"):
        return "mlflow://databricks"
    parts = urlsplit(uri or "")
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        path = parts.path.strip("/")
        return f"mlflow://{host.lower()}{port}" + (f"/{path}" if path else "")
    if scheme in ("", "file", "sqlite"):
        return "mlflow://local"
    # SQL stores (postgresql+psycopg://user:pw@host:5432/db): host and db only,
    # never credentials.
    if parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        db = parts.path.strip("/")
        return f"mlflow://{parts.hostname.lower()}{port}" + (f"/{db}" if db else "")
    return "mlflow://local"


def store_namespace(store: Any) -> str:
    """Namespace of the tracking store a hook runs on (not the global URI)."""
    if store is not None:
        get_creds = getattr(store, "get_host_creds", None)
        if callable(get_creds):
            with contextlib.suppress(Exception):
                return tracking_namespace(get_creds().host)
        db_uri = getattr(store, "db_uri", None)
        if isinstance(db_uri, str) and db_uri:
            return tracking_namespace(db_uri)
        if hasattr(store, "root_directory"):
            return "mlflow://local"
    return tracking_namespace()


def model_name(model_id: str | None, registered: tuple[str, str] | None = None,
               run_path: tuple[str, str] | None = None) -> str:
    if model_id:
        return f"models/{model_id}"
    if registered:
        return f"registered-models/{registered[0]}/versions/{registered[1]}"
    if run_path:
        return f"runs/{run_path[0]}/{run_path[1].strip('/')}"
    return "models/unknown"


def artifact_identity(artifact_uri: str) -> tuple[str, str]:
    """Dataset identity of an artifact location (a run's or a model's).

    Artifacts proxied by a tracking server (``mlflow-artifacts:/<path>``) live
    wherever the server keeps them; we name them under the server's namespace:
    ``mlflow://<host>``, name ``artifacts/<path>``.
    """
    from lineage_plugins.naming import dataset_identity

    parts = urlsplit(artifact_uri)
    if parts.scheme == "mlflow-artifacts":
        if parts.netloc:
            ns = tracking_namespace(f"http://{parts.netloc}")
        else:
            ns = tracking_namespace()
        return ns, "artifacts/" + parts.path.strip("/")
    if parts.scheme in ("http", "https") and "/mlflow-artifacts/artifacts" in parts.path:
        ns = tracking_namespace(f"{parts.scheme}://{parts.netloc}")
        path = parts.path.split("/mlflow-artifacts/artifacts", 1)[1]
        return ns, "artifacts/" + path.strip("/")
    return dataset_identity(artifact_uri)


def display_artifact_uri(uri: str) -> str:
    """MLflow's own form of an artifact URI (undo the proxy's http resolution)."""
    marker = "/api/2.0/mlflow-artifacts/artifacts"
    if uri.startswith(("http://", "https://")) and marker in uri:
        return "mlflow-artifacts:/" + uri.split(marker, 1)[1].strip("/")
    return uri


def join_uri(base: str, *parts: str | None) -> str:
    out = base.rstrip("/")
    for p in parts:
        if p:
            out = out + "/" + p.strip("/")
    return out


# --------------------------------------------------------------------------
# Facts about models


def read_mlmodel(local_dir: str) -> dict[str, Any] | None:
    path = os.path.join(local_dir, "MLmodel")
    if not os.path.isfile(path):
        return None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    return data if isinstance(data, dict) else None


def flavor_of(mlmodel: dict[str, Any] | None) -> str | None:
    if not mlmodel:
        return None
    flavors = list((mlmodel.get("flavors") or {}).keys())
    for f in flavors:
        if f != "python_function":
            return f
    return "pyfunc" if flavors else None


def remember_model(model_id: str, **facts: Any) -> None:
    with _lock:
        entry = _model_facts.setdefault(model_id, {})
        entry.update({k: v for k, v in facts.items() if v is not None})
        # Bounded: a long-running service may log many models.
        if len(_model_facts) > 2048:
            for key in list(_model_facts)[:1024]:
                _model_facts.pop(key, None)


def model_facts(model_id: str | None) -> dict[str, Any]:
    if not model_id:
        return {}
    with _lock:
        return dict(_model_facts.get(model_id, {}))


# --------------------------------------------------------------------------
# Where are we called from? (only reads the stack; changes nothing)


def find_frame(func_names: set[str], module_prefix: str = "mlflow", outermost: bool = True,
               module_exact: str | None = None) -> Any | None:
    frame = sys._getframe(1)
    found = None
    depth = 0
    while frame is not None and depth < 200:
        code = frame.f_code
        if code.co_name in func_names:
            mod = frame.f_globals.get("__name__", "")
            if (module_exact is not None and mod == module_exact) or (
                module_exact is None and (mod == module_prefix or mod.startswith(module_prefix + "."))
            ):
                found = frame
                if not outermost:
                    return found
        frame = frame.f_back
        depth += 1
    return found


def inside_model_log() -> bool:
    """True while ``Model.log`` (every ``mlflow.<flavor>.log_model``) runs."""
    return find_frame({"log"}, module_exact="mlflow.models.model", outermost=False) is not None


def load_context() -> tuple[str | None, str | None]:
    """(flavor, model_uri) of the outermost ``mlflow.<flavor>.load_model`` call."""
    frame = find_frame({"load_model"})
    if frame is None:
        return None, None
    mod = frame.f_globals.get("__name__", "")
    flavor = mod.split(".")[1] if mod.count(".") >= 1 else None
    uri = frame.f_locals.get("model_uri")
    return flavor, uri if isinstance(uri, str) else None


# --------------------------------------------------------------------------
# Events


def _run_uuid(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lineage-plugins:{key}"))


def model_dataset(kind: str, namespace: str, name: str, *, model_id: str | None = None,
                  flavor: str | None = None, run_id: str | None = None,
                  experiment_id: str | None = None, artifact_path: str | None = None,
                  model_uri: str | None = None, registered_name: str | None = None,
                  registered_version: str | None = None) -> Any:
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_type_dataset, symlinks_dataset

    from lineage_plugins.facets import MlflowModelDatasetFacet

    facets: dict[str, Any] = {
        "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(
            datasetType="MODEL", producer=PRODUCER
        ),
        "mlflowModel": MlflowModelDatasetFacet(
            modelId=model_id,
            flavor=flavor,
            runId=run_id,
            experimentId=experiment_id,
            artifactPath=artifact_path,
            modelUri=model_uri,
            registeredName=registered_name,
            registeredVersion=str(registered_version) if registered_version is not None else None,
            producer=PRODUCER,
        ),
    }
    if registered_name and registered_version is not None:
        facets["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(
            identifiers=[
                symlinks_dataset.Identifier(
                    namespace=namespace,
                    name=f"registered-models/{registered_name}/versions/{registered_version}",
                    type="MODEL_VERSION",
                )
            ],
            producer=PRODUCER,
        )
    cls = OutputDataset if kind == "output" else InputDataset
    return cls(namespace=namespace, name=name, facets=facets)


def file_dataset(kind: str, namespace: str, name: str) -> Any:
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import datasource_dataset

    from lineage_plugins.naming import uri_for

    facets = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=namespace, uri=uri_for(namespace, name), producer=PRODUCER
        )
    }
    cls = OutputDataset if kind == "output" else InputDataset
    return cls(namespace=namespace, name=name, facets=facets)


def execution_parameters(params: dict[str, Any] | None) -> dict[str, Any]:
    if not params:
        return {}
    from openlineage.client.facet_v2 import execution_parameters_run

    return {
        "executionParameters": execution_parameters_run.ExecutionParametersRunFacet(
            parameters=[
                execution_parameters_run.ExecutionParameter(key=str(k), value=str(v))
                for k, v in sorted(params.items())
            ],
            producer=PRODUCER,
        )
    }


def send(event_type: str, job: str, *, inputs: list[Any] | None = None,
         outputs: list[Any] | None = None, run_key: str | None = None,
         parent: tuple[str, str, str] | None = None, error: BaseException | None = None,
         extra_run_facets: dict[str, Any] | None = None) -> None:
    from lineage_plugins.emitter import new_run_id

    run_id = _run_uuid(run_key) if run_key else new_run_id()
    event = run_event(
        event_type,
        run_id,
        job,
        run_facets("mlflow", mlflow_version(), parent=parent, error=error, extra=extra_run_facets),
        job_facets("MLFLOW", job.replace("mlflow.", "").upper()),
        inputs or [],
        outputs or [],
    )
    emit(event)


def parent_for_run(run_id: str | None, experiment_id: str | None = None,
                   store: Any = None) -> tuple[str, str, str] | None:
    """The MLflow run as parent; looks its experiment up only if not given."""
    if not run_id:
        return mlflow_active_parent()
    if experiment_id is None:
        active = None
        with contextlib.suppress(Exception):
            import mlflow

            active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            experiment_id = active.info.experiment_id
        elif store is not None:
            with contextlib.suppress(Exception):
                experiment_id = store.get_run(run_id).info.experiment_id
    return mlflow_parent(run_id, experiment_id)


# --------------------------------------------------------------------------
# Subclassing built-in stores and repositories

_subclasses: dict[tuple[type, type], type] = {}


def lineage_subclass(mixin: type, base: type) -> type:
    """A subclass of ``base`` (an MLflow store/repository) with our hooks.

    Cached per base class so that ``type(store)`` is stable. The subclass
    adds no state, so every MLflow ``isinstance`` check on the built-in class
    still holds.
    """
    key = (mixin, base)
    with _lock:
        cls = _subclasses.get(key)
        if cls is None:
            cls = type(f"Lineage{base.__name__}", (mixin, base), {"__module__": mixin.__module__})
            _subclasses[key] = cls
    return cls
