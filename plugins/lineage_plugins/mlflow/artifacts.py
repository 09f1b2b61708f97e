"""MLflow artifact-repository plugin (entry point group ``mlflow.artifact_repository``).

Registered under MLflow's own artifact schemes (plain local paths, ``file``,
``s3``, ``gs``, ``wasbs``, ``abfss``, ``http``, ``https``,
``mlflow-artifacts``). Each factory builds a subclass of MLflow's own
repository class for that scheme (``runs:/`` and ``models:/`` URIs resolve to
these underneath, so they are covered too).

Hooks (MLflow's work first, lineage after, under the error policy; nested
calls, e.g. ``log_artifacts`` calling ``log_artifact`` per file, count once):

* ``log_artifact`` / ``log_artifacts`` on a run -> COMPLETE of
  ``mlflow.log_artifact(s)``: the local file or directory as input, the
  artifact location as output;
* ``log_artifacts`` of a model's own files (``Model.log``) -> no event; the
  flavor is read from the MLmodel being uploaded, for the ``log_model`` event;
* ``download_artifacts`` of a whole model (a directory with an MLmodel) ->
  COMPLETE of ``mlflow.load_model`` (from ``mlflow.<flavor>.load_model``) or
  ``mlflow.download_artifacts``, with the model asset as input;
* ``download_artifacts`` of run artifacts -> COMPLETE of
  ``mlflow.download_artifacts``: artifact location in, local copy out.

Reads of single files inside a model (MLflow peeking at MLmodel or
requirements.txt) and anything MLflow itself does while logging a model are
not reported.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import Any, Iterator

from lineage_plugins.config import tracking_active
from lineage_plugins.emitter import guard
from lineage_plugins.mlflow import common

_tl = threading.local()
_REGISTERED_URI_RE = re.compile(r"^models:/([^/@]+)(?:/([^/]+)|@([^/]+))?/?$")


@contextlib.contextmanager
def _outermost() -> Iterator[bool]:
    depth = getattr(_tl, "depth", 0)
    _tl.depth = depth + 1
    try:
        yield depth == 0
    finally:
        _tl.depth = depth


class ArtifactRepoLineageMixin:
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> Any:
        with _outermost() as outer:
            result = super().log_artifact(local_file, artifact_path)  # type: ignore[misc]
        if outer:
            with guard("MLflow lineage (log_artifact)"):
                _on_log(self, local_file, artifact_path, is_dir=False)
        return result

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> Any:
        with _outermost() as outer:
            result = super().log_artifacts(local_dir, artifact_path)  # type: ignore[misc]
        if outer:
            with guard("MLflow lineage (log_artifacts)"):
                _on_log(self, local_dir, artifact_path, is_dir=True)
        return result

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None, **kwargs: Any) -> Any:
        with _outermost() as outer:
            result = super().download_artifacts(artifact_path, dst_path, **kwargs)  # type: ignore[misc]
        if outer:
            with guard("MLflow lineage (download_artifacts)"):
                _on_download(self, artifact_path, result)
        return result


def _on_log(repo: Any, local: str, artifact_path: str | None, is_dir: bool) -> None:
    base = repo.artifact_uri
    model_loc = common.MODEL_LOCATION_RE.search(base.rstrip("/") + "/")
    if model_loc is None:
        model_loc = common.MODEL_LOCATION_RE.search(base)
    if model_loc is not None:
        # The files of a logged model (Model.log -> log_model_artifacts).
        if is_dir and not artifact_path:
            mlmodel = common.read_mlmodel(local)
            if mlmodel is not None:
                common.remember_model(model_loc.group(1), flavor=common.flavor_of(mlmodel))
        return
    if common.inside_model_log():
        return
    if is_dir:
        target = common.join_uri(base, artifact_path)
    else:
        target = common.join_uri(base, artifact_path, os.path.basename(local))
    out_ns, out_name = common.artifact_identity(target)
    from lineage_plugins.naming import dataset_identity

    in_ns, in_name = dataset_identity(local)
    common.send(
        "COMPLETE",
        "mlflow.log_artifacts" if is_dir else "mlflow.log_artifact",
        inputs=[common.file_dataset("input", in_ns, in_name)],
        outputs=[common.file_dataset("output", out_ns, out_name)],
        parent=common.parent_for_run(None),
    )


def _on_download(repo: Any, artifact_path: str | None, result: Any) -> None:
    if not isinstance(result, str) or common.inside_model_log():
        return
    base = repo.artifact_uri
    model_loc = common.MODEL_LOCATION_RE.search(base)
    mlmodel = common.read_mlmodel(result) if os.path.isdir(result) else None
    load_flavor, load_uri = common.load_context()
    if mlmodel is not None:
        model_id = mlmodel.get("model_id") or (
            model_loc.group(1) if model_loc is not None and not (artifact_path or "").strip("/") else None
        )
        facts = common.model_facts(model_id)
        run_id = mlmodel.get("run_id") or facts.get("run_id")
        reg_name = reg_version = None
        m = _REGISTERED_URI_RE.match(load_uri or "")
        if m and not m.group(1).startswith("m-"):
            reg_name, reg_version = m.group(1), m.group(2)
            if reg_version is not None and not reg_version.isdigit():
                reg_version = None  # a stage name ("Production"), not a version
        name = common.model_name(
            model_id,
            run_path=(run_id, mlmodel.get("artifact_path") or "model") if run_id else None,
        )
        is_load = load_flavor is not None
        model = common.model_dataset(
            "input",
            common.tracking_namespace(getattr(repo, "tracking_uri", None) or None),
            name,
            model_id=model_id,
            flavor=load_flavor if is_load else common.flavor_of(mlmodel),
            run_id=run_id,
            experiment_id=facts.get("experiment_id"),
            artifact_path=common.display_artifact_uri(
                base if model_loc is not None else common.join_uri(base, artifact_path)
            ),
            model_uri=load_uri or (f"models:/{model_id}" if model_id else None),
            registered_name=reg_name,
            registered_version=reg_version,
        )
        common.send(
            "COMPLETE",
            "mlflow.load_model" if is_load else "mlflow.download_artifacts",
            inputs=[model],
            parent=common.parent_for_run(None),
        )
        return
    if model_loc is not None or load_flavor is not None:
        return  # a file peeked at inside a model, or while loading one
    from lineage_plugins.naming import dataset_identity

    in_ns, in_name = common.artifact_identity(common.join_uri(base, artifact_path))
    out_ns, out_name = dataset_identity(result)
    outputs = []
    if (out_ns, out_name) != (in_ns, in_name):
        outputs.append(common.file_dataset("output", out_ns, out_name))
    common.send(
        "COMPLETE",
        "mlflow.download_artifacts",
        inputs=[common.file_dataset("input", in_ns, in_name)],
        outputs=outputs,
        parent=common.parent_for_run(None),
    )


# --------------------------------------------------------------------------
# Factories (entry points): MLflow calls repo(artifact_uri, tracking_uri=..., registry_uri=...)


def _factory(module: str, cls_name: str):  # noqa: ANN202
    def factory(artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> Any:
        import importlib

        base = getattr(importlib.import_module(module), cls_name)
        cls = base
        if tracking_active():
            with guard("MLflow lineage (artifact repository setup)"):
                common.check_version()
                cls = common.lineage_subclass(ArtifactRepoLineageMixin, base)
        return cls(artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)

    # MLflow derives dataset-source class names from the registered
    # repository's __name__ ("LocalArtifactRepository" ->
    # "LocalArtifactDatasetSource"): keep MLflow's names unchanged.
    factory.__name__ = cls_name
    factory.__qualname__ = cls_name
    return factory


local_repo = _factory("mlflow.store.artifact.local_artifact_repo", "LocalArtifactRepository")
s3_repo = _factory("mlflow.store.artifact.s3_artifact_repo", "S3ArtifactRepository")
gcs_repo = _factory("mlflow.store.artifact.gcs_artifact_repo", "GCSArtifactRepository")
azure_blob_repo = _factory("mlflow.store.artifact.azure_blob_artifact_repo", "AzureBlobArtifactRepository")
azure_datalake_repo = _factory(
    "mlflow.store.artifact.azure_data_lake_artifact_repo", "AzureDataLakeArtifactRepository"
)
http_repo = _factory("mlflow.store.artifact.http_artifact_repo", "HttpArtifactRepository")
mlflow_artifacts_repo = _factory("mlflow.store.artifact.mlflow_artifacts_repo", "MlflowArtifactsRepository")
