"""MLflow model-registry-store plugin (entry point group ``mlflow.model_registry_store``).

Same approach as :mod:`lineage_plugins.mlflow.tracking`: MLflow's own builder
builds the store, which then gets a state-free lineage subclass of its class.

Hook: ``create_model_version`` (``mlflow.register_model`` and
``log_model(registered_model_name=...)``) -> COMPLETE of
``mlflow.register_model`` with the model asset as output, carrying the
registered name and version (``mlflowModel.registeredName`` /
``registeredVersion`` and a ``symlinks`` alias
``registered-models/<name>/versions/<version>``).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from lineage_plugins.config import tracking_active
from lineage_plugins.emitter import guard
from lineage_plugins.mlflow import common

_MODELS_URI_RE = re.compile(r"^models:/(m-[0-9a-zA-Z]+)(/.*)?$")


class RegistryStoreLineageMixin:
    def create_model_version(self, *args: Any, **kwargs: Any) -> Any:
        mv = super().create_model_version(*args, **kwargs)  # type: ignore[misc]
        with guard("MLflow lineage (create_model_version)"):
            _register_event(self, mv)
        return mv


def _register_event(store: Any, mv: Any) -> None:
    model_id = getattr(mv, "model_id", None)
    source = getattr(mv, "source", None) or ""
    if not model_id:
        m = _MODELS_URI_RE.match(source)
        if m:
            model_id = m.group(1)
    facts = common.model_facts(model_id)
    run_id = getattr(mv, "run_id", None) or facts.get("run_id")
    # Logged models live in the tracking store: name them by the tracking URI
    # this registry store was built for.
    ns = common.tracking_namespace(getattr(store, "_lineage_tracking_uri", None))
    name = common.model_name(model_id, registered=(mv.name, str(mv.version)))
    output = common.model_dataset(
        "output",
        ns,
        name,
        model_id=model_id,
        flavor=facts.get("flavor"),
        run_id=run_id,
        experiment_id=facts.get("experiment_id"),
        artifact_path=facts.get("artifact_location"),
        model_uri=f"models:/{mv.name}/{mv.version}",
        registered_name=mv.name,
        registered_version=str(mv.version),
    )
    store = None
    if facts.get("experiment_id") is None and run_id:
        try:
            import mlflow

            store = mlflow.tracking.MlflowClient()._tracking_client.store
        except Exception:  # noqa: BLE001
            store = None
    common.send(
        "COMPLETE",
        "mlflow.register_model",
        outputs=[output],
        parent=common.parent_for_run(run_id, facts.get("experiment_id"), store=store),
    )


def _call_builtin(name: str, store_uri: str, tracking_uri: str | None) -> Any:
    from mlflow.tracking._model_registry import utils

    builtin = getattr(utils, name)
    params = set(inspect.signature(builtin).parameters)
    if "tracking_uri" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(builtin).parameters.values()
    ):
        return builtin(store_uri=store_uri, tracking_uri=tracking_uri)
    return builtin(store_uri=store_uri)


def _wrap(store: Any, tracking_uri: str | None) -> Any:
    if not tracking_active():
        return store
    with guard("MLflow lineage (registry store setup)"):
        common.check_version()
        store.__class__ = common.lineage_subclass(RegistryStoreLineageMixin, type(store))
        store._lineage_tracking_uri = tracking_uri
    return store


def file_registry_builder(store_uri: str, tracking_uri: str | None = None) -> Any:
    return _wrap(_call_builtin("_get_file_store", store_uri, tracking_uri), tracking_uri)


def sqlalchemy_registry_builder(store_uri: str, tracking_uri: str | None = None) -> Any:
    return _wrap(_call_builtin("_get_sqlalchemy_store", store_uri, tracking_uri), tracking_uri)


def rest_registry_builder(store_uri: str, tracking_uri: str | None = None) -> Any:
    return _wrap(_call_builtin("_get_rest_store", store_uri, tracking_uri), tracking_uri)
