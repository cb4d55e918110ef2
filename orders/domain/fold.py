"""The fold: `apply(state, event) -> state` and `replay(events) -> state`.

`apply` is total over the transition table: it checks the table first and raises
`InvalidTransition` for a pair the table does not allow, so a log can only ever hold
histories that the state machine permits. It never looks at the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import singledispatch
from typing import Any

from . import events as ev
from .fast_build import evolver, positional_builder
from .state import ZERO, OrderState, PendingRequest, refusal_key, working_status
from .transitions import SAME, WORKING, target_of
from .values import OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce


def apply(state: OrderState | None, event: ev.Event) -> OrderState:
    event_type = type(event)
    target = target_of(state.status if state else None, event_type)
    if state is None:
        return _create(event)
    changes = _CHANGES_BY_TYPE[event_type](event, state)
    changes["status"] = _resolve(target, state, changes, event)
    changes["version"] = state.version + 1
    changes["updated_at_ns"] = event.at_ns
    # One copy per event, the replay's inner loop: `dataclasses.replace(state, **changes)`, built
    # without the frozen __init__'s per-field object.__setattr__ (fast_build.py), ~5x faster.
    return _evolve_state(state, changes)


def replay(events: Iterable[ev.Event]) -> OrderState | None:
    state: OrderState | None = None
    for event in events:
        state = apply(state, event)
    return state


def _resolve(target: object, before: OrderState, changes: dict[str, Any], event: ev.Event) -> OrdStatus:
    if target == SAME:
        return before.status
    if target == WORKING:
        if isinstance(event, (ev.OrderCancelRejected, ev.OrderReplaceRejected)) and not _answers_pending(before, event):
            return before.status  # it refused some other request: the pending one still stands
        return working_status(
            changes.get("acknowledged", before.acknowledged),
            changes.get("cum_qty", before.cum_qty),
            changes.get("quantity", before.quantity),
        )
    assert isinstance(target, OrdStatus)
    return target


def _answers_pending(state: OrderState, event: ev.OrderCancelRejected | ev.OrderReplaceRejected) -> bool:
    """A refusal resolves the pending request only if it names it: same ClOrdID and same kind
    (a cancel's refusal never drops a pending replace, whatever ClOrdID it carries)."""
    kind = RequestKind.CANCEL if isinstance(event, ev.OrderCancelRejected) else RequestKind.REPLACE
    pending = state.pending
    return pending is not None and pending.cl_ord_id == event.cl_ord_id and pending.kind is kind


def _create(event: ev.Event) -> OrderState:
    if isinstance(event, ev.OrderAccepted):
        return _new_state(
            event.order_id, event.account, event.cl_ord_id, event.symbol, event.side, event.order_type,
            event.time_in_force, event.quantity, event.limit_price, OrdStatus.PENDING_NEW, event.at_ns, event.at_ns,
            reject_reason=None, text="", venue=event.venue, parent_id=event.parent_id, strategy=event.strategy,
        )  # fmt: skip
    assert isinstance(event, ev.OrderRejected)
    return _new_state(
        event.order_id, event.account, event.cl_ord_id, event.symbol, event.side, event.order_type,
        event.time_in_force, event.quantity, event.limit_price, OrdStatus.REJECTED, event.at_ns, event.at_ns,
        reject_reason=event.reason, text=event.text, venue=None, parent_id=None, strategy=None,
    )  # fmt: skip


_build_state = positional_builder(OrderState)
_evolve_state = evolver(OrderState)
_NO_FILLS: tuple[tuple[str, Decimal, Decimal], ...] = ()


def _new_state(order_id: int, account: str, cl_ord_id: str, symbol: str, side: Side, order_type: OrderType,
               time_in_force: TimeInForce, quantity: Decimal, limit_price: Decimal | None, status: OrdStatus,
               created_at_ns: int, updated_at_ns: int, *, reject_reason: str | None, text: str, venue: str | None,
               parent_id: int | None, strategy: Strategy | None) -> OrderState:  # fmt: skip
    """A new order's state: OrderState(...) with every other field at its default, built fast."""
    return _build_state(
        order_id, account, cl_ord_id, symbol, side, order_type, time_in_force, quantity, limit_price, status,
        created_at_ns, updated_at_ns, 1, ZERO, ZERO, False, None, reject_reason, text, frozenset(), 0, venue,
        parent_id, strategy, (), None, _NO_FILLS,
    )  # fmt: skip


# `_changes` gives every field an event changes but the status, which `apply` takes from the table.
@singledispatch
def _changes(event: object, state: OrderState) -> dict[str, Any]:
    raise TypeError(f"no fold for {type(event).__name__}")


@_changes.register
def _(event: ev.OrderAcknowledged, state: OrderState) -> dict[str, Any]:
    return dict(
        acknowledged=True,
        exec_ids=state.exec_ids | {event.exec_id},
        venue_order_id=event.venue_order_id or state.venue_order_id,
    )


@_changes.register
def _(event: ev.OrderVenueRejected, state: OrderState) -> dict[str, Any]:
    return dict(
        exec_ids=state.exec_ids | {event.exec_id}, reject_reason="venue_rejected", text=event.text, pending=None
    )


@_changes.register(ev.OrderPartiallyFilled)
@_changes.register(ev.OrderFilled)
def _(event: ev.OrderPartiallyFilled | ev.OrderFilled, state: OrderState) -> dict[str, Any]:
    return dict(
        acknowledged=True,
        cum_qty=state.cum_qty + event.last_qty,
        notional=state.notional + event.last_qty * event.last_px,
        exec_ids=state.exec_ids | {event.exec_id},
        pending=None if isinstance(event, ev.OrderFilled) else state.pending,
        fills=(*state.fills, (event.exec_id, event.last_qty, event.last_px)),
    )


@_changes.register
def _(event: ev.FillBusted, state: OrderState) -> dict[str, Any]:
    return dict(
        cum_qty=state.cum_qty - event.last_qty,
        notional=state.notional - event.last_qty * event.last_px,
        exec_ids=state.exec_ids | {event.exec_id},
        fills=tuple(f for f in state.fills if f[0] != event.ref_exec_id),
    )


@_changes.register
def _(event: ev.FillCorrected, state: OrderState) -> dict[str, Any]:
    return dict(
        cum_qty=state.cum_qty - event.old_last_qty + event.last_qty,
        notional=state.notional - event.old_last_qty * event.old_last_px + event.last_qty * event.last_px,
        exec_ids=state.exec_ids | {event.exec_id},
        fills=tuple((f[0], event.last_qty, event.last_px) if f[0] == event.ref_exec_id else f for f in state.fills),
    )


@_changes.register
def _(event: ev.OrderRestated, state: OrderState) -> dict[str, Any]:
    return dict(
        quantity=event.quantity, limit_price=event.limit_price, exec_ids=state.exec_ids | {event.exec_id},
        text=event.text or state.text,
    )  # fmt: skip


@_changes.register
def _(event: ev.ParentQuantityRaised, state: OrderState) -> dict[str, Any]:
    return dict(quantity=event.quantity, text=event.text)


@_changes.register
def _(event: ev.OrderCancelRequested, state: OrderState) -> dict[str, Any]:
    # An OMS cancel's reason (the close's) shows on the order, where the trader looks.
    return dict(pending=PendingRequest(RequestKind.CANCEL, event.cl_ord_id), text=event.text or state.text)


@_changes.register
def _(event: ev.OrderReplaceRequested, state: OrderState) -> dict[str, Any]:
    return dict(pending=PendingRequest(RequestKind.REPLACE, event.cl_ord_id, event.quantity, event.limit_price))


@_changes.register(ev.OrderCancelRejected)
@_changes.register(ev.OrderReplaceRejected)
def _(event: ev.OrderCancelRejected | ev.OrderReplaceRejected, state: OrderState) -> dict[str, Any]:
    refused = state.exec_ids | {refusal_key(event.cl_ord_id)}
    if _answers_pending(state, event):
        return {"pending": None, "exec_ids": refused}
    return {"exec_ids": refused}


@_changes.register
def _(event: ev.OrderCanceled, state: OrderState) -> dict[str, Any]:
    return dict(pending=None, exec_ids=state.exec_ids | {event.exec_id})


@_changes.register
def _(event: ev.OrderReplaced, state: OrderState) -> dict[str, Any]:
    return dict(
        cl_ord_id=event.cl_ord_id,
        quantity=event.quantity,
        limit_price=event.limit_price,
        acknowledged=True,
        pending=None,
        exec_ids=state.exec_ids | {event.exec_id},
    )


@_changes.register(ev.OrderExpired)
def _(event: ev.OrderExpired, state: OrderState) -> dict[str, Any]:
    return dict(pending=None, exec_ids=state.exec_ids | {event.exec_id}, text=event.text or state.text)


@_changes.register(ev.OrderDoneForDay)
def _(event: ev.OrderDoneForDay, state: OrderState) -> dict[str, Any]:
    return dict(pending=None, exec_ids=state.exec_ids | {event.exec_id})


@_changes.register
def _(event: ev.OrderRouted, state: OrderState) -> dict[str, Any]:
    return dict(children=state.children + tuple(child.order_id for child in event.children))


@_changes.register
def _(event: ev.ParentReplaced, state: OrderState) -> dict[str, Any]:
    # What differs from what was asked is news; a replace done as asked leaves the last note.
    return dict(
        cl_ord_id=event.cl_ord_id,
        quantity=event.quantity,
        limit_price=event.limit_price,
        text=event.text or state.text,
        pending=None,
    )


@_changes.register
def _(event: ev.ExecutionAnomalyRecorded, state: OrderState) -> dict[str, Any]:
    # Its text shows on the order, so a trader sees why without reading the history.
    return dict(anomalies=state.anomalies + 1, exec_ids=state.exec_ids | {event.exec_id}, text=event.text)


@_changes.register(ev.OrderAccepted)
@_changes.register(ev.OrderRejected)
def _(event: object, state: OrderState) -> dict[str, Any]:
    raise AssertionError("creation events start a stream; the table refuses them on an existing order")


# `_changes` dispatched by a dict lookup on the event's exact type: what singledispatch resolves
# to, without its wrapper's cost per event (events are final classes: no subclass to resolve).
_CHANGES_BY_TYPE = {cls: _changes.dispatch(cls) for cls in ev.EVENT_TYPES.values()}
