"""A small ML pipeline in three steps, as three separate workloads would run it.

Plain user code: nothing here imports the lineage plugins or mentions lineage. With the plugins
installed and the environment set (see README.md / quickstart.sh), every Ray Data execution and
every MLflow model operation below is reported to the lineage service.

    python train_and_serve.py features <data-dir>                # a job: Ray Data
    python train_and_serve.py train <data-dir> [--model NAME]    # a job: Ray Data + MLflow
    python train_and_serve.py serve [--model NAME] [--version V] # a service: MLflow load_model

`features` creates a small raw data set under <data-dir>/raw (a CSV of transactions and one PNG
receipt per transaction; plain pandas/Pillow, not reported), then with Ray Data reads both and
writes Parquet features to <data-dir>/features.
`train` reads the features with Ray Data inside an MLflow run (or, with `--reader pandas`, with
pandas and declares them with `mlflow.log_input`), fits a scikit-learn model, logs it
(`mlflow.sklearn.log_model`), registers it (`mlflow.register_model`) and logs a small report as
an artifact.
`serve` loads the registered model by name and version (another process: the model is found by
its registry name only) and scores a few rows.

MLflow is configured by MLflow's own environment variables (MLFLOW_TRACKING_URI: a SQLite
database, a file store or a tracking server). Each step prints one JSON line with what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd

N_ROWS = 24


def _ray_init() -> None:
    import ray

    if os.environ.get("RAY_ADDRESS", "local") == "local":
        # On a laptop: a small, quiet local Ray (no dashboard).
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    else:
        ray.init()  # on a Ray cluster: connect to it
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def make_raw_data(data_dir: str) -> tuple[str, str]:
    """The 'raw' inputs a real pipeline would find on shared storage."""
    from PIL import Image

    raw = os.path.join(data_dir, "raw")
    receipts = os.path.join(raw, "receipts")
    os.makedirs(receipts, exist_ok=True)
    rng = np.random.default_rng(7)
    amount = np.round(rng.gamma(2.0, 40.0, N_ROWS), 2)
    tx = pd.DataFrame({
        "tx_id": np.arange(N_ROWS),
        "amount": amount,
        "merchant": rng.choice(["books", "travel", "grocery", "games"], N_ROWS),
        "is_fraud": (amount > 110).astype(int),
    })
    csv_path = os.path.join(raw, "transactions.csv")
    tx.to_csv(csv_path, index=False)
    for i in range(N_ROWS):
        shade = int(amount[i]) % 256
        Image.fromarray(np.full((16, 16, 3), shade, np.uint8)).save(os.path.join(receipts, f"{i:04d}.png"))
    return csv_path, receipts


def features(data_dir: str) -> dict:
    import ray

    csv_path, receipts = make_raw_data(data_dir)
    out = os.path.join(data_dir, "features")
    _ray_init()

    def tx_features(batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({
            "tx_id": batch["tx_id"],
            "log_amount": np.log1p(batch["amount"].astype(float)),
            "is_travel": (batch["merchant"] == "travel").astype(int),
            "is_fraud": batch["is_fraud"],
        })

    def receipt_features(batch: dict) -> dict:
        return {"receipt_brightness": np.array([float(img.mean()) / 255.0 for img in batch["image"]])}

    # One Ray Data execution reading both inputs and writing one Parquet dataset.
    transactions = ray.data.read_csv(csv_path).map_batches(tx_features, batch_format="pandas")
    images = ray.data.read_images(receipts, mode="RGB").map_batches(receipt_features, batch_format="numpy")
    transactions.zip(images).repartition(1).write_parquet(out, mode="overwrite")
    return {"step": "features", "inputs": [csv_path, receipts], "output": out}


def train(data_dir: str, model_name: str, reader: str) -> dict:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    features_dir = os.path.join(data_dir, "features")
    if reader == "ray":
        _ray_init()
    mlflow.set_experiment("fraud-detection")
    with mlflow.start_run() as run:
        if reader == "ray":
            import ray

            df = ray.data.read_parquet(features_dir).to_pandas()  # a Ray Data execution: reported
        else:
            df = pd.read_parquet(features_dir)  # plain pandas: not seen, so tell MLflow what was read
            mlflow.log_input(mlflow.data.from_pandas(df, source=features_dir, name="features"), context="training")
        X, y = df[["log_amount", "is_travel", "receipt_brightness"]], df["is_fraud"]
        mlflow.log_param("C", 0.5)
        model = LogisticRegression(C=0.5).fit(X, y)
        mlflow.log_metric("train_accuracy", float(model.score(X, y)))
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(2),
                                        pip_requirements=["scikit-learn"])
        version = mlflow.register_model(f"models:/{info.model_id}", model_name)
        with open("training_report.json", "w") as fh:
            json.dump({"rows": len(df), "accuracy": float(model.score(X, y))}, fh)
        mlflow.log_artifact("training_report.json")
    return {"step": "train", "input": features_dir, "model_id": info.model_id, "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "registered_model": model_name, "version": str(version.version)}


def serve(model_name: str, version: str) -> dict:
    import mlflow

    uri = f"models:/{model_name}/{version}"
    model = mlflow.pyfunc.load_model(uri)
    rows = pd.DataFrame({"log_amount": [2.0, 5.5], "is_travel": [0, 1], "receipt_brightness": [0.1, 0.5]})
    return {"step": "serve", "model_uri": uri, "predictions": [int(p) for p in model.predict(rows)]}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("features")
    p.add_argument("data_dir")
    p = sub.add_parser("train")
    p.add_argument("data_dir")
    p.add_argument("--model", default="fraud-detector")
    p.add_argument("--reader", choices=["ray", "pandas"], default="ray",
                   help="read the features with Ray Data (default) or pandas + mlflow.log_input")
    p = sub.add_parser("serve")
    p.add_argument("--model", default="fraud-detector")
    p.add_argument("--version", default="1")
    args = parser.parse_args(argv)
    if args.step == "features":
        result = features(os.path.abspath(args.data_dir))
    elif args.step == "train":
        result = train(os.path.abspath(args.data_dir), args.model, args.reader)
    else:
        result = serve(args.model, args.version)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
