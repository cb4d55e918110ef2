"""Recovery, second line: status requests. The first is FIX itself: sequence numbers are kept
for the trading day, so after a reconnect the venue resends the reports we missed
(ResendRequest / SequenceReset-GapFill). What that cannot cover (a venue that lost or refused
something, a report it never sent) the connector asks about: at every logon and every
`every_seconds` after, for every order still live there, it first sends again, marked
PossResend, whatever the order still waits for (the order itself, or its pending cancel or
replace), then asks where the order stands (35=H, naming it by the venue's OrderID once known).
The venue works a session's messages in order, so its answer already reflects the resend, and
the engine's `reconcile` resolves every pending state from it: nothing waits for ever.

Orders that ended lately are asked about too, once each (no resend): a late fill lost on the
way is then recovered as a fill, not just seen later as a position mismatch. At logon, after an
outage, that is every order ended in the last `ended_window_seconds`.
The periodic pass leaves out orders changed within the last half period: their answers may
still be on the way. Nothing is sent again before the venue's outbound tailer has sent all that
was committed before the pass began: a resend never overtakes the original (a cancel resent
ahead of its order's first NewOrderSingle would find nothing, and the order would then arrive
live after the OMS had canceled it). For the same reason an order that was never acknowledged is
sent again only while no cancel of it is pending: its cancel goes alone, and an answer that the
venue does not know the order settles it as canceled, with nothing left to bring it to life.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import quickfix as fix

from orders import store
from orders.domain import events as ev
from orders.domain.values import DONE_STATUSES, LIVE_STATUSES, OrderType, OrdStatus, Side, TimeInForce
from orders.models import Event, Order
from risk.domain import KillSwitches, trader_of
from venues.connector.link import VenueLink
from venues.connector.outbound import engaged_switches, order_ref
from venues.fix.orders import OrderRef, cancel_request, new_order_single, replace_request, status_request

log = logging.getLogger("oms.connector")

LIVE = sorted(s.value for s in LIVE_STATUSES)  # for status__in


ENDED_WINDOW_SECONDS = 600.0
OUTBOUND_WAIT_SECONDS = 10.0
RECENTLY_ENDED = sorted(s.value for s in (OrdStatus.CANCELED, OrdStatus.EXPIRED, OrdStatus.DONE_FOR_DAY))


class Resync:
    def __init__(
        self,
        links: dict[str, VenueLink],
        every_seconds: float,
        stopped: threading.Event,
        ended_window_seconds: float = ENDED_WINDOW_SECONDS,
        outbound_position: Callable[[str], int] | None = None,
    ) -> None:
        self.links = links
        self.every_seconds = every_seconds
        self.stopped = stopped
        self.ended_window_seconds = ended_window_seconds
        self.outbound_position = outbound_position  # venue -> how far its tailer has sent

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
        now = time.time_ns()
        cutoff = now - int(min_age_seconds * 1e9)
        ids = list(
            Order.objects.filter(venue=link.name, status__in=LIVE, updated_at_ns__lte=cutoff)
            .order_by("id")
            .values_list("id", flat=True)
        )
        # Ended orders once each: the periodic pass asks about those that ended in the period just
        # before its cutoff; the logon pass (min_age 0), after an outage, about the whole window.
        window = self.ended_window_seconds if min_age_seconds == 0 else self.every_seconds
        ended = list(
            Order.objects.filter(
                venue=link.name, status__in=RECENTLY_ENDED, updated_at_ns__lte=cutoff,
                updated_at_ns__gt=cutoff - int(window * 1e9),
            )
            .order_by("id")
            .values_list("id", flat=True)
        )  # fmt: skip
        if ids or ended:
            log.info("%s: resync of %d live and %d lately ended orders", link.name, len(ids), len(ended))
            caught_up = self.wait_for_outbound(link, store.last_position())
            if not caught_up:
                log.warning("%s: the outbound tailer is behind; asking without sending anything again", link.name)
            self.ask(link, ids, resend=caught_up)
            self.ask(link, ended, resend=False, ended_too=True)

    def wait_for_outbound(self, link: VenueLink, position: int, timeout: float = OUTBOUND_WAIT_SECONDS) -> bool:
        """Has the venue's tailer sent everything up to `position` (waiting up to `timeout`)?"""
        if self.outbound_position is None:
            return True
        deadline = time.monotonic() + timeout
        while self.outbound_position(link.name) < position:
            if time.monotonic() > deadline or self.stopped.wait(0.05):
                return False
        return True

    def ask(self, link: VenueLink, order_ids: Iterable[int], resend: bool, ended_too: bool = False) -> None:
        """A status request (35=H) for each of `order_ids` not over yet (`ended_too`: over or not);
        with `resend`, first what each still waits for, and the question says what went before it
        (790), so the engine may conclude from the answer."""
        switches = engaged_switches() if resend else None
        with link.resync_lock:
            for order in Order.objects.filter(id__in=list(order_ids), venue=link.name).order_by("id"):
                if OrdStatus(order.status) in DONE_STATUSES and not ended_too:
                    continue
                ref = order_ref(order)
                asked_after = None
                if resend:
                    owed = still_owed(order, ref)
                    if switches is not None and switches.engaged() and _halted(switches, order, link.name):
                        # A kill switch halts it: nothing that adds risk goes again, only its cancel.
                        owed = [(c, m) for c, m in owed if c == order.pending_cl_ord_id and _is_cancel(order)]
                    for cl_ord_id, message in owed:
                        link.send(message)
                        asked_after = cl_ord_id
                link.send(status_request(ref, asked_after=asked_after))


def _halted(switches: KillSwitches, order: Order, venue: str) -> bool:
    first = Event.objects.filter(stream_type="order", stream_id=order.id, stream_version=1).first()
    trader = trader_of(first.actor) if first is not None else None
    return switches.halting(order.account_id, trader, venue) is not None


def _is_cancel(order: Order) -> bool:
    return order.status == OrdStatus.PENDING_CANCEL.value


def still_owed(order: Order, ref: OrderRef) -> list[tuple[str, fix.Message]]:
    """What the order still waits for from the venue, to send again (PossResend), each with its
    ClOrdID: the order itself while the venue has not acknowledged it (also under a pending
    replace, so the replace finds it; never under a pending cancel), then the pending request."""
    owed = []
    if not order.acknowledged and order.status != OrdStatus.PENDING_CANCEL.value:
        accepted = ev.OrderAccepted(
            order.id, order.created_at_ns, order.account_id, order.cl_ord_id, order.symbol, Side(order.side),
            order.quantity, OrderType(order.order_type), TimeInForce(order.time_in_force), order.limit_price,
            order.venue,
        )  # fmt: skip
        owed.append((order.cl_ord_id, new_order_single(accepted, resend=True)))
    if order.status == OrdStatus.PENDING_CANCEL.value:
        owed.append((order.pending_cl_ord_id, cancel_request(order.pending_cl_ord_id, order.cl_ord_id, ref,
                                                             resend=True)))  # fmt: skip
    elif order.status == OrdStatus.PENDING_REPLACE.value and order.pending_quantity is not None:
        owed.append((order.pending_cl_ord_id, replace_request(order.pending_cl_ord_id, order.cl_ord_id,
                                                              order.pending_quantity, order.pending_limit_price, ref,
                                                              resend=True)))  # fmt: skip
    return owed
