"""`decide(state, command) -> events`: what a command does to an order, as events.

Refusals are events too (OrderRejected, OrderCancelRejected, ExecutionAnomalyRecorded):
nothing here raises for bad input from outside. Every event produced is one the
transition table allows from the order's status, so `fold.apply` can always take it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import singledispatch

from risk.domain import MAX_PRICE, MAX_QUANTITY, Denial

from . import close
from . import commands as cmd
from . import events as ev
from .fold import apply
from .state import OrderState, refusal_key
from .transitions import is_allowed
from .values import ExecType, OrderType, OrdStatus, RequestKind


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
                denial.details,
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
    details: tuple[tuple[str, str], ...] = ()
    if refusal is None and denial is not None:  # the message rate: a cancel passes every other check
        refusal, details = (denial.reason, denial.text), denial.details
    if refusal is not None:
        reason, text = refusal
        return [
            ev.OrderCancelRejected(
                state.order_id,
                command.received_at_ns,
                command.cl_ord_id,
                command.orig_cl_ord_id,
                reason,
                text,
                details,
            )
        ]
    # 41 OrigClOrdID as the venue knows the order: the engine's current ClOrdID, not what the
    # client read from a projection that a replace may have overtaken.
    return [ev.OrderCancelRequested(state.order_id, command.received_at_ns, command.cl_ord_id, state.cl_ord_id)]


@_decide.register
def _(command: cmd.ReplaceOrder, state: OrderState | None, new_order_id: int | None, denial: Denial | None) -> list:
    assert state is not None
    if _repeats_pending(state, command.cl_ord_id):
        return []
    quantity = command.quantity if command.quantity is not None else state.quantity
    limit_price = command.limit_price if command.limit_price is not None else state.limit_price

    def refused(reason: str, text: str, details: tuple[tuple[str, str], ...] = ()) -> list:
        return [
            ev.OrderReplaceRejected(
                state.order_id,
                command.received_at_ns,
                command.cl_ord_id,
                command.orig_cl_ord_id,
                reason,
                text,
                details,
            )
        ]

    refusal = _request_refusal(state, "replace")
    if refusal is not None:
        return refused(*refusal)
    if denial is not None:
        return refused(denial.reason, denial.text, denial.details)
    if quantity < state.cum_qty:
        return refused("quantity_below_cum_qty", f"quantity {quantity} is below the {state.cum_qty} already filled")
    if state.order_type is OrderType.MARKET and command.limit_price is not None:
        return refused("price_on_market_order", "a market order takes no limit_price")
    if quantity == state.quantity and limit_price == state.limit_price:
        return refused("nothing_to_replace", "the replace changes neither quantity nor limit_price")
    return [
        ev.OrderReplaceRequested(
            state.order_id, command.received_at_ns, command.cl_ord_id, state.cl_ord_id, quantity, limit_price
        )
    ]


# Numbers from outside: a venue's quantities and prices must fit what the log and the
# projections keep (8 decimals, within the sanity caps), or they are an anomaly, never an error.
DECIMALS = 8


def outside_number(
    name: str, value: Decimal | None, limit: Decimal, *, zero_allowed: bool = False, any_decimals: bool = False
) -> str | None:
    """Why `value` cannot be booked, or None. None itself is fine (the field was absent).
    `any_decimals`: an average (6 AvgPx) has as many as its division gives; only its range counts."""
    if value is None:
        return None
    if not value.is_finite():
        return f"{name} {value} is not a number"
    if value < 0 or (value == 0 and not zero_allowed) or value > limit:
        return f"{name} {value} is outside (0, {limit}]"
    exponent = value.normalize().as_tuple().exponent
    if not any_decimals and isinstance(exponent, int) and exponent < -DECIMALS:
        return f"{name} {value} has more than {DECIMALS} decimals"
    return None


def _first_problem(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


def _terms_problem(quantity: Decimal, limit_price: Decimal | None) -> str | None:
    """Why an order's terms from the venue (38 OrderQty, 44 Price) cannot be booked, or None."""
    return _first_problem(
        outside_number("OrderQty", quantity, MAX_QUANTITY), outside_number("Price", limit_price, MAX_PRICE)
    )


