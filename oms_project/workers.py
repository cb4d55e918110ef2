"""The Celery workers' heartbeat: what health knows of them.

Beat schedules `oms.heartbeat` every CELERY_HEARTBEAT_SECONDS and a worker runs it, writing the
time here; so a fresh heartbeat means both beat and a worker are alive and the broker carries
tasks. Health calls it stale after three missed beats."""

from __future__ import annotations

import time

from django.conf import settings

from orders import bus


def _key() -> str:
    return bus.key("celery:heartbeat")


def beat() -> None:
    bus.client().set(_key(), time.time_ns(), ex=int(settings.CELERY_HEARTBEAT_SECONDS * 10))


def component() -> str:
    """ "ok", or what is wrong (Redis failures are the caller's: health reports Redis itself)."""
    raw = bus.client().get(_key())
    if raw is None:
        return "no heartbeat from the Celery workers (worker or beat not running)"
    age = (time.time_ns() - int(raw)) / 1e9
    if age > 3 * settings.CELERY_HEARTBEAT_SECONDS:
        return f"the Celery workers' last heartbeat is {age:.0f}s old (worker or beat stopped)"
    return "ok"
