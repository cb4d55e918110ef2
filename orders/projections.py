"""Projection receivers: orders, fills and positions follow the log, batch by batch.

Connected to `events_appended`, so they run inside the transaction that appends the
events (live) or that rebuilds the projections (rebuild_projections). They fold the same
domain code as the engine; they touch only read-model tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.dispatch import receiver

from orders.domain import events as ev
from orders.domain.calendar import trading_day
from orders.domain.fold import apply
from orders.domain.positions import Position as PositionState
from orders.domain.positions import apply_fill
from orders.domain.state import OrderState
from orders.domain.values import Side
from orders.models import Fill, Order, Position, ns_to_datetime
from orders.store import ORDER_STREAM, StoredEvent, events_appended

ORDER_UPDATE_FIELDS = [f.name for f in Order._meta.concrete_fields if not f.primary_key]
POSITION_UPDATE_FIELDS = ["quantity", "avg_cost", "realized_pnl", "bought", "sold", "updated_at"]


@receiver(events_appended, dispatch_uid="orders.project_orders_fills_positions")
def project_orders_fills_positions(sender: object, events: list[StoredEvent], **kwargs: object) -> None:
    order_events = [e for e in events if e.stream_type == ORDER_STREAM]
    if not order_events:
        return
    states = _load_orders(order_events)
    fills: list[Fill] = []
    for stored in order_events:
        event = stored.event
        state = states[stored.stream_id] = apply(states.get(stored.stream_id), event)
        if isinstance(event, ev.FILL_EVENTS):
            fills.append(_fill_row(stored.position, state, event))
    zone = settings.OMS_TRADING_DAY_TZ
    touched = sorted({e.stream_id for e in order_events})
    Order.objects.bulk_create(
        [Order.from_domain(states[i], trading_day(states[i].created_at_ns, zone)) for i in touched],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=ORDER_UPDATE_FIELDS,
    )
    if fills:
        Fill.objects.bulk_create(fills)
        _project_positions(fills)


def _load_orders(order_events: Iterable[StoredEvent]) -> dict[int, OrderState]:
    """The states to fold onto: from the projection, for orders that began in an earlier batch."""
    order_events = list(order_events)
    started_here = {e.stream_id for e in order_events if e.stream_version == 1}
    continuing = {e.stream_id for e in order_events} - started_here
    if not continuing:
        return {}
    return {order.id: order.to_domain() for order in Order.objects.filter(id__in=continuing)}


def _fill_row(position: int, state: OrderState, event: ev.OrderPartiallyFilled | ev.OrderFilled) -> Fill:
    return Fill(
        id=position,
        order_id=state.order_id,
        account_id=state.account,
        symbol=state.symbol,
        side=state.side.value,
        exec_id=event.exec_id,
        last_qty=event.last_qty,
        last_px=event.last_px,
        executed_at=ns_to_datetime(event.at_ns),
    )


def _project_positions(fills: list[Fill]) -> None:
    """Fold the batch's fills, in log order, onto the stored positions they touch."""
    keys = {(f.account_id, f.symbol) for f in fills}
    stored = Position.objects.filter(account_id__in={k[0] for k in keys}, symbol__in={k[1] for k in keys})
    positions = {
        (p.account_id, p.symbol): PositionState(
            p.account_id, p.symbol, p.quantity, p.avg_cost, p.realized_pnl, p.bought, p.sold
        )
        for p in stored
    }
    updated_at = {}
    for fill in fills:
        key = (fill.account_id, fill.symbol)
        current = positions.get(key) or PositionState(*key)
        positions[key] = apply_fill(current, Side(fill.side), fill.last_qty, fill.last_px)
        updated_at[key] = fill.executed_at
    Position.objects.bulk_create(
        [
            Position(
                account_id=key[0],
                symbol=key[1],
                quantity=p.quantity,
                avg_cost=p.avg_cost,
                realized_pnl=p.realized_pnl,
                bought=p.bought,
                sold=p.sold,
                updated_at=updated_at[key],
            )
            for key, p in positions.items()
            if key in keys
        ],
        update_conflicts=True,
        unique_fields=["account", "symbol"],
        update_fields=POSITION_UPDATE_FIELDS,
    )
