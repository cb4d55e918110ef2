"""Celery tasks of the order core: each calls a service (no logic here)."""

from __future__ import annotations

from celery import shared_task

from orders import snapshots


@shared_task(name="orders.snapshot_if_due", ignore_result=True)
def snapshot_if_due() -> None:
    """Beat runs this every OMS_SNAPSHOT_CHECK_SECONDS; it takes a snapshot when one is due."""
    snapshots.snapshot_take_if_due()
