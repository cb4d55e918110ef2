"""Order mass cancel: every live order of ours at a venue canceled with one message (the kill switch).

The OMS first records a cancel request for each order (its pending cancel, under a ClOrdID of
its own); then `MassCancels.send` asks the venue to cancel all of this session's orders at once,
OrderMassCancelRequest (35=q, 530=7). The venue acknowledges with an OrderMassCancelReport
(35=r) and reports each order canceled under the mass cancel's ClOrdID; pending_mass_cancels.py
reads each such report as the answer to that order's own cancel (the inbound part asks it), so
the engine settles the pending cancel as for any cancel. A refused mass cancel (531=0) falls back
to one OrderCancelRequest (35=F) per order, as outbound.py sends for a single cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import quickfix as fix

from orders.domain.values import DONE_STATUSES, OrdStatus
from orders.models import Order
from venues.connector.link import VenueLink
from venues.connector.outbound import order_ref
from venues.connector.pending_mass_cancels import MassCancelTarget, PendingMassCancels, new_mass_cl_ord_id
from venues.connector.threads import spawn
from venues.fix.orders import cancel_request, order_mass_cancel_request_message, parse_order_mass_cancel_report

log = logging.getLogger("oms.connector")


class MassCancels:
    def __init__(self, links: dict[str, VenueLink]) -> None:
        self.links = links
        self.pending = PendingMassCancels()

    def send(self, venue: str, orders: Iterable[tuple[int, str, str]]) -> str:
        """Cancel every order of this session at `venue` with one OrderMassCancelRequest (530=7);
        returns its ClOrdID. `orders`: what it is meant to cancel, as (order id, the order's current
        ClOrdID, the ClOrdID of the cancel request the OMS recorded for it).

        Record the cancel requests first: the venue's reports settle them. Waits while the session
        is down (raises Stopped if the connector stops first, ConnectionError if quickfix refuses):
        call it off quickfix's threads."""
        link = self.links[venue]
        targets = [MassCancelTarget(*order) for order in orders]
        mass_cl_ord_id = new_mass_cl_ord_id()
        self.pending.add(venue, mass_cl_ord_id, targets)
        try:
            link.send(order_mass_cancel_request_message(mass_cl_ord_id, "all"))
        except BaseException:
            self.pending.discard(venue, mass_cl_ord_id)
            raise
        log.info("%s: mass cancel %s sent for %d orders", venue, mass_cl_ord_id, len(targets))
        return mass_cl_ord_id

    def on_report(self, link: VenueLink, message: fix.Message) -> None:
        """35=r OrderMassCancelReport, on quickfix's thread."""
        report = parse_order_mass_cancel_report(message)
        fallback = self.pending.answered(link.name, report)
        if not report.rejected:
            log.info("%s: mass cancel %s (venue id %s): %s orders canceled", link.name, report.cl_ord_id,
                     report.order_id, report.total_affected)  # fmt: skip
            return
        log.warning("%s: mass cancel %s refused (532 %s: %s); %d orders to cancel one by one", link.name,
                    report.cl_ord_id, report.reject_reason, report.text, len(fallback))  # fmt: skip
        if fallback:
            spawn(self._cancel_one_by_one, link, fallback, name=f"cancel-one-by-one-{link.name}")

    def _cancel_one_by_one(self, link: VenueLink, targets: list[MassCancelTarget]) -> None:
        # Under the resync's lock, as outbound.py sends: a resync never slips in between.
        with link.resync_lock:
            rows = Order.objects.filter(id__in={t.order_id for t in targets}, venue=link.name).in_bulk()
            for target in targets:
                order = rows.get(target.order_id)
                if order is None or OrdStatus(order.status) in DONE_STATUSES:
                    continue  # another venue's, or over already
                link.send(cancel_request(target.cancel_cl_ord_id, target.cl_ord_id, order_ref(order)))
