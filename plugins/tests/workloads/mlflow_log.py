"""MLflow workload used by the tests: plain user code, no lineage imports.

Usage: python mlflow_log.py <workdir>   (tracking URI from MLFLOW_TRACKING_URI or MLflow's default)
Prints one JSON line with what it logged.
"""

import json
import os
import sys

import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

work = os.path.abspath(sys.argv[1])
os.chdir(work)
X = pd.DataFrame({"x1": np.arange(20.0), "x2": np.arange(20.0)[::-1]})
y = (X.x1 > 10).astype(int)

mlflow.set_experiment("lineage-tests")
with mlflow.start_run() as run:
    mlflow.log_param("C", 1.0)
    dataset = mlflow.data.from_pandas(X, source="/mnt/cluster_storage/train.csv", name="train")
    mlflow.log_input(dataset, context="training")
    model = LogisticRegression(C=1.0).fit(X, y)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        input_example=X.head(2),  # makes MLflow load the model once while logging it
        pip_requirements=["scikit-learn"],
        registered_model_name="iris-clf",
    )
    with open("notes.txt", "w") as fh:
        fh.write("notes")
    mlflow.log_artifact("notes.txt", artifact_path="docs")
    os.makedirs("plots", exist_ok=True)
    with open(os.path.join("plots", "loss.txt"), "w") as fh:
        fh.write("0.1")
    mlflow.log_artifacts("plots", artifact_path="plots")
    artifact_uri = mlflow.get_artifact_uri()

os.makedirs(os.path.join(work, "dl"), exist_ok=True)
downloaded = mlflow.artifacts.download_artifacts(
    run_id=run.info.run_id, artifact_path="docs/notes.txt", dst_path=os.path.join(work, "dl")
)
logged = mlflow.get_logged_model(info.model_id)
print(json.dumps({
    "model_id": info.model_id,
    "run_id": run.info.run_id,
    "experiment_id": run.info.experiment_id,
    "artifact_uri": artifact_uri,
    "model_artifact_location": logged.artifact_location,
    "model_status": str(logged.status),
    "downloaded": downloaded,
    "registered_version": info.registered_model_version,
}), flush=True)
