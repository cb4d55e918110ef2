"""Tasks of the project itself (apps keep theirs in their own tasks.py)."""

from __future__ import annotations

from celery import shared_task

from oms_project import workers


@shared_task(name="oms.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat schedules it, a worker runs it: health sees both alive."""
    workers.beat()
