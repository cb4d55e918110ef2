"""The close, as the OMS sees it: what to do with the DAY orders a venue left working
(ExpireDayOrders). Pure, like the other handlers: the engine's state, its inputs and the command
in; the answer and the events out.

The venue expires its DAY orders at its close and reports each (150=C); the OMS's sweep comes a
grace period later (tradingday/services.py) for what it still shows working there: a report lost
on the way, a venue that does not expire at all. The OMS never declares such an order over on its
own word, since the venue might still work it and fill it: it asks the venue to cancel it (an
`OrderCancelRequested` with ClOrdID `EOD-<id>` and a text saying why, sent by the connector like
any cancel) and the venue's answer ends it (canceled; expired when the venue says it already
expired it, or when it does not know the order at all: orders/domain/decide.py). Only what never
reached a venue is expired here at once: a DAY order never routed, and a parent with no working
child; and what no cancel could ever reach: the orders at a venue made inactive (the connector
has no session to it), with a text saying to confirm with the venue.

An order with a request pending (its own cancel, a replace, the kill switch's cancel) is left to
that request's answer: the sweep comes again every minute until nothing of the day is left
working, and then cancels what a replace's answer left working. A second sweep finds the first's
cancels pending and sends nothing twice. A venue that is down gets the cancels when it is back, as
any cancel (the connector's tailer waits, holding its place): until then the order shows pending
cancel, which is the truth, never expired while the venue may still fill it.

Only orders taken before the close are touched: a DAY order taken after it is the next day's. GTC
(and IOC, FOK: done at once anyway) orders are left alone. A DAY parent's children at this venue
are canceled one by one (not the parent: its children elsewhere close with their own venue); the
parent ends as its children do, once the last is done.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from orders.domain import close, parents
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.calendar import trading_day
from orders.domain.decide import decide
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import TimeInForce
from orders.engine.decisions import Decision, Inputs, Outcome
from orders.engine.state import EngineState


def expire_day_orders(state: EngineState, inputs: Inputs, command: cmd.ExpireDayOrders) -> Decision:
    if command.venue not in inputs.reference.all_venues:
        return Outcome("error", reason="unknown_venue", text=f"no venue {command.venue!r}"), []
    where = f"{command.venue} closed trading day {command.trading_day}"
    exec_id = f"close:{command.venue}:{command.trading_day}"
    at = command.received_at_ns
    events: list[Any] = []
    expired = canceled = waiting = 0
    # An inactive venue has no session: nothing would ever carry a cancel to it (the connector does
    # not route there), so its orders expire here, saying the venue could not be asked.
    reachable = command.venue in inputs.reference.venues
    unreachable_text = f"{close.UNREACHABLE_TEXT} ({where})"
    for order_id in sorted(state.live):  # in order: the same events live and on replay
        order = state.orders[order_id]
        if order.time_in_force is not TimeInForce.DAY or order.created_at_ns >= command.close_at_ns:
            continue
        if order.is_parent:
            working = _working_children(state, order, command)
            if all(state.orders[c].is_done for c in order.children if c in state.orders):
                text = f"{close.NEVER_ROUTED_TEXT} ({where}); it had no working child order"
                events.append(ev.OrderExpired(order_id, at, exec_id, text))
                expired += 1
            if not reachable:
                found = _expire_children(state, order, working, at, exec_id, unreachable_text)
                expired += sum(isinstance(e, ev.OrderExpired) and e.order_id != order_id for e in found)
                events += found
                continue
            for child in working:
                asked = _cancel(state, inputs, child, at, where)
                canceled += bool(asked)
                waiting += not asked
                events += asked
        elif order.venue is None:
            events.append(ev.OrderExpired(order_id, at, exec_id, f"{close.NEVER_ROUTED_TEXT} ({where})"))
            expired += 1
        elif order.venue == command.venue and not reachable:
            events.append(ev.OrderExpired(order_id, at, exec_id, unreachable_text))
            expired += 1
        elif order.venue == command.venue:
            asked = _cancel(state, inputs, order, at, where)
            canceled += bool(asked)
            waiting += not asked
            events += asked
    told = f"{canceled} DAY order(s) asked to cancel at {command.venue}, {expired} expired in the OMS"
    if waiting:
        told += f", {waiting} waiting for the venue's answer to a request pending"
    if not events:
        if waiting:
            return Outcome("no_change", reason=close.WAITING, text=told), []
        return Outcome("no_change", text=f"no DAY order open at {command.venue} from before its close"), []
    return Outcome("accepted", text=told), events


def _working_children(state: EngineState, parent: OrderState, command: cmd.ExpireDayOrders) -> list[OrderState]:
    """The parent's children still working at this venue, taken before its close."""
    children = (state.orders[c] for c in parent.children if c in state.orders)
    return [c for c in children if not c.is_done and c.venue == command.venue and c.created_at_ns < command.close_at_ns]


def _cancel(state: EngineState, inputs: Inputs, order: OrderState, at_ns: int, where: str) -> list[Any]:
    """The close's cancel request for one order at the venue; nothing while a request of the order
    is pending (its answer comes first: a second cancel would only be refused)."""
    if order.pending is not None:
        return []
    day = trading_day(at_ns, inputs.zone)
    number = 1
    while (order.account, day, close.cancel_cl_ord_id(order.order_id, number)) in state.cl_ord_ids:
        number += 1  # a client took it, or an earlier sweep's cancel the venue refused
    cl_ord_id = close.cancel_cl_ord_id(order.order_id, number)
    request = cmd.CancelOrder("", at_ns, "system:close", order.account, order.order_id, cl_ord_id, order.cl_ord_id)
    asked = decide(order, request)
    if len(asked) != 1 or not isinstance(asked[0], ev.OrderCancelRequested):
        return []
    return [dataclasses.replace(asked[0], text=f"{close.CANCEL_TEXT} ({where})")]


def _expire_children(
    state: EngineState, parent: OrderState, children: list[OrderState], at: int, exec_id: str, text: str
) -> list[ev.Event]:
    """Expire the parent's children (at an unreachable venue), each rolled up onto the parent in turn."""
    orders = {c: state.orders[c] for c in parent.children if c in state.orders}
    events: list[ev.Event] = []
    current = parent
    for child in children:
        expiry = ev.OrderExpired(child.order_id, at, exec_id, text)
        before = orders[child.order_id]
        orders[child.order_id] = after = apply(before, expiry)
        events.append(expiry)
        for event in parents.roll_up(current, after, [expiry], orders, at, before=before):
            if isinstance(event, ev.ExecutionAnomalyRecorded) and event.reason == "child_ended":
                continue  # a child ending at the close is what DAY means, not a venue losing it
            if event.order_id == parent.order_id:
                if isinstance(event, ev.OrderExpired) and not event.text:
                    event = dataclasses.replace(event, text=f"{text}; its child orders expired")
                current = apply(current, event)
            else:  # roll_up may ask another child to do something: it is that child's now
                orders[event.order_id] = apply(orders[event.order_id], event)
            events.append(event)
    return events
