"""`make bench`: every benchmark, each printing its figures beside its same-run baselines.

`--quick` (`make bench QUICK=1`) passes `--quick` to each: small sizes, a minute or two in all,
to see that every bench still runs and passes, not for figures worth quoting.

A bench that fails does not stop the others (they are independent); the run fails at the end,
naming the ones that did."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = (
    "order_path.py",
    "replay.py",
    "venue_roundtrip.py",
    "venue_day.py",
    "rest_entry.py",
    "fix_gateway.py",
    "risk_checks.py",
    "risk_gate.py",
    "kill_switch_drill.py",
    "snapshot_restart.py",
)


def main() -> None:
    options = [a for a in sys.argv[1:] if a == "--quick"]
    if unknown := [a for a in sys.argv[1:] if a != "--quick"]:
        sys.exit(f"usage: run_all.py [--quick]  (not {' '.join(unknown)})")
    failed = []
    began = time.monotonic()
    for script in BENCHES:
        print(f"\n=== {script} {' '.join(options)}".rstrip(), flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, str(HERE / script), *options], cwd=HERE).returncode
        print(f"=== {script}: {'passed' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - started:.0f} s")
        if code != 0:
            failed.append(script)
    print(f"\n{len(BENCHES) - len(failed)} of {len(BENCHES)} benches passed in {time.monotonic() - began:.0f} s")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
