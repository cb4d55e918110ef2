"""Client FIX sessions: who may log on to the gateway, and what they may trade.

The gateway reads this table at every logon and watches it while a session is up (gateway/fix/
watch.py), so an edit in admin takes effect without a restart."""

from __future__ import annotations

import pgtrigger
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
    reset_on_logon = models.BooleanField(
        default=False,
        db_default=False,  # a row inserted by SQL (scripts, tests) is a trading session
        help_text="Sequence numbers start at 1 at every logon: nothing is resent. For test tools and conformance "
        "scripts; a trading session keeps its day. Taken up when the gateway starts or the session is switched on.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["comp_id"]

    def __str__(self) -> str:
        return self.comp_id

    @property
    def addresses(self) -> list[str]:
        return [a.strip() for a in self.allowed_addresses.split(",") if a.strip()]


class FixMessage(models.Model):
    """A message a client session sent or was sent, as it went over the wire: the compliance
    record of the FIX conversation. Written by the gateway in batches, off the order path
    (gateway/fix/audit.py); append-only, enforced by the database like the event log."""

    IN, OUT = "in", "out"

    session = models.CharField("CompID", max_length=64, help_text="The client's CompID.")
    direction = models.CharField(max_length=3, choices=[(IN, "in (from the client)"), (OUT, "out (to the client)")])
    msg_seq_num = models.PositiveIntegerField("MsgSeqNum (34)", null=True)
    msg_type = models.CharField("MsgType (35)", max_length=4)
    poss_dup = models.BooleanField("PossDupFlag (43)", default=False)
    cl_ord_id = models.CharField("ClOrdID (11)", max_length=64, blank=True)
    orig_cl_ord_id = models.CharField("OrigClOrdID (41)", max_length=64, blank=True)
    order_id = models.CharField("OrderID (37)", max_length=64, blank=True)
    account = models.CharField("Account (1)", max_length=64, blank=True)
    at = models.DateTimeField(help_text="When the gateway received or sent it (UTC).")
    raw = models.TextField(help_text="The message as on the wire (SOH separators).")

    class Meta:
        db_table = "gateway_fix_messages"
        verbose_name = "FIX message"
        indexes = [
            models.Index(fields=["session", "-id"], name="fix_msg_session"),
            models.Index(fields=["order_id"], name="fix_msg_order"),
            models.Index(fields=["cl_ord_id"], name="fix_msg_cl_ord_id"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="fix_messages_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
                when=pgtrigger.Before,
                level=pgtrigger.Row,
                func="RAISE EXCEPTION 'the FIX message log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;",
            ),
            pgtrigger.Trigger(
                name="fix_messages_no_truncate",
                operation=pgtrigger.Truncate,
                when=pgtrigger.Before,
                level=pgtrigger.Statement,
                func="RAISE EXCEPTION 'the FIX message log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session} {self.direction} 34={self.msg_seq_num} 35={self.msg_type}"
