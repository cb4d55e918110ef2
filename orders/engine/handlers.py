"""The engine's command handlers: pure functions of the engine's state, its inputs (reference
data, the venues as last heard of, the time the batch is decided at) and one command. Each
answers what to tell the sender and the events to record (orders' and risk controls'); the loop
(orders/engine/loop.py) folds and records them. Nothing here reads a database, Redis or a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from orders.domain import cl_ord_ids, parents, router
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.calendar import trading_day
from orders.domain.decide import decide
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import Strategy, TimeInForce
from orders.engine import controls, day_end, reconciliation
from orders.engine.decisions import Decision, Inputs, Outcome
from orders.engine.state import EngineState
from risk import gate
from risk.domain import Denial

MAX_CHILDREN = 50  # a parent is never re-routed beyond this many children


def handle(state: EngineState, inputs: Inputs, command: cmd.Command) -> Decision:
    outcome, events = HANDLERS[type(command)](state, inputs, command)
    return outcome, unclaimed(state, inputs, events)


# -- submit ---------------------------------------------------------------------------------


def submit(state: EngineState, inputs: Inputs, command: cmd.SubmitOrder) -> Decision:
    existing = state.claimed(command.account, command.cl_ord_id, command.received_at_ns, inputs.zone)
    if existing is not None:
        order_id, named = existing
        if named != "order":
            return _clash(command.cl_ord_id, order_id), []
        return Outcome("duplicate", order_id), []
    if command.expires_at_ns is not None and inputs.now_ns > command.expires_at_ns:
        # The sender has stopped waiting and was told the outcome is unknown; acting now
        # would surprise it. Its retry, with the same ClOrdID, is processed normally.
        return Outcome("expired", text="the command expired before the engine took it"), []
    order_id = state.last_order_id + 1
    if command.strategy is not None:
        # A direct parent names its venue: a switch on that venue halts it. The others may go
        # anywhere the router finds open (halted venues left out).
        direct = command.venue if command.strategy is Strategy.DIRECT else None
        denial, record = gate.check_submit(state, inputs, command, direct)
        return _submit_parent(state, inputs, command, order_id, denial, record)
    venue = command.venue or inputs.reference.default_venue
    denial, record = gate.check_submit(state, inputs, command, venue)
    if denial is None:
        denial = _venue_refusal(inputs, venue)
    command = dataclasses.replace(command, venue=venue)
    events = decide(None, command, new_order_id=order_id, denial=denial)
    if denial is not None:
        return Outcome("rejected", order_id, denial.reason, denial.text), events
    events[0] = dataclasses.replace(events[0], risk=record)
    return Outcome("accepted", order_id), events


def _submit_parent(
    state: EngineState,
    inputs: Inputs,
    command: cmd.SubmitOrder,
    order_id: int,
    denial: Denial | None,
    record: ev.RiskCheckRecord | None,
) -> Decision:
    """A parent order: accepted, routed by the smart order router, and its children created,
    all in one go, so no parent is ever in the log without its routing decision."""
    plan = None
    if denial is None:
        assert command.strategy is not None
        connected = [v for v in connected_venues(state, inputs) if not command.venues or v in command.venues]
        rules = inputs.reference.instruments[command.symbol]
        order = router.Order(command.side, command.quantity, command.limit_price, rules.lot_size,
                             command.strategy, command.venue, command.slices,
                             all_or_none=command.time_in_force is TimeInForce.FOK)  # fmt: skip
        try:
            plan = router.plan(order, connected, inputs.market.books_for(connected, command.symbol))
        except router.RoutingRefused as refused:
            denial = Denial(refused.reason, refused.text)
    events = decide(None, command, new_order_id=order_id, denial=denial)
    if denial is not None or plan is None:
        assert denial is not None
        return Outcome("rejected", order_id, denial.reason, denial.text), events
    events[0] = dataclasses.replace(events[0], risk=record)
    parent = apply(None, events[0])
    children = tuple(ev.RoutedChild(order_id + 1 + i, p.venue, p.quantity) for i, p in enumerate(plan.placements))
    assert command.strategy is not None
    routed = ev.OrderRouted(order_id, command.received_at_ns, command.strategy, children, plan.text)
    events += parents.route(parent, routed)
    return Outcome("accepted", order_id), events


def connected_venues(state: EngineState, inputs: Inputs) -> list[str]:
    """Active venues whose session is logged on now and no kill switch halts, the default first."""
    default = inputs.reference.default_venue
    ordered = sorted(inputs.reference.venues, key=lambda v: (v != default, v))
    halted = state.kill_switches.venue_halted
    return [v for v in ordered if _venue_refusal(inputs, v) is None and halted(v) is None]


def _venue_refusal(inputs: Inputs, venue: str | None) -> Denial | None:
    """Fail closed: an order goes only to a configured venue whose session is logged on now."""
    if venue is None:
        return Denial("no_venue", "no venue given and no default venue is configured")
    if venue not in inputs.reference.venues:
        return Denial("unknown_venue", f"unknown or inactive venue {venue!r}")
    why = inputs.market.session_refusal(venue, inputs.now_ns)
    return Denial("venue_unavailable", why) if why else None


# -- cancel and replace ---------------------------------------------------------------------


def request(state: EngineState, inputs: Inputs, command: cmd.CancelOrder | cmd.ReplaceOrder) -> Decision:
    order = state.orders.get(command.order_id)
    if order is None or order.account != command.account:
        return Outcome("error", reason="unknown_order", text=f"no order {command.order_id}"), []
    if order.parent_id is not None:
        # A child works for its parent's instruction: changing it alone would take the parent
        # past its own quantity or limit. Cancel or replace the parent; the children follow.
        text = f"order {order.order_id} is a child of order {order.parent_id}: cancel or replace the parent"
        return Outcome("rejected", order.order_id, "child_order", text), []
    claimed = state.claimed(command.account, command.cl_ord_id, command.received_at_ns, inputs.zone)
    if claimed is not None:
        order_id, named = claimed
        kind = "cancel" if isinstance(command, cmd.CancelOrder) else "replace"
        if named == kind and order_id == command.order_id:
            return Outcome("duplicate", order_id), []  # a retry of this request
        return _clash(command.cl_ord_id, order_id), []
    if isinstance(command, cmd.ReplaceOrder):
        if command.expires_at_ns is not None and inputs.now_ns > command.expires_at_ns:
            return Outcome("expired", command.order_id), []
        denial = gate.check_replace(state, inputs, order, command)
    else:
        denial = gate.check_cancel(state, inputs, order, command)
    events = decide(order, command, denial=denial)
    if not events:  # a retry of the request already pending
        return Outcome("duplicate", order.order_id), []
    if order.is_parent:  # passed on to the children
        first = events[0]
        if isinstance(first, ev.OrderCancelRequested):
            events = parents.cancel(order, first, state.orders)
        elif isinstance(first, ev.OrderReplaceRequested):
            events = parents.replace(order, first, state.orders)
    return _outcome_of(events[:1], order.order_id), events


# -- venue reports --------------------------------------------------------------------------


def report(state: EngineState, inputs: Inputs, command: cmd.ApplyExecutionReport | cmd.ApplyCancelReject) -> Decision:
    order = state.orders.get(command.order_id)
    if order is None:
        return Outcome("error", reason="unknown_order", text=f"no order {command.order_id}"), []
    events = decide(order, command)
    if not events:
        return Outcome("no_change", order.order_id, text="already applied"), []
    outcome = _outcome_of(events, order.order_id)
    parent = state.orders.get(order.parent_id) if order.parent_id is not None else None
    if parent is not None:
        child = order
        for event in events:
            child = apply(child, event)
        at = command.received_at_ns
        rolled = parents.roll_up(parent, child, events, state.orders, at, before=order)
        events = events + rolled + _reroute(state, inputs, parent, child, rolled, events, at)
    return outcome, events + controls.sweep(state, inputs, events, command.received_at_ns)


def _reroute(
    state: EngineState,
    inputs: Inputs,
    parent: OrderState,
    lost: OrderState,
    rolled: list[ev.Event],
    events: list[ev.Event],
    at_ns: int,
) -> list[ev.Event]:
    """Place again what a child the venue ended unasked no longer works (the venue lost it),
    through the router over the venues still connected: a split or sliced parent asked for
    liquidity, not for that venue. A direct parent was told where to go: it is only noted.
    `lost`: the child as the venue's report left it (ended, its missed fills booked)."""
    ended = any(isinstance(e, ev.ExecutionAnomalyRecorded) and e.reason == "child_ended" for e in rolled)
    if not ended or parent.strategy not in (Strategy.SPLIT, Strategy.SLICES):
        return []
    if len(parent.children) >= MAX_CHILDREN:
        return []  # a venue that keeps losing orders does not get to multiply them
    if state.kill_switches.halting(parent.account, state.traders.get(parent.order_id), None) is not None:
        return []  # halted: nothing new goes out for it (the switch's cancel follows, controls.sweep)
    current = parent
    for event in rolled:
        current = apply(current, event)
    # Within the venues the parent was placed at (it may have been limited to them), the one
    # that lost the child last.
    used = {state.orders[c].venue for c in parent.children if c in state.orders}
    usable = [v for v in connected_venues(state, inputs) if v in used]
    connected = [v for v in usable if v != lost.venue] or usable
    rules = inputs.reference.instruments.get(parent.symbol)
    if current.is_done or not connected or rules is None:
        return []
    # What the parent has open that no live child works: after the fills the report revealed,
    # never more, so the children never work more than the parent has open.
    children = [lost if c == lost.order_id else state.orders[c] for c in current.children]
    quantity = parents.unworked(current, children)
    if quantity <= 0:
        return []
    order = router.Order(parent.side, quantity, parent.limit_price, rules.lot_size, Strategy.SPLIT)
    try:
        plan = router.plan(order, connected, inputs.market.books_for(connected, parent.symbol))
    except router.RoutingRefused:
        return []
    first = max(state.last_order_id, *(e.order_id for e in events)) + 1
    placed = tuple(ev.RoutedChild(first + i, p.venue, p.quantity) for i, p in enumerate(plan.placements))
    text = f"re-routing the {order.quantity} child {lost.order_id} no longer works at {lost.venue}: {plan.text}"
    return parents.route(current, ev.OrderRouted(parent.order_id, at_ns, parent.strategy, placed, text))


