"""Entry points only; everything else is in pyproject.toml.

Registering a plugin under one of MLflow's built-in schemes replaces MLflow's
own builder for it; ours build subclasses of the built-in stores and
repositories (see lineage_plugins/mlflow/). The empty scheme ("") is what
MLflow uses for plain local paths (``./mlruns``, the default artifact root of
the SQLite store), and pyproject.toml cannot declare an entry point with an
empty name, hence this file.
"""

from setuptools import setup

TRACKING = "lineage_plugins.mlflow.tracking"
REGISTRY = "lineage_plugins.mlflow.registry"
ARTIFACTS = "lineage_plugins.mlflow.artifacts"
SQL_SCHEMES = ["sqlite", "postgresql", "mysql", "mssql"]

setup(
    entry_points={
        "mlflow.tracking_store": [
            f" = {TRACKING}:file_store_builder",
            f"file = {TRACKING}:file_store_builder",
            *[f"{s} = {TRACKING}:sqlalchemy_store_builder" for s in SQL_SCHEMES],
            f"http = {TRACKING}:rest_store_builder",
            f"https = {TRACKING}:rest_store_builder",
        ],
        "mlflow.model_registry_store": [
            f" = {REGISTRY}:file_registry_builder",
            f"file = {REGISTRY}:file_registry_builder",
            *[f"{s} = {REGISTRY}:sqlalchemy_registry_builder" for s in SQL_SCHEMES],
            f"http = {REGISTRY}:rest_registry_builder",
            f"https = {REGISTRY}:rest_registry_builder",
        ],
        "mlflow.artifact_repository": [
            f" = {ARTIFACTS}:local_repo",
            f"file = {ARTIFACTS}:local_repo",
            f"s3 = {ARTIFACTS}:s3_repo",
            f"gs = {ARTIFACTS}:gcs_repo",
            f"wasbs = {ARTIFACTS}:azure_blob_repo",
            f"abfss = {ARTIFACTS}:azure_datalake_repo",
            f"http = {ARTIFACTS}:http_repo",
            f"https = {ARTIFACTS}:http_repo",
            f"mlflow-artifacts = {ARTIFACTS}:mlflow_artifacts_repo",
        ],
    },
)
