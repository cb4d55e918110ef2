"""What the trading day's tasks did: each venue close the OMS swept, each end-of-day report.
Records, not projections of the log: the log holds the expiries themselves."""

from __future__ import annotations

from django.db import models


class CloseSweep(models.Model):
    """One venue's close, swept: the engine was sent ExpireDayOrders and answered (the latest
    answer: a sweep runs again while cancels it asked for are not answered)."""

    venue = models.CharField(max_length=32)
    trading_day = models.DateField()
    close_at = models.DateTimeField()
    swept_at = models.DateTimeField()
    outcome = models.CharField(max_length=16)  # accepted (cancels sent) | waiting | no_change (done) | error
    text = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-trading_day", "venue"]
        constraints = [models.UniqueConstraint(fields=["venue", "trading_day"], name="close_sweep_once")]

    def __str__(self) -> str:
        return f"{self.venue} close of {self.trading_day}: {self.outcome}"


class EndOfDayReport(models.Model):
    """An end-of-day report: its files (OMS_REPORTS_DIR) and when and by whom it was made."""

    trading_day = models.DateField(unique=True)
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=64)  # "beat", "manage.py end_of_day"
    json_path = models.CharField(max_length=500)
    csv_path = models.CharField(max_length=500)
    accounts = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    fills = models.IntegerField(default=0)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-trading_day"]
        verbose_name = "end-of-day report"

    def __str__(self) -> str:
        return f"end of day {self.trading_day}"


class EndOfDayAccount(models.Model):
    """One account's part of an end-of-day report, as in the file."""

    report = models.ForeignKey(EndOfDayReport, on_delete=models.CASCADE, related_name="account_sections")
    account = models.CharField(max_length=32)
    orders = models.IntegerField(default=0)
    fills = models.IntegerField(default=0)
    notional = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    open_breaks = models.IntegerField(default=0)
    content = models.JSONField()

    class Meta:
        ordering = ["report", "account"]
        verbose_name = "end-of-day report: account"
        constraints = [models.UniqueConstraint(fields=["report", "account"], name="eod_account_once")]

    def __str__(self) -> str:
        return f"{self.account} on {self.report.trading_day}"