# -- shared ---------------------------------------------------------------------------------


def unclaimed(state: EngineState, inputs: Inputs, events: list[Any]) -> list[Any]:
    """The ClOrdIDs the OMS makes (a child's `<parent>.<n>`, its requests' `<request>.<n>`) can
    be one a client already used today: such a one gets a suffix, so every ClOrdID stays
    unique per account and day (the cl_ord_id_claims table's constraint says so too)."""
    out = []
    for event in events:
        made_here = (isinstance(event, ev.OrderAccepted) and event.parent_id is not None) or (
            isinstance(event, ev.OrderCancelRequested | ev.OrderReplaceRequested)
            and (order := state.orders.get(event.order_id)) is not None
            and order.parent_id is not None
        )
        if made_here:
            assert isinstance(event, ev.OrderAccepted | ev.OrderCancelRequested | ev.OrderReplaceRequested)
            account = event.account if isinstance(event, ev.OrderAccepted) else state.orders[event.order_id].account
            day = trading_day(event.at_ns, inputs.zone)
            candidate, number = event.cl_ord_id, 1
            while (account, day, candidate) in state.cl_ord_ids:
                number += 1
                candidate = cl_ord_ids.with_suffix(event.cl_ord_id, number)
            if candidate != event.cl_ord_id:
                event = dataclasses.replace(event, cl_ord_id=candidate)
        out.append(event)
    return out


