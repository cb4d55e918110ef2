"""Recovery: sequence numbers are reset at every logon, so nothing is replayed at the FIX level
(no message-level replay, whose resends the connector could not judge). Instead, at every logon
and every `every_seconds` after, the connector asks the venue (35=H) about every order still
live there and sends again, marked PossResend, whatever the order still waits for: the order
itself, or its pending cancel or replace. The status answers go to the engine like any report
(inbound.py); its `reconcile` turns what was missed into events or anomalies.

The periodic pass leaves out orders changed within the last half period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import quickfix as fix

from orders.domain import events as ev
from orders.domain.values import DONE_STATUSES, LIVE_STATUSES, OrderType, OrdStatus, Side, TimeInForce
from orders.models import Order
from venues.connector.link import VenueLink
from venues.connector.outbound import order_ref
from venues.fix.orders import OrderRef, cancel_request, new_order_single, replace_request, status_request

log = logging.getLogger("oms.connector")

LIVE = sorted(s.value for s in LIVE_STATUSES)  # for status__in


class Resync:
    def __init__(self, links: dict[str, VenueLink], every_seconds: float, stopped: threading.Event) -> None:
        self.links = links
        self.every_seconds = every_seconds
        self.stopped = stopped

    def periodically(self) -> None:
        while not self.stopped.wait(self.every_seconds):
            for link in self.links.values():
                if link.up.is_set():
                    try:
                        self.resync(link, min_age_seconds=self.every_seconds / 2)
                    except Exception:
                        log.exception("%s: periodic resync failed", link.name)

    def resync(self, link: VenueLink, *, min_age_seconds: float) -> None:
        """Ask about every live order at the venue not changed in the last `min_age_seconds`, and
        send again what each still waits for."""
        cutoff = time.time_ns() - int(min_age_seconds * 1e9)
        ids = list(
            Order.objects.filter(venue=link.name, status__in=LIVE, updated_at_ns__lte=cutoff)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if ids:
            log.info("%s: resync of %d live orders", link.name, len(ids))
            self.ask(link, ids, resend=True)

    def ask(self, link: VenueLink, order_ids: Iterable[int], resend: bool) -> None:
        """A status request (35=H) for each of `order_ids` not over yet; with `resend`, also what
        each still waits for."""
        with link.resync_lock:
            for order in Order.objects.filter(id__in=list(order_ids), venue=link.name).order_by("id"):
                if OrdStatus(order.status) in DONE_STATUSES:
                    continue
                ref = order_ref(order)
                link.send(status_request(ref))
                if resend:
                    message = still_owed(order, ref)
                    if message is not None:
                        link.send(message)


def still_owed(order: Order, ref: OrderRef) -> fix.Message | None:
    """What the order still waits for from the venue, to send again (PossResend)."""
    if order.status == OrdStatus.PENDING_NEW.value:
        accepted = ev.OrderAccepted(
            order.id, order.created_at_ns, order.account_id, order.cl_ord_id, order.symbol, Side(order.side),
            order.quantity, OrderType(order.order_type), TimeInForce(order.time_in_force), order.limit_price,
            order.venue,
        )  # fmt: skip
        return new_order_single(accepted, resend=True)
    if order.status == OrdStatus.PENDING_CANCEL.value:
        return cancel_request(order.pending_cl_ord_id, order.cl_ord_id, ref, resend=True)
    if order.status == OrdStatus.PENDING_REPLACE.value and order.pending_quantity is not None:
        return replace_request(order.pending_cl_ord_id, order.cl_ord_id, order.pending_quantity,
                               order.pending_limit_price, ref, resend=True)  # fmt: skip
    return None
