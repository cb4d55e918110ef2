"""The engine's word, after each commit, of what it routed: how a venue connector hears of the
orders, cancels and replaces to send without reading them back from the log.

After each commit with events, the engine PUBLISHes one notice on `channel()`, in the pipeline
that answers the senders and announces the log position (so after the commit: nothing in a notice
is uncommitted). A notice covers the log positions (after, last] of that commit and carries every
event in them a venue connector sends from (ROUTED_EVENTS), each with its order as the commit left
it (the fields a FIX message and the kill switch checks need) and the kill switches engaged then.

A notice claims: no other event in (after, last] is routed. So a tailer that has handled the log
up to `after` handles the notice's events and moves on to `last` without a read of the log or the
orders table; one that is behind (a notice missed: Redis reconnected, the connector started after
the commit) reads the log from where it is, as without notices (orders/tailer.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from orders import bus, store
from orders.domain.state import OrderState
from risk.domain import KillSwitches, Scope, Switch

ROUTED_EVENTS = ("OrderAccepted", "OrderCancelRequested", "OrderReplaceRequested", "KillSwitchEngaged")
# A commit routing more than this (a burst under load) goes unannounced: the connectors read it from
# the log, where one read takes a thousand events, rather than a notice of a megabyte each.
NOTICE_MAX_EVENTS = 200


def channel() -> str:
    return bus.key("routed")


@dataclass(frozen=True, slots=True)
class RoutedOrder:
    """What the connector needs of an order to send from one of its events: the FIX message's
    fields (the ClOrdID it has at the venue now, what a cancel or replace repeats) and what the
    kill switch checks and the pending cancel answer read."""

    id: int
    account: str
    venue: str  # "" before routing existed
    status: str
    cl_ord_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    limit_price: Decimal | None
    venue_order_id: str  # "" until the venue has said
    pending_kind: str  # "" without a pending request
    pending_cl_ord_id: str

    # The orders table's columns for each field (Order.objects.values(*ROW_FIELDS)), in field order.
    ROW_FIELDS = ("id", "account_id", "venue", "status", "cl_ord_id", "symbol", "side", "order_type", "quantity",
                  "limit_price", "venue_order_id", "pending_kind", "pending_cl_ord_id")  # fmt: skip

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RoutedOrder:
        return cls(*(row[name] for name in cls.ROW_FIELDS))

    @classmethod
    def from_state(cls, state: OrderState) -> RoutedOrder:
        """As the projection writes the order's row (orders/projections.py `order_row`)."""
        pending = state.pending
        return cls(
            state.order_id, state.account, state.venue or "", state.status.value, state.cl_ord_id, state.symbol,
            state.side.value, state.order_type.value, state.quantity, state.limit_price, state.venue_order_id or "",
            pending.kind.value if pending else "", pending.cl_ord_id if pending else "",
        )  # fmt: skip

    def as_json(self) -> list:
        return [self.id, self.account, self.venue, self.status, self.cl_ord_id, self.symbol, self.side,
                self.order_type, str(self.quantity), None if self.limit_price is None else str(self.limit_price),
                self.venue_order_id, self.pending_kind, self.pending_cl_ord_id]  # fmt: skip

    @classmethod
    def from_json(cls, values: list) -> RoutedOrder:
        fields = list(values)
        fields[8] = Decimal(fields[8])
        fields[9] = None if fields[9] is None else Decimal(fields[9])
        return cls(*fields)


@dataclass(frozen=True, slots=True)
class Notice:
    after: int  # the log position before the commit
    last: int  # its last event's
    routed: list[tuple[store.StoredEvent, RoutedOrder | None]]  # None: not an order's (a kill switch)
    switches: KillSwitches  # engaged once the commit was made


def encode(after: int, staged: list[store.StoredEvent], orders: Mapping[int, OrderState],
           switches: Iterable[Switch]) -> bytes | None:  # fmt: skip
    """The notice of a commit of `staged` (positions after `after`), its orders as `orders` hold them
    after the commit; None when nothing was committed."""
    if not staged:
        return None
    routed = []
    for s in staged:
        if s.event_type not in ROUTED_EVENTS:
            continue
        order = orders.get(s.stream_id) if s.stream_type == store.ORDER_STREAM else None
        routed.append([
            [s.position, s.stream_type, s.stream_id, s.stream_version, s.event_type, s.schema_version, s.payload,
             s.account, s.occurred_at_ns, s.recorded_at_ns, s.actor, s.command_id],
            order and RoutedOrder.from_state(order).as_json(),
        ])  # fmt: skip
    engaged = [[s.scope.value, s.target, s.engaged_by, s.reason, s.at_ns] for s in switches] if routed else []
    return orjson.dumps({"after": after, "last": staged[-1].position, "routed": routed, "switches": engaged})


def decode(data: str | bytes) -> Notice:
    """Raises ValueError (or KeyError, TypeError) for what is not a notice."""
    notice = orjson.loads(data)
    routed = [
        (store.StoredEvent(*event), RoutedOrder.from_json(order) if order is not None else None)
        for event, order in notice["routed"]
    ]
    switches = KillSwitches(tuple(
        Switch(Scope(scope), target, engaged_by, reason, at_ns) for scope, target, engaged_by, reason, at_ns
        in notice["switches"]
    ))  # fmt: skip
    return Notice(int(notice["after"]), int(notice["last"]), routed, switches)
