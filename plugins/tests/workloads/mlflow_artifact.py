"""Smallest MLflow workload: one run, one artifact (default SQLite store). Plain user code.

Usage: python mlflow_artifact.py <workdir>
"""

import json
import os
import sys

import mlflow

os.chdir(sys.argv[1])
with open("report.txt", "w") as fh:
    fh.write("report")
with mlflow.start_run() as run:
    mlflow.log_artifact("report.txt")
files = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)]
print(json.dumps({"artifacts": files}), flush=True)
