"""`decide(state, command) -> events`: what a command does to an order, as events.

Refusals are events too (OrderRejected, OrderCancelRejected, ExecutionAnomalyRecorded):
nothing here raises for bad input from outside. Every event produced is one the
transition table allows from the order's status, so `fold.apply` can always take it.
"""

from __future__ import annotations

from functools import singledispatch

from risk.domain import MAX_PRICE, Denial

from . import commands as cmd
from . import events as ev
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
