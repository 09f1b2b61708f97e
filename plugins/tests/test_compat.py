"""An incompatible Ray degrades to one clear warning, never to an error.

The incompatible Ray is simulated by a stand-in ``ray`` package (a future
version whose Ray Data internals moved) placed first on the path of a fresh
interpreter; everything else is the real plugin code.
"""

from __future__ import annotations

import os
import subprocess
import sys


def test_incompatible_ray_warns_at_load_and_does_nothing(tmp_path):
    stub = tmp_path / "ray"
    stub.mkdir()
    (stub / "__init__.py").write_text('__version__ = "9.1.0"\n')
    code = (
        "from lineage_plugins.ray_data import LineageExecutionCallback, compatible\n"
        "cb = LineageExecutionCallback()\n"
        "cb.before_execution_starts(object())\n"
        "cb.after_execution_succeeds(object())\n"
        "print('OK', compatible())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINEAGE_", "OPENLINEAGE"))}
    env["PYTHONPATH"] = str(tmp_path)
    env["OPENLINEAGE_URL"] = "http://127.0.0.1:9"  # nothing may be sent anyway
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "OK False"
    warnings = [line for line in proc.stderr.splitlines() if "is not supported by lineage-plugins" in line]
    assert len(warnings) == 1, proc.stderr  # once, at load
    assert "Ray 9.1.0" in warnings[0] and "tested >=2.60,<2.61" in warnings[0]
    assert "Ray Data lineage is disabled; the workload is not affected" in warnings[0]
