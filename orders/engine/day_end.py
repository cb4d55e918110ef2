"""The close, as the OMS sees it: DAY orders the venue left open expire (ExpireDayOrders). Pure,
like the other handlers: the engine's state, its inputs and the command in; the answer and the
events out.

The venue expires its DAY orders at its close and reports each (150=C); the OMS's sweep comes a
grace period later (tradingday/services.py) for what it did not report: an order the venue lost,
a report lost on the way, a venue that does not expire at all. Each expiry says it was the OMS's.
Only orders taken before the close are touched: a DAY order taken after it is the next day's.
GTC (and IOC, FOK: done at once anyway) orders are left alone. A DAY parent expires with its
children: those at this venue expire, and the parent rolls up as for any child report; once its
last child is done it expires too. A parent with no live child (never routed, or every child done)
expires at the first close after it was taken. Run twice, the second run finds nothing open: it
books nothing twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain import parents
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import TimeInForce
from orders.engine.decisions import Decision, Inputs, Outcome
from orders.engine.state import EngineState

OMS_EXPIRY_TEXT = "expired at the close by the OMS: the venue did not report it"


def expire_day_orders(state: EngineState, inputs: Inputs, command: cmd.ExpireDayOrders) -> Decision:
    if command.venue not in inputs.reference.all_venues:
        return Outcome("error", reason="unknown_venue", text=f"no venue {command.venue!r}"), []
    text = f"{OMS_EXPIRY_TEXT} ({command.venue} closed trading day {command.trading_day})"
    exec_id = f"close:{command.venue}:{command.trading_day}"
    at = command.received_at_ns
    events: list[Any] = []
    expired = 0
    for order_id in sorted(state.live):  # in order: the same events live and on replay
        order = state.orders[order_id]
        if order.time_in_force is not TimeInForce.DAY or order.created_at_ns >= command.close_at_ns:
            continue
        if order.is_parent:
            found = _expire_children(state, order, command, at, exec_id, text)
            expired += sum(isinstance(e, ev.OrderExpired) and e.order_id != order_id for e in found)
            events += found
        elif order.venue in (command.venue, None):
            events.append(ev.OrderExpired(order_id, at, exec_id, text))
            expired += 1
    if not events:
        return Outcome("no_change", text=f"no DAY order open at {command.venue} from before its close"), []
    return Outcome("accepted", text=f"{expired} DAY order(s) expired at {command.venue}'s close"), events


def _expire_children(
    state: EngineState, parent: OrderState, command: cmd.ExpireDayOrders, at: int, exec_id: str, text: str
) -> list[ev.Event]:
    """The parent's children at this venue expire, each rolled up onto the parent in turn."""
    orders = {c: state.orders[c] for c in parent.children if c in state.orders}
    if all(child.is_done for child in orders.values()):
        return [ev.OrderExpired(parent.order_id, at, exec_id, f"{text}; it had no working child order")]
    events: list[ev.Event] = []
    current = parent
    for child_id, child in sorted(orders.items()):
        if child.is_done or child.venue != command.venue or child.created_at_ns >= command.close_at_ns:
            continue
        expiry = ev.OrderExpired(child_id, at, exec_id, text)
        after = apply(child, expiry)
        orders[child_id] = after
        rolled = parents.roll_up(current, after, [expiry], orders, at, before=child)
        # A child ending at the close is what DAY means, not a venue losing it: no anomaly.
        rolled = [e for e in rolled if not (isinstance(e, ev.ExecutionAnomalyRecorded) and e.reason == "child_ended")]
        rolled = [_with_text(e, parent, text) for e in rolled]
        for event in rolled:
            if event.order_id == parent.order_id:
                current = apply(current, event)
            else:  # roll_up may ask another child to do something: it is that child's now
                orders[event.order_id] = apply(orders[event.order_id], event)
        events += [expiry, *rolled]
    return events


def _with_text(event: ev.Event, parent: OrderState, text: str) -> ev.Event:
    if isinstance(event, ev.OrderExpired) and event.order_id == parent.order_id and not event.text:
        return dataclasses.replace(event, text=f"{text}; its child orders expired")
    return event
