"""Risk tables: limits (configuration the engine reads) and the kill switch (a projection).

Limits and instrument controls change only through the engine: a REST PATCH, the admin or a
command becomes a `RiskLimitsChanged` / `InstrumentRiskChanged` event with the old and new values
and a reason, and the projection receiver (risk/projections.py) writes the row in the same
transaction. A null limit is no limit. The kill switch table is rebuilt from the log like any
projection: the engine's own truth is its fold of the log.
"""

from __future__ import annotations

from django.db import models

from orders.models import QTY, Account

LIMIT = {"max_digits": 30, "decimal_places": 8, "null": True, "blank": True}
LIMIT_FIELDS = (
    "max_order_qty",
    "max_order_notional",
    "max_position_qty",
    "max_gross_notional",
    "credit_limit",
    "max_messages_per_second",
)
assert QTY["max_digits"] == LIMIT["max_digits"]


class LimitColumns(models.Model):
    max_order_qty = models.DecimalField(**LIMIT, help_text="Largest quantity of one order.")
    max_order_notional = models.DecimalField(**LIMIT, help_text="Largest quantity x price of one order.")
    max_position_qty = models.DecimalField(
        **LIMIT, help_text="Largest position per symbol, either side, pending orders counted."
    )
    max_gross_notional = models.DecimalField(**LIMIT, help_text="Positions plus open orders, valued, per account.")
    credit_limit = models.DecimalField(**LIMIT, help_text="Gross notional x the asset class's margin rate.")
    max_messages_per_second = models.DecimalField(**LIMIT, help_text="Submits, replaces and cancels per second.")

    class Meta:
        abstract = True


class AccountLimits(LimitColumns):
    account = models.OneToOneField(Account, to_field="code", on_delete=models.CASCADE, related_name="limits")

    class Meta:
        verbose_name_plural = "account limits"
        # The risk role: change limits and instrument controls, engage and release any kill switch.
        permissions = [("manage_risk", "Can change risk limits and release kill switches")]

    def __str__(self) -> str:
        return f"limits of {self.account_id}"


class SymbolLimits(LimitColumns):
    """An account's overrides for one symbol: a set field wins over the account's own."""

    account = models.ForeignKey(Account, to_field="code", on_delete=models.CASCADE, related_name="symbol_limits")
    symbol = models.CharField(max_length=32)

    class Meta:
        verbose_name_plural = "symbol limits"
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="symbol_limits_unique")]

    def __str__(self) -> str:
        return f"limits of {self.account_id} in {self.symbol}"


class KillSwitch(models.Model):
    """A kill switch as the log says: engaged or released, by whom, when and why. One row per
    scope and target; engaging again after a release reuses it."""

    scope = models.CharField(max_length=16)  # firm | account | trader | venue
    target = models.CharField(max_length=150, blank=True)  # "" for the firm
    engaged = models.BooleanField()
    engaged_by = models.CharField(max_length=200)
    engaged_at = models.DateTimeField()
    engage_reason = models.TextField()
    canceled = models.IntegerField(default=0, help_text="Live orders it asked to cancel when engaged.")
    released_by = models.CharField(max_length=200, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)
    position = models.BigIntegerField(help_text="Log position of the last event about it.")

    class Meta:
        ordering = ["-engaged", "scope", "target"]
        constraints = [models.UniqueConstraint(fields=["scope", "target"], name="kill_switch_scope_target_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.target}".strip() + (" (engaged)" if self.engaged else "")
