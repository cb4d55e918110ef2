"""Reconciliation's Celery task: beat runs it every OMS_RECONCILE_SECONDS; it only calls the service."""

from __future__ import annotations

from celery import shared_task

from reconciliation import services


@shared_task(name="oms.reconcile", ignore_result=True)
def reconcile() -> None:
    """Reconcile every active venue now (breaks are recorded by the engine)."""
    services.reconciliation_run()
