"""The trading day's beat tasks (CELERY_BEAT_SCHEDULE): each calls its service, nothing more."""

from __future__ import annotations

from celery import shared_task

from tradingday import services


@shared_task(name="tradingday.expire_day_orders", ignore_result=True)
def expire_day_orders() -> None:
    """After each venue's close plus the grace period: cancel at the venue the DAY orders it left
    working (expire those that never reached it), until none is left."""
    services.day_orders_expire()


@shared_task(name="tradingday.end_of_day_report", ignore_result=True)
def end_of_day_report() -> None:
    """After the day's last close plus the grace period: the end-of-day report, once."""
    services.end_of_day_run()
