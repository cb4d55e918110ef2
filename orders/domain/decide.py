"""`decide(state, command) -> events`: what a command does to an order, as events.

Refusals are events too (OrderRejected, OrderCancelRejected, ExecutionAnomalyRecorded):
nothing here raises for bad input from outside. Every event produced is one the
transition table allows from the order's status, so `fold.apply` can always take it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import singledispatch

from risk.domain import MAX_PRICE, Denial

from . import commands as cmd
from . import events as ev
from .fold import apply
from .state import OrderState
from .transitions import is_allowed
from .values import ExecType, OrderType, OrdStatus


def decide(
    state: OrderState | None,
    command: cmd.Command,
    *,
    new_order_id: int | None = None,
    denial: Denial | None = None,
) -> list[ev.Event]:
    """Precondition: a SubmitOrder comes with `new_order_id` and no state; the others with the
    order's state. `denial` is the pre-trade verdict on a submit or replace (None: allowed)."""
    return _decide(command, state, new_order_id, denial)


@singledispatch
def _decide(command: object, state: OrderState | None, new_order_id: int | None, denial: Denial | None) -> list:
    raise TypeError(f"no decision for {type(command).__name__}")


@_decide.register
def _(command: cmd.SubmitOrder, state: OrderState | None, new_order_id: int | None, denial: Denial | None) -> list:
    assert state is None and new_order_id is not None
    c = command
    if denial is not None:
        return [
            ev.OrderRejected(
                new_order_id,
                c.received_at_ns,
                c.account,
                c.cl_ord_id,
                c.symbol,
                c.side,
                c.quantity,
                c.order_type,
                c.time_in_force,
                c.limit_price,
                denial.reason,
                denial.text,
            )
        ]
    return [
        ev.OrderAccepted(
            new_order_id,
            c.received_at_ns,
            c.account,
            c.cl_ord_id,
            c.symbol,
            c.side,
            c.quantity,
            c.order_type,
            c.time_in_force,
            c.limit_price,
            venue=None if c.strategy is not None else c.venue,
            strategy=c.strategy,
        )
    ]


def _repeats_pending(state: OrderState, cl_ord_id: str) -> bool:
    """A request with the pending request's ClOrdID is a repeat of it (a client's retry).

    It gets no refusal: a refusal carrying that ClOrdID would look to the fold like the venue's
    answer to the pending request and drop it while the venue still works it."""
    return state.pending is not None and state.pending.cl_ord_id == cl_ord_id


def _request_refusal(state: OrderState, kind: str) -> tuple[str, str] | None:
    if state.is_done:
        return f"too_late_to_{kind}", f"too late to {kind}: the order is {state.status.value}"
    if state.pending is not None:
        return "request_pending", f"a {state.pending.kind.value} ({state.pending.cl_ord_id}) is already pending"
    return None


@_decide.register
def _(command: cmd.CancelOrder, state: OrderState | None, new_order_id: int | None, denial: Denial | None) -> list:
    assert state is not None
    if _repeats_pending(state, command.cl_ord_id):
        return []
    refusal = _request_refusal(state, "cancel")
    if refusal is not None:
        reason, text = refusal
        return [
            ev.OrderCancelRejected(
                state.order_id, command.received_at_ns, command.cl_ord_id, command.orig_cl_ord_id, reason, text
            )
        ]
    return [ev.OrderCancelRequested(state.order_id, command.received_at_ns, command.cl_ord_id, command.orig_cl_ord_id)]


@_decide.register
def _(command: cmd.ReplaceOrder, state: OrderState | None, new_order_id: int | None, denial: Denial | None) -> list:
    assert state is not None
    if _repeats_pending(state, command.cl_ord_id):
        return []
    quantity = command.quantity if command.quantity is not None else state.quantity
    limit_price = command.limit_price if command.limit_price is not None else state.limit_price

    def refused(reason: str, text: str) -> list:
        return [
            ev.OrderReplaceRejected(
                state.order_id, command.received_at_ns, command.cl_ord_id, command.orig_cl_ord_id, reason, text
            )
        ]

    refusal = _request_refusal(state, "replace")
    if refusal is not None:
        return refused(*refusal)
    if denial is not None:
        return refused(denial.reason, denial.text)
    if quantity < state.cum_qty:
        return refused("quantity_below_cum_qty", f"quantity {quantity} is below the {state.cum_qty} already filled")
    if state.order_type is OrderType.MARKET and command.limit_price is not None:
        return refused("price_on_market_order", "a market order takes no limit_price")
    if quantity == state.quantity and limit_price == state.limit_price:
        return refused("nothing_to_replace", "the replace changes neither quantity nor limit_price")
    return [
        ev.OrderReplaceRequested(
            state.order_id, command.received_at_ns, command.cl_ord_id, command.orig_cl_ord_id, quantity, limit_price
        )
    ]


