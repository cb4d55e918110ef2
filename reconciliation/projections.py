"""The breaks table follows the log's reconciliation events, in the engine's transaction (as the
orders' and the risk controls' projections do). Idempotent per event: a rebuild replays the log
onto it and ends where the live table is."""

from __future__ import annotations

from django.dispatch import receiver

from orders.models import ns_to_datetime
from orders.store import StoredEvent, events_appended
from reconciliation.domain import events as rev
from reconciliation.models import ReconciliationBreak


@receiver(events_appended, dispatch_uid="reconciliation.project_breaks")
def project_breaks(sender: object, events: list[StoredEvent], **kwargs: object) -> None:
    for stored in events:
        if stored.stream_type != rev.RECONCILIATION_STREAM:
            continue
        event = stored.event
        if isinstance(event, rev.ReconciliationBreak):
            ReconciliationBreak.objects.update_or_create(
                id=event.stream_id,
                defaults={
                    "kind": event.kind, "venue": event.venue, "account": event.account, "subject": event.subject,
                    "oms_quantity": event.oms_quantity, "venue_quantity": event.venue_quantity,
                    "oms_status": event.oms_status, "venue_status": event.venue_status,
                    "venue_price": event.venue_price, "text": event.text, "status": "open",
                    "opened_at": ns_to_datetime(event.at_ns), "run_id": event.run_id, "closed_at": None,
                    "closed_by": "", "close_text": "", "adjustment": None, "position": stored.position,
                },
            )  # fmt: skip
        elif isinstance(event, rev.ReconciliationBreakCleared):
            ReconciliationBreak.objects.filter(id=event.stream_id).update(
                status="cleared", closed_at=ns_to_datetime(event.at_ns), closed_by=stored.actor,
                close_text=event.text, position=stored.position,
            )  # fmt: skip
        elif isinstance(event, rev.PositionAdjusted):
            ReconciliationBreak.objects.filter(id=event.stream_id).update(
                adjustment=event.quantity, position=stored.position
            )
        elif isinstance(event, rev.ReconciliationBreakResolved):
            ReconciliationBreak.objects.filter(id=event.stream_id).update(
                status=event.resolution, closed_at=ns_to_datetime(event.at_ns), closed_by=stored.actor,
                close_text=event.reason, position=stored.position,
            )  # fmt: skip
