"""`make bench`: every benchmark, each printing its figures beside its same-run baselines.

A bench that fails does not stop the others (they are independent); the run fails at the end,
naming the ones that did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = (
    "order_path.py",
    "replay.py",
    "venue_roundtrip.py",
    "fix_gateway.py",
    "risk_checks.py",
    "risk_gate.py",
    "kill_switch_drill.py",
)

failed = []
for script in BENCHES:
    print(f"\n=== {script} ===", flush=True)
    if subprocess.run([sys.executable, str(HERE / script)], cwd=HERE).returncode != 0:
        failed.append(script)
if failed:
    sys.exit(f"\nfailed: {', '.join(failed)}")