@_decide.register
def _(
    command: cmd.ApplyExecutionReport, state: OrderState | None, new_order_id: int | None, denial: Denial | None
) -> list:
    assert state is not None
    if command.exec_id in state.exec_ids:
        return []  # a repeated ExecID: already applied
    at = command.received_at_ns

    def anomaly(reason: str, text: str) -> list:
        return [ev.ExecutionAnomalyRecorded(state.order_id, at, command.exec_id, reason, text)]

    event: ev.Event
    match command.exec_type:
        case ExecType.TRADE:
            if state.status is OrdStatus.REJECTED:
                return anomaly("fill_on_rejected_order", f"a fill of {command.last_qty} on a rejected order")
            if not (0 < command.last_qty and 0 < command.last_px <= MAX_PRICE):
                return anomaly("invalid_fill", f"fill of {command.last_qty} at {command.last_px}")
            if command.cum_qty is not None and command.cum_qty <= state.cum_qty:
                return []  # the venue's totals say this fill is counted already (a resync took it)
            cum_qty = state.cum_qty + command.last_qty
            if cum_qty > state.quantity:
                return anomaly(
                    "overfill", f"a fill of {command.last_qty} takes cum_qty to {cum_qty}, over {state.quantity}"
                )
            fill = ev.OrderFilled if cum_qty == state.quantity else ev.OrderPartiallyFilled
            event = fill(state.order_id, at, command.exec_id, command.last_qty, command.last_px)
        case ExecType.NEW:
            event = ev.OrderAcknowledged(state.order_id, at, command.exec_id)
        case ExecType.REJECTED:
            if state.acknowledged:
                # 150=8 answers a new order; once the venue has accepted (or filled) it, it ends by
                # cancel or expiry. (The PC/PR rows are for a reject racing a cancel of a pending_new.)
                return anomaly("reject_after_ack", "a venue reject of an order the venue had accepted")
            event = ev.OrderVenueRejected(state.order_id, at, command.exec_id, command.text)
        case ExecType.CANCELED:
            event = ev.OrderCanceled(state.order_id, at, command.exec_id)
        case ExecType.EXPIRED | ExecType.DONE_FOR_DAY:
            event = ev.OrderExpired(state.order_id, at, command.exec_id)
        case ExecType.REPLACED:
            pending = state.pending
            if pending is None or pending.quantity is None:
                return anomaly("unexpected_replace", "a replace report with no replace pending")
            quantity = command.quantity if command.quantity is not None else pending.quantity
            if quantity < state.cum_qty:
                return anomaly("replace_below_cum_qty", f"replaced quantity {quantity} is below cum_qty")
            limit_price = command.limit_price if command.limit_price is not None else pending.limit_price
            event = ev.OrderReplaced(
                state.order_id, at, command.exec_id, command.cl_ord_id or pending.cl_ord_id, quantity, limit_price
            )
        case ExecType.ORDER_STATUS:
            return reconcile(state, command)
        case _:
            return anomaly("unknown_exec_type", f"exec type {command.exec_type!r}")
    if not is_allowed(state.status, type(event)):
        return anomaly("unexpected_report", f"{type(event).__name__} is not possible on a {state.status.value} order")
    return [event]


@_decide.register
def _(
    command: cmd.ApplyCancelReject, state: OrderState | None, new_order_id: int | None, denial: Denial | None
) -> list:
    assert state is not None
    pending = state.pending
    orig = state.cl_ord_id
    replace_pending = pending is not None and pending.kind.value == "replace" and pending.cl_ord_id == command.cl_ord_id
    rejected = ev.OrderReplaceRejected if replace_pending else ev.OrderCancelRejected
    return [rejected(state.order_id, command.received_at_ns, command.cl_ord_id, orig, command.reason, command.text)]


