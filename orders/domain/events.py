"""Events: what happened to an order, past tense, immutable, appended to the log.

Every event names its order (`order_id`) and the time of the command that caused it
(`at_ns`, UTC nanoseconds). Quantities and prices are Decimal. The event's schema version
lives in `SCHEMA_VERSIONS` (see serialization.py for how old versions are upcast).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .values import OrderType, Side, Strategy, TimeInForce


@dataclass(frozen=True, slots=True)
class RiskCheckRecord:
    """What the pre-trade checks saw when they let an order through: the reference price and its
    age (compliance reconstructs the price band decision from them) and the price its open
    quantity counts at in the limits (its limit; for a market order, the far touch plus collar)."""

    reference_price: Decimal | None
    reference_age_ms: int | None
    valued_at: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The OMS took the order: it passed the pre-trade checks and is routed to `venue`, where
    it awaits the venue's answer (pending_new). The venue connector sends it on only once this
    event is committed. (v1 had no venue: those orders were never routed; v2 did not record what
    the risk checks saw.)"""

    order_id: int
    at_ns: int
    account: str
    cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    venue: str | None = None  # None for a parent order, which its children carry to venues
    parent_id: int | None = None  # set on a child order: the parent it works for
    strategy: Strategy | None = None  # set on a parent order: how its children are placed
    risk: RiskCheckRecord | None = None  # None on a child order: its parent was checked


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The OMS refused the order before routing it (pre-trade checks); it exists, as rejected.
    `details`: the inputs the failing check saw (the limit, the usage before, what the order would
    have added, the reference and its age), name -> plain decimal text. (v1 had none.)"""

    order_id: int
    at_ns: int
    account: str
    cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    reason: str
    text: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OrderAcknowledged:
    """The venue accepted the order (ExecType 0 New). `venue_order_id` is the venue's 37 OrderID,
    which status requests and cancels then name the order by (v1 did not keep it)."""

    order_id: int
    at_ns: int
    exec_id: str
    venue_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderVenueRejected:
    """The venue rejected the order (ExecType 8 Rejected)."""

    order_id: int
    at_ns: int
    exec_id: str
    text: str


@dataclass(frozen=True, slots=True)
class OrderPartiallyFilled:
    """A fill (ExecType F Trade) that leaves quantity open."""

    order_id: int
    at_ns: int
    exec_id: str
    last_qty: Decimal
    last_px: Decimal


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """The fill (ExecType F Trade) that completes the order's quantity."""

    order_id: int
    at_ns: int
    exec_id: str
    last_qty: Decimal
    last_px: Decimal


@dataclass(frozen=True, slots=True)
class OrderCancelRequested:
    """A cancel asked of the venue. `text` (58) says why when the OMS asks on its own (the close
    sweep's "canceled at the close..."); empty for a client's cancel. (v1 had none.)"""

    order_id: int
    at_ns: int
    cl_ord_id: str
    orig_cl_ord_id: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class OrderCancelRejected:
    """A cancel refused: too late (by the OMS) or by the venue (35=9).

    It resolves the pending cancel only when `cl_ord_id` is that request's ClOrdID; a
    refusal of some other request (a second cancel while one is pending) changes nothing.
    `details`: what the pre-trade check that refused it saw (the message rate), as on
    OrderRejected; empty for other refusals. (v1 had none.)
    """

    order_id: int
    at_ns: int
    cl_ord_id: str
    orig_cl_ord_id: str
    reason: str
    text: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    """The venue canceled the order (ExecType 4), asked for or not."""

    order_id: int
    at_ns: int
    exec_id: str


@dataclass(frozen=True, slots=True)
class OrderReplaceRequested:
    order_id: int
    at_ns: int
    cl_ord_id: str
    orig_cl_ord_id: str
    quantity: Decimal
    limit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderReplaceRejected:
    """A replace refused, by the OMS or the venue; resolves the pending replace as above.
    `details`: what the pre-trade check that refused it saw, as on OrderRejected. (v1 had none.)"""

    order_id: int
    at_ns: int
    cl_ord_id: str
    orig_cl_ord_id: str
    reason: str
    text: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OrderReplaced:
    """The venue applied the replace (ExecType 5): the order now has the new ClOrdID, size and price."""

    order_id: int
    at_ns: int
    exec_id: str
    cl_ord_id: str
    quantity: Decimal
    limit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderExpired:
    """The order's time in force ran out (ExecType C), e.g. the unfilled rest of an IOC, or a DAY
    order at its venue's close (the venue said so, or the OMS did for it: `text` tells which)."""

    order_id: int
    at_ns: int
    exec_id: str
    text: str = ""  # 58 Text: the venue's, or the OMS's when it expired the order itself


