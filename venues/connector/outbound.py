"""Out: the log to the venues. A `LogTailer` per venue reads committed events from the venue's
durable checkpoint and sends NewOrderSingle, OrderCancelRequest and OrderCancelReplaceRequest
for the ones routed there, so nothing reaches a venue before its event is in the log. While the
session is down it waits, holding its place.

A crash between the send and the checkpoint sends it again under the same ClOrdID; the venue
refuses the repeat as a duplicate and the inbound part asks for the order's status instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import quickfix as fix

from orders import store
from orders.domain import events as ev
from orders.domain.values import DONE_STATUSES, OrdStatus
from orders.models import Order
from orders.tailer import LogTailer
from venues.connector.link import VenueLink
from venues.fix.orders import OrderRef, cancel_request, new_order_single, replace_request

ROUTED_EVENTS = ("OrderAccepted", "OrderCancelRequested", "OrderReplaceRequested")


class Outbound:
    def __init__(self, links: Iterable[VenueLink]) -> None:
        self.tailers = {link.name: LogTailer(f"venue:{link.name}", self._router(link)) for link in links}

    def position(self, venue: str) -> int:
        """How far into the log `venue`'s tailer has sent (its durable checkpoint)."""
        return self.tailers[venue].position()

    def stop(self, venue: str) -> None:
        """Stop routing to `venue`: its tailer ends, its checkpoint stays where it is."""
        self.tailers[venue].stop()

    def _router(self, link: VenueLink):
        def route(batch: list[store.StoredEvent]) -> None:
            wanted = [s for s in batch if s.event_type in ROUTED_EVENTS]
            if not wanted:
                return
            # Under the resync's lock: a resync reads an order and sends what it waits for as one
            # step, so a cancel of ours never slips in between (ahead of the order it cancels).
            with link.resync_lock:
                rows = Order.objects.filter(id__in={s.stream_id for s in wanted}, venue=link.name).in_bulk()
                for stored in wanted:
                    order = rows.get(stored.stream_id)
                    if order is None or OrdStatus(order.status) in DONE_STATUSES:
                        continue  # another venue's, or over already (a resend would be pointless)
                    message = message_for(stored.event, order)
                    if message is not None:
                        link.send(message)

        return route


def order_ref(order: Order) -> OrderRef:
    return OrderRef(order.id, order.cl_ord_id, order.symbol, order.side, order.order_type, order.quantity,
                    order.limit_price, order.venue_order_id or None)  # fmt: skip


def message_for(event: ev.Event, order: Order) -> fix.Message | None:
    if isinstance(event, ev.OrderAccepted):
        return new_order_single(event)
    ref = order_ref(order)
    if isinstance(event, ev.OrderCancelRequested):
        return cancel_request(event.cl_ord_id, event.orig_cl_ord_id, ref)
    if isinstance(event, ev.OrderReplaceRequested):
        return replace_request(event.cl_ord_id, event.orig_cl_ord_id, event.quantity, event.limit_price, ref)
    return None
