"""Overhead of the lineage plugins (not a test; run it by hand: `make -C plugins bench`).

1. Ray Data: read ~100 MB of Parquet and write it back as Parquet, without and
   with the lineage callback (alternating, in one Ray session), events sent to
   a local receiver over HTTP through the real OpenLineage client.
2. MLflow: latency of `mlflow.sklearn.log_model` (SQLite store) with the
   plugin off (LINEAGE_TRACKING_ENABLED=false) and on, each in its own process.

Goals: < 5 % on the Ray job, < 50 ms per log_model.

Usage: python bench_overhead.py [--rounds N] [--mb SIZE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))
from receiver import Receiver  # noqa: E402

CALLBACK = "lineage_plugins.ray_data.LineageExecutionCallback"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LINEAGE_", "OPENLINEAGE", "MLFLOW_", "RAY_DATA_"))}
    env.update(extra)
    return env


RAY_CHILD = r'''
import json, os, statistics, sys, time
import numpy as np, pyarrow as pa, pyarrow.parquet as pq, ray
from lineage_plugins.ray_data import LineageExecutionCallback
work, mb, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = os.path.join(work, "src")
os.makedirs(src, exist_ok=True)
rows_per_file = 125_000            # 10 float64 columns -> ~10 MB per file
n_files = max(1, mb // 10)
rng = np.random.default_rng(0)
for i in range(n_files):
    t = pa.table({f"c{j}": rng.random(rows_per_file) for j in range(10)})
    pq.write_table(t, os.path.join(src, f"part-{i:03d}.parquet"), compression="none")
size = sum(os.path.getsize(os.path.join(src, f)) for f in os.listdir(src))
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
ctx = ray.data.DataContext.get_current()
ctx.enable_progress_bars = False
ctx.print_on_execution_start = False
def job(i):
    t0 = time.perf_counter()
    ray.data.read_parquet(src).write_parquet(os.path.join(work, f"out-{i}"))
    return time.perf_counter() - t0
job("warmup")
from lineage_plugins.emitter import STATS
times = {"off": [], "on": []}
hook_s = []
for r in range(rounds):
    for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
        ctx.custom_execution_callback_classes = [LineageExecutionCallback] if mode == "on" else []
        before = STATS["seconds"]
        times[mode].append(job(f"{mode}-{r}"))
        if mode == "on":
            hook_s.append(STATS["seconds"] - before)
print(json.dumps({"bytes": size, "times": times, "hook_s": hook_s}))
'''

MLFLOW_CHILD = r'''
import json, os, statistics, sys, time
import mlflow
from sklearn.linear_model import LogisticRegression
os.chdir(sys.argv[1]); n = int(sys.argv[2])
model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
from lineage_plugins.emitter import STATS
times = []
with mlflow.start_run():
    mlflow.sklearn.log_model(model, name="warmup", pip_requirements=["scikit-learn"])
    before = STATS["seconds"]
    for i in range(n):
        t0 = time.perf_counter()
        mlflow.sklearn.log_model(model, name=f"m{i}", pip_requirements=["scikit-learn"])
        times.append(time.perf_counter() - t0)
print(json.dumps({"times": times, "hook_s": (STATS["seconds"] - before) / n}))
'''


def bench_ray(rec: Receiver, mb: int, rounds: int) -> dict:
    work = tempfile.mkdtemp(prefix="lineage_bench_ray_")
    try:
        env = _clean_env(OPENLINEAGE_URL=rec.url)
        out = subprocess.run([sys.executable, "-c", RAY_CHILD, work, str(mb), str(rounds)],
                             env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_mlflow(rec: Receiver, enabled: bool, n: int) -> dict:
    work = tempfile.mkdtemp(prefix="lineage_bench_mlflow_")
    try:
        env = _clean_env(OPENLINEAGE_URL=rec.url, LINEAGE_TRACKING_ENABLED="true" if enabled else "false",
                         LINEAGE_WORKLOAD_ID="bench")
        out = subprocess.run([sys.executable, "-c", MLFLOW_CHILD, work, str(n)],
                             env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8, help="Ray job runs per mode")
    ap.add_argument("--mb", type=int, default=100, help="size of the Parquet input")
    ap.add_argument("--models", type=int, default=15, help="log_model calls per process")
    ap.add_argument("--procs", type=int, default=2, help="MLflow processes per mode (interleaved)")
    args = ap.parse_args()

    with Receiver() as rec:
        ray_res = bench_ray(rec, args.mb, args.rounds)
        ray_events = len(rec.events)
        rec.clear()
        ml = {"off": [], "on": []}
        ml_hook = []
        for _ in range(args.procs):
            for mode in ("off", "on"):
                res = bench_mlflow(rec, mode == "on", args.models)
                ml[mode] += res["times"]
                if mode == "on":
                    ml_hook.append(res["hook_s"])
        ml_events = len(rec.events)

    med, mn = statistics.median, min
    r_off, r_on = ray_res["times"]["off"], ray_res["times"]["on"]
    r_hook = med(ray_res["hook_s"])
    m_off, m_on = ml["off"], ml["on"]
    m_hook = med(ml_hook)
    rows = [
        ("Ray Data read+write Parquet", f"{ray_res['bytes'] / 1e6:.0f} MB, {args.rounds} runs/mode",
         f"{med(r_off):.2f} s (min {mn(r_off):.2f})", f"{med(r_on):.2f} s (min {mn(r_on):.2f})",
         f"{(med(r_on) - med(r_off)) / med(r_off) * 100:+.1f} % "
         f"(min {(mn(r_on) - mn(r_off)) / mn(r_off) * 100:+.1f} %)",
         f"{r_hook * 1000:.1f} ms = {r_hook / med(r_off) * 100:.2f} %", "< 5 %"),
        ("mlflow.sklearn.log_model", f"SQLite, {len(m_off)} calls/mode",
         f"{med(m_off) * 1000:.1f} ms (min {mn(m_off) * 1000:.1f})",
         f"{med(m_on) * 1000:.1f} ms (min {mn(m_on) * 1000:.1f})",
         f"{(med(m_on) - med(m_off)) * 1000:+.1f} ms (min {(mn(m_on) - mn(m_off)) * 1000:+.1f})",
         f"{m_hook * 1000:.1f} ms", "< 50 ms"),
    ]
    header = ("operation", "setup", "without plugin", "with plugin", "end-to-end difference",
              "time in plugin hooks", "goal")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print(f"\nevents received: ray={ray_events} (2 per run with the plugin), mlflow={ml_events} "
          f"(2 per log_model with the plugin)")
    print("time in plugin hooks = lineage work measured inside the plugin (building and sending "
          "the events over HTTP), per Ray execution / per log_model call")
    print("raw ray seconds:", json.dumps(ray_res["times"]))


if __name__ == "__main__":
    main()
