"""What the engine decides on, rebuilt from the log at start: every order's state and the
ClOrdIDs in use. Changed only by folding events, live or replayed, so the two never differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from orders import store
from orders.domain import cl_ord_ids
from orders.domain import events as ev
from orders.domain.calendar import trading_day
from orders.domain.fold import apply
from orders.domain.state import OrderState


@dataclass
class EngineState:
    orders: dict[int, OrderState] = field(default_factory=dict)
    # (account, trading day, ClOrdID) -> (order id, what it names: "order", "cancel" or
    # "replace"). One map: FIX wants a ClOrdID unique across orders and their requests.
    cl_ord_ids: dict[tuple[str, date, str], tuple[int, str]] = field(default_factory=dict)
    last_position: int = 0
    last_order_id: int = 0

    def fold(self, stored: store.StoredEvent, zone: str) -> None:
        """One event from the log (replay)."""
        event = stored.event
        self.orders[event.order_id] = apply(self.orders.get(event.order_id), event)
        self.last_position = stored.position
        self.last_order_id = max(self.last_order_id, event.order_id)
        self.claim(stored.account, event, zone)

    def claim(self, account: str, event: ev.Event, zone: str) -> None:
        """Note the ClOrdID `event` introduces, if any."""
        cl_ord_id = cl_ord_ids.introduced(event)
        if cl_ord_id is not None:
            key = (account, trading_day(event.at_ns, zone), cl_ord_id)
            self.cl_ord_ids.setdefault(key, (event.order_id, cl_ord_ids.named_by(event)))

    def claimed(self, account: str, cl_ord_id: str, at_ns: int, zone: str) -> tuple[int, str] | None:
        """(order id, what it names) of the ClOrdID `account` used today, or the day before if that
        was lately enough to be a retry of the same submission (cl_ord_ids.days_to_check)."""
        days = cl_ord_ids.days_to_check(at_ns, zone)
        found = self.cl_ord_ids.get((account, days[0], cl_ord_id))
        if found is None and len(days) > 1:
            found = self.cl_ord_ids.get((account, days[1], cl_ord_id))
            order = self.orders.get(found[0]) if found else None
            if order is None or order.created_at_ns < at_ns - cl_ord_ids.RETRY_WINDOW_NS:
                return None
        return found
