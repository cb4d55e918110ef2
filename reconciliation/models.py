"""The breaks table: a projection of the reconciliation events (reconciliation/projections.py),
for admin, the REST API, health and the blotter. The engine holds the same breaks as state;
only the log changes either."""

from __future__ import annotations

from django.db import models

from orders.models import PX, QTY

STATUSES = [("open", "open"), ("cleared", "cleared"), ("accepted", "accepted"), ("dismissed", "dismissed")]
KINDS = [("position", "position"), ("order", "order")]


class ReconciliationBreak(models.Model):
    """A difference between the OMS's books and a venue's, from the run that found it until it
    cleared or a person resolved it. `id` is the break's id (its stream in the log)."""

    id = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=16, choices=KINDS)
    venue = models.CharField(max_length=64)
    account = models.CharField(max_length=32)  # the account code (of the position or the order)
    subject = models.CharField(max_length=64, help_text="The symbol (position) or the OMS order id (order).")
    oms_quantity = models.DecimalField(**QTY, null=True, blank=True)
    venue_quantity = models.DecimalField(**QTY, null=True, blank=True)
    oms_status = models.CharField(max_length=32, blank=True)
    venue_status = models.CharField(max_length=32, blank=True)
    venue_price = models.DecimalField(**PX, null=True, blank=True)
    text = models.TextField()
    status = models.CharField(max_length=16, choices=STATUSES, default="open")
    opened_at = models.DateTimeField()
    run_id = models.CharField(max_length=64)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=200, blank=True)  # the log's actor: user:<name>, or system
    close_text = models.TextField(blank=True)  # cleared: what the run found; resolved: the reason
    adjustment = models.DecimalField(**QTY, null=True, blank=True)  # accepted: what was booked
    position = models.BigIntegerField()  # the log position of its last event

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "venue", "account"], name="break_status_venue_account")]
        permissions = [("resolve_break", "Can resolve reconciliation breaks (accept the venue's figure or dismiss)")]

    def __str__(self) -> str:
        return f"break {self.id}: {self.text}"

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def difference(self):
        if self.oms_quantity is None or self.venue_quantity is None:
            return None
        return self.venue_quantity - self.oms_quantity
