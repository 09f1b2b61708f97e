"""Small Ray Data workload: read a Parquet file, write Parquet. Plain user code.

Usage: python ray_small.py <workdir>
"""

import json
import os
import sys

import pandas as pd
import ray

work = os.path.abspath(sys.argv[1])
pd.DataFrame({"a": [1, 2, 3]}).to_parquet(os.path.join(work, "in.parquet"))
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
ray.data.DataContext.get_current().enable_progress_bars = False
ray.data.read_parquet(os.path.join(work, "in.parquet")).write_parquet(os.path.join(work, "out"))
print(json.dumps({"ok": True}), flush=True)