@dataclass(frozen=True, slots=True)
class OrderDoneForDay:
    """The venue is done with the order for today (ExecType 3): no more fills today."""

    order_id: int
    at_ns: int
    exec_id: str


@dataclass(frozen=True, slots=True)
class FillBusted:
    """The venue cancelled an earlier trade (ExecType H Trade Cancel, 19 ExecRefID names it):
    the fill never happened. Its quantity comes off cum_qty and the position; the order works
    again if the fill had completed it."""

    order_id: int
    at_ns: int
    exec_id: str
    ref_exec_id: str  # the busted fill's ExecID
    last_qty: Decimal  # what the busted fill had booked, for the audit trail
    last_px: Decimal
    text: str


@dataclass(frozen=True, slots=True)
class FillCorrected:
    """The venue corrected an earlier trade (ExecType G Trade Correct): the fill named by
    `ref_exec_id` is now `last_qty` at `last_px` instead of `old_last_qty` at `old_last_px`."""

    order_id: int
    at_ns: int
    exec_id: str
    ref_exec_id: str
    last_qty: Decimal
    last_px: Decimal
    old_last_qty: Decimal  # what the fill had booked: the fold needs no other record of it
    old_last_px: Decimal
    text: str


@dataclass(frozen=True, slots=True)
class OrderRestated:
    """The venue changed the order on its own (ExecType D Restated, 378 ExecRestatementReason in
    the text): its quantity and limit price are now these."""

    order_id: int
    at_ns: int
    exec_id: str
    quantity: Decimal
    limit_price: Decimal | None
    text: str


@dataclass(frozen=True, slots=True)
class ParentQuantityRaised:
    """A parent's children executed more than the parent's quantity (a cut the venue refused as
    too late, then filled): the parent's quantity grows to what really executed. A fill that
    happened is never dropped from any level."""

    order_id: int
    at_ns: int
    quantity: Decimal
    text: str


@dataclass(frozen=True, slots=True)
class RoutedChild:
    """One child order the router placed: which order, where, how much."""

    order_id: int
    venue: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderRouted:
    """The smart order router placed (part of) a parent order: its children and why so.

    Recorded on the parent's stream before the children's own OrderAccepted events."""

    order_id: int
    at_ns: int
    strategy: Strategy
    children: tuple[RoutedChild, ...]
    text: str  # the router's reasoning, for the trader and compliance


@dataclass(frozen=True, slots=True)
class ParentReplaced:
    """A parent order's replace took effect: its quantity and price are now these.

    A parent replace is pending (OrderReplaceRequested) until every child it was passed on to
    has answered; then the parent takes what its children really did: the quantity asked for,
    or more if a child refused a cut or filled first; the new price only if every working child
    took it. What differs from what was asked, and why, is said in `text`. (Logs written
    before replaces waited for the children hold this event right after the request, on a
    working parent.)"""

    order_id: int
    at_ns: int
    cl_ord_id: str
    orig_cl_ord_id: str
    quantity: Decimal
    limit_price: Decimal | None
    text: str


@dataclass(frozen=True, slots=True)
class ExecutionAnomalyRecorded:
    """A venue report the OMS refused to apply (an overfill, a fill on a rejected order...).

    Kept in the log so it is visible and reconciled by a person; it never changes the order.
    """

    order_id: int
    at_ns: int
    exec_id: str
    reason: str
    text: str


Event = (
    OrderAccepted
    | OrderRejected
    | OrderAcknowledged
    | OrderVenueRejected
    | OrderPartiallyFilled
    | OrderFilled
    | OrderCancelRequested
    | OrderCancelRejected
    | OrderCanceled
    | OrderReplaceRequested
    | OrderReplaceRejected
    | OrderReplaced
    | OrderExpired
    | OrderDoneForDay
    | FillBusted
    | FillCorrected
    | OrderRestated
    | ParentQuantityRaised
    | OrderRouted
    | ParentReplaced
    | ExecutionAnomalyRecorded
)

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        OrderAccepted,
        OrderRejected,
        OrderAcknowledged,
        OrderVenueRejected,
        OrderPartiallyFilled,
        OrderFilled,
        OrderCancelRequested,
        OrderCancelRejected,
        OrderCanceled,
        OrderReplaceRequested,
        OrderReplaceRejected,
        OrderReplaced,
        OrderExpired,
        OrderDoneForDay,
        FillBusted,
        FillCorrected,
        OrderRestated,
        ParentQuantityRaised,
        OrderRouted,
        ParentReplaced,
        ExecutionAnomalyRecorded,
    )
}

FILL_EVENTS = (OrderPartiallyFilled, OrderFilled)