@_decide.register
def _(
    command: cmd.ApplyExecutionReport, state: OrderState | None, new_order_id: int | None, denial: Denial | None
) -> list:
    assert state is not None
    if command.exec_id in state.exec_ids:
        return []  # a repeated ExecID: already applied
    implied = _implied_replace(state, command)
    if implied is not None:
        events = [implied, *_report_events(apply(state, implied), command)]
    else:
        events = _report_events(state, command)
    if command.unrecognised and command.exec_type is not ExecType.UNKNOWN:
        # A known ExecType with, say, an OrdStatus outside FIX 4.4: book what it says, and flag it.
        text = f"the venue's report said {command.unrecognised}, which the OMS does not know"
        flagged = ev.ExecutionAnomalyRecorded(
            state.order_id, command.received_at_ns, f"{command.exec_id}:unrecognised", "unrecognised_value", text
        )
        return [flagged, *events]
    return events


def _implied_replace(state: OrderState, command: cmd.ApplyExecutionReport) -> ev.OrderReplaced | None:
    """A report under the pending replace's ClOrdID (a fill, a cancel...) says the venue applied the
    replace: after one, a venue reports the order under its new ClOrdID. Its own Replaced report
    was lost (or is behind): book the replace first, so the report lands on the order it is about."""
    pending = state.pending
    if (
        pending is None
        or pending.kind is not RequestKind.REPLACE
        or pending.quantity is None
        or command.cl_ord_id != pending.cl_ord_id
        or command.exec_type in (ExecType.REPLACED, ExecType.ORDER_STATUS, ExecType.REJECTED)
        or pending.quantity < state.cum_qty
    ):
        return None
    return ev.OrderReplaced(state.order_id, command.received_at_ns, f"{command.exec_id}:replaced",
                            pending.cl_ord_id, pending.quantity, pending.limit_price)  # fmt: skip


