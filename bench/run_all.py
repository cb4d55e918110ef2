"""`make bench`: every benchmark, each printing its figures beside its same-run baselines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in (
    "order_path.py",
    "replay.py",
    "venue_roundtrip.py",
    "risk_checks.py",
    "risk_gate.py",
    "kill_switch_drill.py",
):
    print(f"\n=== {script} ===", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, check=True)