def reconcile(state: OrderState, report: cmd.ApplyExecutionReport) -> list[ev.Event]:
    """The events that bring the order to what the venue's status answer (150=I) says it is.

    After a disconnect or a restart the connector asks the venue about every live order;
    reports missed in between show up here as differences. What the venue's own totals
    explain becomes the events it would have sent: the ack, the missed quantity as one fill
    at the price its AvgPx implies, the cancel, expiry, reject or replace. Anything the OMS
    cannot explain (the venue has less filled than we booked, or has lost an order it had
    accepted) is recorded as an anomaly for a person, never papered over with invented fills.
    """
    at, exec_id = report.received_at_ns, report.exec_id
    venue_status = report.ord_status
    events: list[ev.Event] = []
    current = state

    def add(event: ev.Event) -> None:
        nonlocal current
        if not is_allowed(current.status, type(event)):
            event = anomaly(
                f"resync_{type(event).__name__}", f"{type(event).__name__} on a {current.status.value} order"
            )
        if isinstance(event, ev.ExecutionAnomalyRecorded) and event.exec_id in current.exec_ids:
            return  # the same status answer again: its anomaly is recorded once
        events.append(event)
        current = apply(current, event)

    def anomaly(reason: str, text: str) -> ev.ExecutionAnomalyRecorded:
        return ev.ExecutionAnomalyRecorded(state.order_id, at, f"{exec_id}:{reason}", reason, text)

    if report.unknown_order:
        if not state.acknowledged or state.is_done:
            return []  # not there yet (the order is on its way), or nothing left to lose
        add(anomaly("unknown_at_venue", "the venue no longer knows this order; it is not working there"))
        add(ev.OrderCanceled(state.order_id, at, exec_id))
        return events
    venue_cum = report.cum_qty if report.cum_qty is not None else state.cum_qty
    if venue_status is OrdStatus.REJECTED:
        if not state.acknowledged and not state.is_done:
            add(ev.OrderVenueRejected(state.order_id, at, exec_id, report.text or "rejected by the venue"))
        return events
    if venue_cum < state.cum_qty:
        add(anomaly("venue_cum_qty_below_oms", f"the venue has {venue_cum} filled; the OMS booked {state.cum_qty}"))
        return events
    if venue_status is not None and not state.acknowledged and not state.is_done and venue_cum == state.cum_qty:
        add(ev.OrderAcknowledged(state.order_id, at, exec_id))
    replace_pending = state.pending is not None and state.pending.kind.value == "replace"
    if replace_pending and state.pending is not None and report.cl_ord_id == state.pending.cl_ord_id:
        quantity = report.quantity if report.quantity is not None else state.pending.quantity
        assert quantity is not None
        limit_price = report.limit_price if report.limit_price is not None else state.pending.limit_price
        if quantity < current.cum_qty:  # as for a live Replaced report: never more filled than ordered
            add(anomaly("replace_below_cum_qty", f"replaced quantity {quantity} is below cum_qty {current.cum_qty}"))
            return events
        add(ev.OrderReplaced(state.order_id, at, f"{exec_id}:replaced", report.cl_ord_id, quantity, limit_price))
    missed = venue_cum - current.cum_qty
    if missed > 0:
        venue_notional = venue_cum * (report.avg_px or 0)
        last_px = ((venue_notional - current.notional) / missed).quantize(Decimal("1e-8"))
        if not 0 < last_px <= MAX_PRICE:
            add(anomaly("resync_fill_price", f"{missed} missed at an implied price of {last_px}"))
            return events
        filled = ev.OrderFilled if venue_cum >= current.quantity else ev.OrderPartiallyFilled
        if venue_cum > current.quantity:
            add(anomaly("overfill", f"the venue has {venue_cum} filled, over {current.quantity}"))
            return events
        add(filled(state.order_id, at, f"{exec_id}:fill", missed, last_px))
    if not current.is_done:
        if venue_status is OrdStatus.CANCELED:
            add(ev.OrderCanceled(state.order_id, at, f"{exec_id}:canceled"))
        elif venue_status in (OrdStatus.EXPIRED, OrdStatus.DONE_FOR_DAY):
            add(ev.OrderExpired(state.order_id, at, f"{exec_id}:expired"))
    return events