def _report_events(state: OrderState, command: cmd.ApplyExecutionReport) -> list[ev.Event]:
    at = command.received_at_ns

    def anomaly(reason: str, text: str) -> list[ev.Event]:
        return [ev.ExecutionAnomalyRecorded(state.order_id, at, command.exec_id, reason, text)]

    acknowledging: list[ev.Event] = []
    if command.venue_order_id and state.venue_order_id is None and not state.acknowledged:
        # The first word from the venue names its OrderID (37): keep it, even when that word is a fill.
        if command.exec_type in (ExecType.TRADE, ExecType.REPLACED, ExecType.RESTATED):
            acknowledging = [ev.OrderAcknowledged(state.order_id, at, f"{command.exec_id}:ack", command.venue_order_id)]

    event: ev.Event
    match command.exec_type:
        case ExecType.TRADE:
            if state.status is OrdStatus.REJECTED:
                return anomaly("fill_on_rejected_order", f"a fill of {command.last_qty} on a rejected order")
            problem = _first_problem(
                outside_number("LastQty", command.last_qty, MAX_QUANTITY),
                outside_number("LastPx", command.last_px, MAX_PRICE),
                outside_number("CumQty", command.cum_qty, MAX_QUANTITY, zero_allowed=True),
            )
            if problem is not None:
                return anomaly("invalid_fill", f"a fill the OMS cannot book: {problem}")
            if command.cum_qty is not None and command.cum_qty <= state.cum_qty:
                return []  # the venue's totals say this fill is counted already (a resync took it)
            cum_qty = state.cum_qty + command.last_qty
            if cum_qty > state.quantity:
                return anomaly(
                    "overfill", f"a fill of {command.last_qty} takes cum_qty to {cum_qty}, over {state.quantity}"
                )
            fill = ev.OrderFilled if cum_qty == state.quantity else ev.OrderPartiallyFilled
            event = fill(state.order_id, at, command.exec_id, command.last_qty, command.last_px)
        case ExecType.TRADE_CANCEL:
            ref = command.ref_exec_id or ""
            booked = state.fill(ref) if ref else None
            if booked is None:
                ref = _booked_by_a_status_answer(state, command) or ""
                booked = state.fill(ref) if ref else None
            if booked is None:
                return anomaly("bust_of_unknown_fill", f"a trade cancel of ExecID {command.ref_exec_id!r}, which "
                               "names no fill standing on this order")  # fmt: skip
            last_qty, last_px = booked
            text = command.text or f"the venue busted the fill of {last_qty} at {last_px}"
            if ref != command.ref_exec_id:
                text += f" (its ExecID {command.ref_exec_id} was booked here as {ref}, from a status answer)"
            event = ev.FillBusted(state.order_id, at, command.exec_id, ref, last_qty, last_px, text)
        case ExecType.TRADE_CORRECT:
            booked = state.fill(command.ref_exec_id) if command.ref_exec_id else None
            if booked is None:
                return anomaly("correction_of_unknown_fill", f"a trade correction of ExecID "
                               f"{command.ref_exec_id!r}, which names no fill standing on this order")  # fmt: skip
            problem = _first_problem(
                outside_number("LastQty", command.last_qty, MAX_QUANTITY),
                outside_number("LastPx", command.last_px, MAX_PRICE),
            )
            if problem is not None:
                return anomaly("invalid_fill", f"a correction the OMS cannot book: {problem}")
            old_qty, old_px = booked
            cum_qty = state.cum_qty - old_qty + command.last_qty
            if cum_qty > state.quantity:
                return anomaly("overfill", f"the corrected fill takes cum_qty to {cum_qty}, over {state.quantity}")
            text = (
                command.text
                or f"the venue corrected the fill of {old_qty} at {old_px} to {command.last_qty} at {command.last_px}"
            )
            event = ev.FillCorrected(state.order_id, at, command.exec_id, command.ref_exec_id or "",
                                     command.last_qty, command.last_px, old_qty, old_px, text)  # fmt: skip
        case ExecType.RESTATED:
            quantity = command.quantity if command.quantity is not None else state.quantity
            limit_price = command.limit_price if command.limit_price is not None else state.limit_price
            problem = _terms_problem(quantity, limit_price)
            if problem is not None:
                return anomaly("invalid_restatement", problem)
            if quantity < state.cum_qty:
                return anomaly("restated_below_cum_qty", f"restated quantity {quantity} is below cum_qty "
                               f"{state.cum_qty}")  # fmt: skip
            text = f"restated by the venue: {command.text}" if command.text else "restated by the venue"
            event = ev.OrderRestated(state.order_id, at, command.exec_id, quantity, limit_price, text)
        case ExecType.NEW:
            event = ev.OrderAcknowledged(state.order_id, at, command.exec_id, command.venue_order_id)
        case ExecType.REJECTED:
            if state.acknowledged:
                # 150=8 answers a new order; once the venue has accepted (or filled) it, it ends by
                # cancel or expiry. (The PC/PR rows are for a reject racing a cancel of a pending_new.)
                return anomaly("reject_after_ack", "a venue reject of an order the venue had accepted")
            event = ev.OrderVenueRejected(state.order_id, at, command.exec_id, command.text)
        case ExecType.CANCELED:
            event = ev.OrderCanceled(state.order_id, at, command.exec_id)
        case ExecType.EXPIRED:
            event = ev.OrderExpired(state.order_id, at, command.exec_id, command.text[:500])
        case ExecType.DONE_FOR_DAY:
            event = ev.OrderDoneForDay(state.order_id, at, command.exec_id)
        case ExecType.REPLACED:
            pending = state.pending
            if (pending is None or pending.cl_ord_id != command.cl_ord_id) and command.cl_ord_id == state.cl_ord_id:
                return []  # a late Replaced: a report under its ClOrdID already told us (_implied_replace)
            if pending is None or pending.quantity is None:
                return anomaly("unexpected_replace", "a replace report with no replace pending")
            quantity = command.quantity if command.quantity is not None else pending.quantity
            limit_price = command.limit_price if command.limit_price is not None else pending.limit_price
            problem = _terms_problem(quantity, limit_price)
            if problem is not None:
                return anomaly("invalid_replace", problem)
            if quantity < state.cum_qty:
                return anomaly("replace_below_cum_qty", f"replaced quantity {quantity} is below cum_qty")
            event = ev.OrderReplaced(
                state.order_id, at, command.exec_id, command.cl_ord_id or pending.cl_ord_id, quantity, limit_price
            )
        case ExecType.ORDER_STATUS:
            return reconcile(state, command)
        case ExecType.PENDING_NEW | ExecType.PENDING_CANCEL | ExecType.PENDING_REPLACE:
            return []  # the venue has our request: nothing the OMS does not know
        case ExecType.UNKNOWN:
            return anomaly("unknown_exec_type", f"the venue's report said {command.unrecognised or 'nothing'}, "
                           "which the OMS does not know")  # fmt: skip
        case _:
            return anomaly("unhandled_exec_type", f"ExecType {command.exec_type.value} is not one the OMS acts on")
    if not is_allowed(state.status, type(event)):
        return anomaly("unexpected_report", f"{type(event).__name__} is not possible on a {state.status.value} order")
    if isinstance(event, ev.FillBusted) and command.ord_status in ENDED_BY_VENUE:
        # Venues differ on whether a bust reinstates a filled order; its 39 OrdStatus says which.
        after = apply(state, event)
        if not after.is_done:
            ending = ENDED_BY_VENUE[command.ord_status](state.order_id, at, f"{command.exec_id}:ended")
            return [*acknowledging, event, ending]
    return [*acknowledging, event]