def _outcome_of(events: list[ev.Event], order_id: int) -> Outcome:
    last = events[-1]
    if isinstance(last, ev.OrderCancelRejected | ev.OrderReplaceRejected):
        return Outcome("rejected", order_id, last.reason, last.text)
    if isinstance(last, ev.ExecutionAnomalyRecorded):
        return Outcome("anomaly", order_id, last.reason, last.text)
    return Outcome("accepted", order_id)


def _clash(cl_ord_id: str, order_id: int) -> Outcome:
    return Outcome(
        "error",
        reason="duplicate_cl_ord_id",
        text=f"ClOrdID {cl_ord_id} is already used today by order {order_id} or one of its requests",
    )


HANDLERS: dict[type, Callable[[EngineState, Inputs, Any], Decision]] = {
    cmd.SubmitOrder: submit,
    cmd.CancelOrder: request,
    cmd.ReplaceOrder: request,
    cmd.ApplyExecutionReport: report,
    cmd.ApplyCancelReject: report,
    cmd.EngageKillSwitch: controls.engage,
    cmd.ReleaseKillSwitch: controls.release,
    cmd.ChangeRiskLimits: controls.change_limits,
    cmd.ChangeInstrumentRisk: controls.change_instrument,
    cmd.RecordReconciliation: reconciliation.record,
    cmd.ResolveReconciliationBreak: reconciliation.resolve,
    cmd.ExpireDayOrders: day_end.expire_day_orders,
}
