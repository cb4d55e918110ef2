"""Client FIX sessions: who may log on to the gateway, and what they may trade.

The gateway reads this table at every logon and watches it while a session is up (gateway/fix/
watch.py), so an edit in admin takes effect without a restart."""

from __future__ import annotations

from django.db import models

from orders.models import Account


class ClientSession(models.Model):
    comp_id = models.CharField(
        "CompID", max_length=64, unique=True, help_text="The client's SenderCompID (49); ours is OMS_FIX_COMPID."
    )
    description = models.CharField(max_length=200, blank=True)
    accounts = models.ManyToManyField(Account, related_name="client_sessions", help_text="Accounts it may trade.")
    default_account = models.ForeignKey(
        Account,
        to_field="code",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Used for orders without 1 Account (one of its accounts).",
    )
    allowed_addresses = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated source IP addresses it may connect from; blank: any."
    )
    cancel_on_disconnect = models.BooleanField(default=False)
    grace_seconds = models.PositiveIntegerField(
        default=0, help_text="Cancel on disconnect waits this long for the client to come back."
    )
    max_messages_per_second = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["comp_id"]

    def __str__(self) -> str:
        return self.comp_id

    @property
    def addresses(self) -> list[str]:
        return [a.strip() for a in self.allowed_addresses.split(",") if a.strip()]
