"""Loads the model logged by mlflow_log.py, in another process. Plain user code.

Usage: python mlflow_load.py <model_id>
"""

import json
import sys

import mlflow
import pandas as pd

model_id = sys.argv[1]
clf = mlflow.sklearn.load_model(f"models:/{model_id}")
pyf = mlflow.pyfunc.load_model("models:/iris-clf/1")
pred = pyf.predict(pd.DataFrame({"x1": [1.0], "x2": [19.0]}))
result = {"sklearn": type(clf).__name__, "pyfunc": type(pyf).__name__, "pred": [int(p) for p in pred]}
print(json.dumps(result), flush=True)
