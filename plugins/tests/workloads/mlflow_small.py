"""Small MLflow workload: log one model to the default SQLite store. Plain user code.

Usage: python mlflow_small.py <workdir>
"""

import json
import os
import sys

import mlflow
from sklearn.dummy import DummyClassifier

os.chdir(sys.argv[1])
with mlflow.start_run():
    info = mlflow.sklearn.log_model(
        DummyClassifier().fit([[0], [1]], [0, 1]), name="model", pip_requirements=["scikit-learn"]
    )
client = mlflow.MlflowClient()
print(json.dumps({
    "model_id": info.model_id,
    "status": str(client.get_logged_model(info.model_id).status),
    "store_class": type(client._tracking_client.store).__name__,
}), flush=True)