ENDED_BY_VENUE: dict[OrdStatus, type] = {
    OrdStatus.CANCELED: ev.OrderCanceled,
    OrdStatus.EXPIRED: ev.OrderExpired,
    OrdStatus.DONE_FOR_DAY: ev.OrderDoneForDay,
}


def _booked_by_a_status_answer(state: OrderState, command: cmd.ApplyExecutionReport) -> str | None:
    """The fill a bust names may have reached the OMS only inside a status answer's missed
    quantity (its own report was lost), booked under the answer's ExecID. It is that fill when
    the quantity busted is exactly what that answer booked: the venue's LastQty, or what its
    CumQty now says the OMS has too much of."""
    busted = command.last_qty or (state.cum_qty - command.cum_qty if command.cum_qty is not None else None)
    for exec_id, last_qty, _ in reversed(state.fills):
        if exec_id.endswith(RESYNC_FILL_SUFFIX) and last_qty == busted:
            return exec_id
    return None


RESYNC_FILL_SUFFIX = ":fill"  # the ExecID of a fill a status answer revealed: `<answer's ExecID>:fill`


@_decide.register
def _(
    command: cmd.ApplyCancelReject, state: OrderState | None, new_order_id: int | None, denial: Denial | None
) -> list:
    assert state is not None
    if refusal_key(command.cl_ord_id) in state.exec_ids:
        return []  # the same OrderCancelReject again: recorded once
    pending = state.pending
    answers_pending = pending is not None and pending.cl_ord_id == command.cl_ord_id
    at = command.received_at_ns
    if answers_pending and pending is not None and pending.kind is RequestKind.CANCEL:
        if command.reason == "unknown_order" and close.is_close_cancel(state.order_id, pending.cl_ord_id):
            # The close's cancel of a DAY order the venue does not know: nothing works it there, and
            # its day is over. End it here, saying so (acknowledged or not).
            return [ev.OrderExpired(state.order_id, at, f"close-unknown:{command.cl_ord_id}", close.UNKNOWN_TEXT)]
        if command.reason == "unknown_order" and not state.acknowledged:
            # The venue never had the order (its NewOrderSingle never arrived: sent before the
            # cancel on the same session, it would have). Cancel it as asked, here, so a resend
            # can never make it live after the client was told it is being canceled.
            text = "the venue does not know the order; it never reached the venue and is canceled as asked"
            return [
                ev.ExecutionAnomalyRecorded(state.order_id, at, f"cancel-unknown:{command.cl_ord_id}",
                                            "never_reached_venue", text),
                ev.OrderCanceled(state.order_id, at, f"cancel-unknown:{command.cl_ord_id}:canceled"),
            ]  # fmt: skip
    kind = command.response_to or (pending.kind if answers_pending and pending is not None else RequestKind.CANCEL)
    rejected = ev.OrderReplaceRejected if kind is RequestKind.REPLACE else ev.OrderCancelRejected
    return [rejected(state.order_id, at, command.cl_ord_id, state.cl_ord_id, command.reason, command.text)]


