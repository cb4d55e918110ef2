"""An order's state: the fold of its events. Immutable; `fold.apply` returns a new one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .values import OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce

ZERO = Decimal(0)
AVG_PX_QUANTUM = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A cancel or replace sent on and not yet answered."""

    kind: RequestKind
    cl_ord_id: str
    quantity: Decimal | None = None  # replace only
    limit_price: Decimal | None = None  # replace only


@dataclass(frozen=True, slots=True)
class OrderState:
    order_id: int
    account: str
    cl_ord_id: str  # 11 ClOrdID: changes when a replace is applied
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal  # 38 OrderQty
    limit_price: Decimal | None
    status: OrdStatus
    created_at_ns: int
    updated_at_ns: int
    version: int = 1  # number of events folded: the stream version
    cum_qty: Decimal = ZERO  # 14 CumQty
    notional: Decimal = ZERO  # sum of LastQty x LastPx, for avg_px
    acknowledged: bool = False  # the venue has accepted it (or filled it, which implies so)
    pending: PendingRequest | None = None
    reject_reason: str | None = None
    text: str = ""
    exec_ids: frozenset[str] = frozenset()  # venue ExecIDs already applied: duplicates change nothing
    anomalies: int = 0
    venue: str | None = None  # where the order is routed (a parent's children each have their own)
    parent_id: int | None = None  # a child order's parent
    strategy: Strategy | None = None  # a parent order's routing instruction
    children: tuple[int, ...] = ()  # a parent order's children, in the order they were placed
    venue_order_id: str | None = None  # 37 OrderID the venue gave it: status requests and cancels name it
    # (ExecID, LastQty, LastPx) of each fill still standing, so a bust or a correction (150=H/G)
    # can find the fill it names. Not in the projection: only the engine decides on it.
    fills: tuple[tuple[str, Decimal, Decimal], ...] = ()

    @property
    def is_parent(self) -> bool:
        return self.strategy is not None

    @property
    def leaves_qty(self) -> Decimal:
        """151 LeavesQty: what is still open; zero once the order is done."""
        if self.status.is_done:
            return ZERO
        return max(self.quantity - self.cum_qty, ZERO)

    @property
    def avg_px(self) -> Decimal:
        """6 AvgPx: quantity-weighted fill price, zero before the first fill."""
        if not self.cum_qty:
            return ZERO
        return (self.notional / self.cum_qty).quantize(AVG_PX_QUANTUM)

    @property
    def is_done(self) -> bool:
        return self.status.is_done

    def fill(self, exec_id: str) -> tuple[Decimal, Decimal] | None:
        """(LastQty, LastPx) of the standing fill with this ExecID."""
        for booked_exec_id, last_qty, last_px in self.fills:
            if booked_exec_id == exec_id:
                return last_qty, last_px
        return None

    @property
    def working_status(self) -> OrdStatus:
        """The status the order has by its fills alone, ignoring any pending request."""
        return working_status(self.acknowledged, self.cum_qty, self.quantity)


def refusal_key(cl_ord_id: str) -> str:
    """The mark a refusal of request `cl_ord_id` leaves among the order's ExecIDs: a refusal
    has no ExecID of its own, and the same one twice must append nothing."""
    return f"refused:{cl_ord_id}"


def working_status(acknowledged: bool, cum_qty: Decimal, quantity: Decimal) -> OrdStatus:
    if cum_qty >= quantity:
        return OrdStatus.FILLED
    if cum_qty > 0:
        return OrdStatus.PARTIALLY_FILLED
    return OrdStatus.NEW if acknowledged else OrdStatus.PENDING_NEW
