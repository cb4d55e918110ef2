"""Shared set-up for benchmarks: Django against the `bench` embedded services, and helpers."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
os.environ.setdefault("OMS_SERVICES_PROFILE", "bench")
os.environ.setdefault("OMS_BUS_PREFIX", "oms-bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def prepare_database() -> None:
    call_command("migrate", "--no-input", verbosity=0)
    call_command("load_demo_data", verbosity=0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.50) * 1000:.2f} ms  p99 {percentile(latencies, 0.99) * 1000:.2f} ms  "
        f"mean {statistics.fmean(latencies) * 1000:.2f} ms"
    )


class EngineProcess:
    """`manage.py run_engine` (or `command`, a script that runs it) until it reports live."""

    def __init__(self, *command: str) -> None:
        self.command = command or ("manage.py", "run_engine")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> EngineProcess:
        from orders import bus

        log = open(BASE_DIR / "var" / "bench-engine.log", "a")
        self.process = subprocess.Popen(
            [sys.executable, *self.command],
            cwd=BASE_DIR,
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            health = bus.engine_health()
            if health and health["state"] == "live" and health["pid"] == self.process.pid:
                return self
            if self.process.poll() is not None:
                raise RuntimeError("engine exited; see var/bench-engine.log")
            time.sleep(0.05)
        raise TimeoutError("engine not live")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=60)


def row(label: str, value: str) -> None:
    print(f"  {label:<52} {value}", flush=True)
