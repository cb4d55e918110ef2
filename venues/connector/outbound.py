"""Out: the log to the venues. A `LogTailer` per venue follows committed events from the venue's
durable checkpoint and sends NewOrderSingle, OrderCancelRequest and OrderCancelReplaceRequest
for the ones routed there, so nothing reaches a venue before its event is in the log. It takes
them from the engine's post-commit notice (orders/routed.py: the commit's routed events, each with
its order as committed, and the engaged switches) when the notice follows on from where it is, and
reads the log and the orders otherwise (a notice missed, a restart, a poll). While the session is
down it waits, holding its place.

The kill switch, here: before sending a new order or a replace, the tailer checks the engaged
switches (the notice's, as of the order's commit, or the table's, read before the orders: the same
commit that engaged one recorded the cancel requests of what it halts). An
order a switch halts is never sent: its pending cancel is answered here, as a venue would
("canceled, never sent"); a halted replace is refused the same way, and the engine then cancels
the order. A firm or venue switch's cancel requests go to the venue as one OrderMassCancelRequest.

A crash between the send and the checkpoint sends it again under the same ClOrdID; the venue
refuses the repeat as a duplicate and the inbound part asks for the order's status instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

import quickfix as fix

from orders import routed, store
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.values import DONE_STATUSES, ExecType, OrdStatus, RequestKind
from orders.models import Order
from orders.routed import ROUTED_EVENTS, RoutedOrder
from orders.tailer import LogTailer, Noticed
from risk.domain import KillSwitches, Scope, Switch, trader_of
from risk.models import KillSwitch
from venues.connector.link import VenueLink
from venues.fix.orders import OrderRef, cancel_request, new_order_single, replace_request

log = logging.getLogger("oms.connector")

SENDING_EVENTS = ("OrderAccepted", "OrderReplaceRequested")
MassCancel = Callable[[str, list[tuple[int, str, str]]], object]  # (venue, [(order, its ClOrdID, cancel's)])


class Outbound:
    def __init__(
        self,
        links: Iterable[VenueLink],
        *,
        mass_cancel: MassCancel | None = None,
        answer: Callable[[cmd.Command], None] | None = None,
    ) -> None:
        self.mass_cancel = mass_cancel
        self.answer = answer  # hands a command to the engine, as the venue's reports go (inbound.py)
        self.withheld: set[int] = set()  # orders a kill switch kept from their venue
        # per venue: the engage command whose cancel requests went as one mass cancel
        self._mass_commands: dict[str, str] = {}
        self.tailers = {link.name: self._tailer(link) for link in links}

    def position(self, venue: str) -> int:
        """How far into the log `venue`'s tailer has sent (its durable checkpoint)."""
        return self.tailers[venue].position()

    def stop(self, venue: str) -> None:
        """Stop routing to `venue`: its tailer ends, its checkpoint stays where it is."""
        self.tailers[venue].stop()

    def _tailer(self, link: VenueLink) -> LogTailer:
        """The venue's tailer: the engine's notices when they follow on, the log otherwise."""

        def from_log(batch: list[store.StoredEvent]) -> None:
            wanted = [s for s in batch if s.event_type in ROUTED_EVENTS]
            if wanted:
                # The switches first, then the orders: a switch read engaged was committed with its
                # cancel requests, so the rows read next show them.
                switches = engaged_switches() if any(s.event_type in SENDING_EVENTS for s in wanted) else None
                self._send(link, [(s, None) for s in wanted], switches)

        def from_notice(data: str) -> Noticed:
            notice = routed.decode(data)

            def handle(position: int) -> None:
                items = [(s, order) for s, order in notice.routed if s.position > position]
                if items:
                    self._send(link, items, notice.switches)

            return Noticed(notice.after, notice.last, handle)

        # The checkpoint need not wait for the WAL flush: one lost to a database crash sends again
        # what the venue refuses as a duplicate ClOrdID, and the order's status is asked instead.
        return LogTailer(f"venue:{link.name}", from_log, notices=routed.channel(), noticed=from_notice,
                         flush_checkpoint=False)  # fmt: skip

    def _send(self, link: VenueLink, items: list[tuple[store.StoredEvent, RoutedOrder | None]],
              switches: KillSwitches | None) -> None:  # fmt: skip
        """Send what `items` (routed events in log order, each with its order as committed, or None
        to read it here) ask of `link`'s venue. `switches`: the engaged kill switches (None: no new
        order or replace among them), as of the orders' commit or later."""
        # Under the resync's lock: a resync reads an order and sends what it waits for as one
        # step, so a cancel of ours never slips in between (ahead of the order it cancels).
        with link.resync_lock:
            unread = {s.stream_id for s, order in items if order is None and s.stream_type == store.ORDER_STREAM}
            rows = {
                row["id"]: RoutedOrder.from_row(row)
                for row in Order.objects.filter(id__in=unread, venue=link.name).values(*RoutedOrder.ROW_FIELDS)
            } if unread else {}  # fmt: skip
            for stored, given in items:
                if stored.event_type == "KillSwitchEngaged":
                    self._mass_cancel_for(link, stored)  # here, in log order: before anything later
                    continue
                order = given or rows.get(stored.stream_id)
                if order is None or order.venue != link.name or OrdStatus(order.status) in DONE_STATUSES:
                    continue  # another venue's, or over already (a resend would be pointless)
                event = stored.event
                if switches is not None and stored.event_type in SENDING_EVENTS:
                    halt = switches.halting(order.account, trader_of(stored.actor), link.name)
                    if halt is not None and self._withhold(event, order, halt):
                        continue
                if isinstance(event, ev.OrderCancelRequested) and (
                    order.id in self.withheld  # never sent: its cancel is answered here already
                    or self._mass_commands.get(link.name) == stored.command_id  # in the mass cancel
                ):
                    continue
                message = message_for(event, order)
                if message is not None:
                    link.send(message)

    def _mass_cancel_for(self, link: VenueLink, stored: store.StoredEvent) -> None:
        """A firm switch, or one on this venue, cancels everything of ours there: one
        OrderMassCancelRequest for every order with a cancel pending at the venue (the engage's,
        committed with it, wherever they fall in the tailer's batches; and any other pending
        cancel, which the mass cancel answers too). Its own cancel requests are then not sent."""
        event = stored.event
        if self.mass_cancel is None or not (
            event.scope == "firm" or (event.scope == "venue" and event.target == link.name)  # type: ignore[union-attr]
        ):
            return
        self._mass_commands[link.name] = stored.command_id
        pending = Order.objects.filter(venue=link.name, pending_kind=RequestKind.CANCEL.value).exclude(
            status__in=[s.value for s in DONE_STATUSES]
        )
        targets = [(o.id, o.cl_ord_id, o.pending_cl_ord_id) for o in pending if o.id not in self.withheld]
        if targets:
            self.mass_cancel(link.name, targets)

    def _withhold(self, event: ev.Event, order: RoutedOrder, halt: Switch) -> bool:
        """Keep a halted order or replace from the venue, answering it as the venue would."""
        if self.answer is None:
            return False
        why = f"not sent to {order.venue}: {halt.scope.value} kill switch engaged ({halt.reason})"
        now = time.time_ns()
        if isinstance(event, ev.OrderAccepted):
            self.withheld.add(order.id)
            # Its pending cancel (the engage's) is answered; without one (a replace was pending at
            # the engage, or a child re-routed after it) the order is refused, as a venue would.
            canceled = order.pending_kind == RequestKind.CANCEL.value
            self.answer(cmd.ApplyExecutionReport(
                command_id=f"withheld:{order.id}:{now}", received_at_ns=now, actor=f"venue:{order.venue}",
                order_id=order.id, exec_id=f"{order.venue}:withheld:{order.id}",
                exec_type=ExecType.CANCELED if canceled else ExecType.REJECTED,
                cl_ord_id=order.pending_cl_ord_id if canceled else order.cl_ord_id, text=why, cum_qty=Decimal(0),
                ord_status=OrdStatus.CANCELED if canceled else OrdStatus.REJECTED,
            ))  # fmt: skip
            log.warning("order %s %s", order.id, why)
            return True
        if isinstance(event, ev.OrderReplaceRequested):
            self.answer(cmd.ApplyCancelReject(
                command_id=f"withheld:{event.cl_ord_id}:{now}", received_at_ns=now, actor=f"venue:{order.venue}",
                order_id=order.id, cl_ord_id=event.cl_ord_id, reason="other", text=why,
                response_to=RequestKind.REPLACE,
            ))  # fmt: skip
            log.warning("replace %s of order %s %s", event.cl_ord_id, order.id, why)
            return True
        return False


def engaged_switches() -> KillSwitches:
    return KillSwitches(tuple(
        Switch(Scope(row.scope), row.target or None, row.engaged_by, row.engage_reason, 0)
        for row in KillSwitch.objects.filter(engaged=True)
    ))  # fmt: skip


def order_ref(order: Order | RoutedOrder) -> OrderRef:
    return OrderRef(order.id, order.cl_ord_id, order.symbol, order.side, order.order_type, order.quantity,
                    order.limit_price, order.venue_order_id or None)  # fmt: skip


def message_for(event: ev.Event, order: Order | RoutedOrder) -> fix.Message | None:
    if isinstance(event, ev.OrderAccepted):
        return new_order_single(event)
    ref = order_ref(order)
    if isinstance(event, ev.OrderCancelRequested):
        return cancel_request(event.cl_ord_id, event.orig_cl_ord_id, ref, text=event.text)
    if isinstance(event, ev.OrderReplaceRequested):
        return replace_request(event.cl_ord_id, event.orig_cl_ord_id, event.quantity, event.limit_price, ref)
    return None