def reconcile(state: OrderState, report: cmd.ApplyExecutionReport) -> list[ev.Event]:
    """The events that bring the order to what the venue's status answer (150=I) says it is.

    After a disconnect or a restart the connector asks the venue about every live order (and
    those ended lately); reports missed in between show up here as differences. What the
    venue's own totals explain becomes the events it would have sent: the ack, the missed
    quantity as one fill at the price its AvgPx implies, the cancel, expiry, reject or replace.
    Anything the OMS cannot explain (the venue has less filled than we booked, or has lost an
    order it had accepted) is recorded as an anomaly for a person, never papered over with
    invented fills.

    Every pending state is resolved by an answer, so no lost report leaves an order waiting for
    ever. At a resync the connector sends again what the order still waits for (PossResend: the
    order itself if never acknowledged, then its pending request) *before* it asks, and says so
    in the question (`asked_after`, echoed in 790); the venue works a session's messages in order,
    so such an answer already reflects the resend:
    - live under the order's current ClOrdID while a cancel or replace is pending and was sent
      again before the question: the venue did not apply it: it is refused here;
    - unknown, never acknowledged, and sent again before the question: it never reached the
      venue and never will: rejected (canceled, if a cancel was pending). An answer to a bare
      question proves nothing about what may still be on its way: it is only noted, once.
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

    def anomaly(reason: str, text: str, key: str | None = None) -> ev.ExecutionAnomalyRecorded:
        return ev.ExecutionAnomalyRecorded(state.order_id, at, key or f"{exec_id}:{reason}", reason, text)

    # No event of an answer takes the answer's own ExecID: it names what the venue said, and the
    # same answer later (the order unchanged there while a request of ours was lost) must still
    # be read, not dropped as already applied. Each event takes `<ExecID>:<what it books>`.
    problem = _first_problem(
        outside_number("CumQty", report.cum_qty, MAX_QUANTITY, zero_allowed=True),
        outside_number("AvgPx", report.avg_px, MAX_PRICE, zero_allowed=True, any_decimals=True),
        outside_number("OrderQty", report.quantity, MAX_QUANTITY),
        outside_number("Price", report.limit_price, MAX_PRICE),
    )
    if problem is not None:
        # Its figures cannot be booked; its OrdStatus still settles the order below.
        add(anomaly("invalid_status_answer", f"a status answer the OMS cannot use: {problem}"))
        report = replace(report, cum_qty=None, avg_px=None, quantity=None, limit_price=None)
    if report.unknown_order:
        _unknown_at_venue(state, report.asked_after, add, anomaly, at, exec_id)
        return events
    pending = state.pending
    if venue_status is OrdStatus.REJECTED:
        if not state.acknowledged and not state.is_done:
            add(
                ev.OrderVenueRejected(state.order_id, at, f"{exec_id}:rejected", report.text or "rejected by the venue")
            )
        return events
    venue_cum = report.cum_qty if report.cum_qty is not None else state.cum_qty
    if venue_cum < state.cum_qty:
        # A bust we never heard of, or a venue's error: which fill, the totals cannot say. For a
        # person; the answer still settles the order's status (nothing is left pending).
        add(anomaly("venue_cum_qty_below_oms", f"the venue has {venue_cum} filled; the OMS booked {state.cum_qty}"))
        venue_cum = state.cum_qty
    if venue_status is not None and not state.acknowledged and not state.is_done and venue_cum == state.cum_qty:
        add(ev.OrderAcknowledged(state.order_id, at, f"{exec_id}:ack", report.venue_order_id))
    if pending is not None and pending.kind is RequestKind.REPLACE and report.cl_ord_id == pending.cl_ord_id:
        quantity = report.quantity if report.quantity is not None else pending.quantity
        assert quantity is not None
        limit_price = report.limit_price if report.limit_price is not None else pending.limit_price
        if quantity < current.cum_qty:  # as for a live Replaced report: never more filled than ordered
            add(anomaly("replace_below_cum_qty", f"replaced quantity {quantity} is below cum_qty {current.cum_qty}"))
        else:
            add(ev.OrderReplaced(state.order_id, at, f"{exec_id}:replaced", report.cl_ord_id, quantity, limit_price))
    missed = venue_cum - current.cum_qty
    if missed > 0:
        venue_notional = venue_cum * (report.avg_px or 0)
        implied = (venue_notional - current.notional) / missed
        if venue_cum > current.quantity:
            add(anomaly("overfill", f"the venue has {venue_cum} filled, over {current.quantity}"))
        elif not 0 < implied <= MAX_PRICE:
            add(anomaly("resync_fill_price", f"{missed} missed at an implied price of {implied}"))
        else:
            last_px = implied.quantize(Decimal("1e-8"))  # within MAX_PRICE: 18 digits, never raises
            filled = ev.OrderFilled if venue_cum >= current.quantity else ev.OrderPartiallyFilled
            add(filled(state.order_id, at, f"{exec_id}{RESYNC_FILL_SUFFIX}", missed, last_px))
        # (What could not be booked is for a person; the status is settled all the same.)
    working_there = venue_status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED)
    if current.is_done:
        if working_there and current.status is not OrdStatus.FILLED:
            # The venue works an order the OMS has ended: nothing here will cancel it.
            add(anomaly("live_at_venue", f"the venue still works this order, which is {current.status.value} "
                        "here: cancel it at the venue", key=f"live-at-venue:{current.cl_ord_id}"))  # fmt: skip
        return events
    if venue_status is OrdStatus.CANCELED:
        add(ev.OrderCanceled(state.order_id, at, f"{exec_id}:canceled"))
    elif venue_status is OrdStatus.EXPIRED:
        add(ev.OrderExpired(state.order_id, at, f"{exec_id}:expired"))
    elif venue_status is OrdStatus.DONE_FOR_DAY:
        add(ev.OrderDoneForDay(state.order_id, at, f"{exec_id}:done_for_day"))
    elif working_there and current.pending is not None:
        still = current.pending
        if report.asked_after == still.cl_ord_id and report.cl_ord_id == current.cl_ord_id != still.cl_ord_id:
            # The venue works the order as it was: our request, sent again before this question,
            # was not applied. Say so, and the order works on.
            text = (f"the venue still works the order under ClOrdID {current.cl_ord_id}: the {still.kind.value} "
                    f"{still.cl_ord_id} was not applied there")  # fmt: skip
            refused = ev.OrderCancelRejected if still.kind is RequestKind.CANCEL else ev.OrderReplaceRejected
            add(refused(state.order_id, at, still.cl_ord_id, current.cl_ord_id, "not_applied_at_venue", text))
    return events


NOT_AT_VENUE = "not_at_venue"


def _unknown_at_venue(state: OrderState, asked_after: str | None, add, anomaly, at: int, exec_id: str) -> None:
    """The venue answers that it does not know the order."""
    if state.is_done:
        return  # nothing left to lose (a venue forgets ended orders)
    if state.acknowledged:
        add(anomaly("unknown_at_venue", "the venue no longer knows this order; it is not working there"))
        add(ev.OrderCanceled(state.order_id, at, f"{exec_id}:canceled"))
        return
    pending = state.pending
    resent = asked_after is not None and asked_after in (state.cl_ord_id, pending.cl_ord_id if pending else None)
    if not resent:
        # A bare question may have overtaken the order on its way: note it (once); the next resync
        # sends the order again before it asks.
        noted = f"{NOT_AT_VENUE}:{state.cl_ord_id}"  # the same whatever the answer's ExecID
        if noted not in state.exec_ids:
            add(anomaly(NOT_AT_VENUE, "the venue does not know the order yet: it is sent again", key=noted))
        return
    if pending is not None and pending.kind is RequestKind.CANCEL:
        add(anomaly("never_reached_venue", "the venue does not know the order even sent again: it never reached "
                    "the venue, and is canceled as asked"))  # fmt: skip
        add(ev.OrderCanceled(state.order_id, at, f"{exec_id}:canceled"))
        return
    text = "the venue does not know the order even sent again: it never reached the venue"
    add(ev.OrderVenueRejected(state.order_id, at, f"{exec_id}:{NOT_AT_VENUE}", text))
