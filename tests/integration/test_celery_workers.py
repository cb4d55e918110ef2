"""Celery worker and beat as `make run` starts them (Procfile), on the test Valkey: health's
`celery` component follows their heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import BASE_DIR, engine_database_url
from rest_framework.test import APIClient
from venue_stack import LOG_DIR

from oms_project import workers

HEARTBEAT = "1"  # seconds, so the test does not wait ten


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": engine_database_url(), "OMS_CELERY_HEARTBEAT_SECONDS": HEARTBEAT}
    log = open(LOG_DIR / f"celery-{args[0]}.log", "a")
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "oms_project", *args], cwd=BASE_DIR, env=env,
                            stdout=log, stderr=log)  # fmt: skip


def celery_health() -> str:
    return APIClient().get("/api/v1/health/").json()["components"]["celery"]


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_health_reports_the_workers_alive_and_then_gone(settings, db_ready):
    settings.OMS_CELERY = True
    settings.CELERY_HEARTBEAT_SECONDS = float(HEARTBEAT)
    worker = start("worker", "--loglevel", "INFO", "--concurrency", "1", "--without-gossip", "--without-mingle")
    beat = start("beat", "--loglevel", "INFO", "--schedule", str(LOG_DIR / "celerybeat-schedule"))
    try:
        wait_for(lambda: celery_health() == "ok")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        wait_for(lambda: celery_health() != "ok", timeout=20)
        assert "worker or beat stopped" in celery_health()
    finally:
        for process in (worker, beat):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    assert workers.component() != "ok"
