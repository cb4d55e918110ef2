"""Commands: what someone asks the engine to do. Imperative names; the engine decides.

Every command carries `command_id` (unique, for tracing and replies), `received_at_ns`
(UTC nanoseconds, taken at the edge that received it) and `actor` (who sent it:
``user:<name>``, ``fix:<CompID>``, ``venue:<name>`` or ``system``). The engine's decisions
depend only on the command and the current state, never on the wall clock, so a replay
of the log rebuilds exactly the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconciliation.domain.compare import Difference

from .values import ExecType, OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    command_id: str
    received_at_ns: int
    actor: str
    account: str
    cl_ord_id: str  # 11 ClOrdID
    symbol: str  # 55 Symbol
    side: Side  # 54 Side
    quantity: Decimal  # 38 OrderQty
    order_type: OrderType  # 40 OrdType
    time_in_force: TimeInForce  # 59 TimeInForce
    limit_price: Decimal | None = None  # 44 Price
    expires_at_ns: int | None = None  # the sender stops waiting then; a later command is dropped
    venue: str | None = None  # route to this venue (None: the engine's default venue)
    strategy: Strategy | None = None  # set: a parent order, placed by the smart order router
    slices: int | None = None  # how many children, for Strategy.SLICES
    venues: tuple[str, ...] | None = None  # the router may use only these (None: every connected venue)


@dataclass(frozen=True, slots=True)
class CancelOrder:
    command_id: str
    received_at_ns: int
    actor: str
    account: str
    order_id: int
    cl_ord_id: str  # 11 ClOrdID of this cancel request
    orig_cl_ord_id: str  # 41 OrigClOrdID: the order's ClOrdID when the request was made


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    command_id: str
    received_at_ns: int
    actor: str
    account: str
    order_id: int
    cl_ord_id: str  # 11 ClOrdID of the replacement
    orig_cl_ord_id: str  # 41 OrigClOrdID
    quantity: Decimal | None = None  # 38 OrderQty: the new total quantity, fills included
    limit_price: Decimal | None = None  # 44 Price
    expires_at_ns: int | None = None


@dataclass(frozen=True, slots=True)
class ApplyExecutionReport:
    """A venue's ExecutionReport (35=8) about one of our orders."""

    command_id: str
    received_at_ns: int
    actor: str
    order_id: int
    exec_id: str  # 17 ExecID, unique per venue: the deduplication key
    exec_type: ExecType  # 150 ExecType
    last_qty: Decimal = Decimal(0)  # 32 LastQty
    last_px: Decimal = Decimal(0)  # 31 LastPx
    cl_ord_id: str | None = None  # 11 ClOrdID the report answers (a cancel's or a replace's)
    quantity: Decimal | None = None  # 38 OrderQty after a replace
    limit_price: Decimal | None = None  # 44 Price after a replace
    text: str = ""  # 58 Text
    # The venue's totals for the order as of this report. On a Trade they tell a fill already
    # counted (a resync got there first) from a new one; on an OrderStatus (150=I) answer they
    # are what the OMS reconciles against.
    cum_qty: Decimal | None = None  # 14 CumQty
    avg_px: Decimal | None = None  # 6 AvgPx
    ord_status: OrdStatus | None = None  # 39 OrdStatus
    unknown_order: bool = False  # 103=5: the venue does not know the order (a status answer)
    ref_exec_id: str | None = None  # 19 ExecRefID: the fill a bust or correction (150=H/G) names
    venue_order_id: str | None = None  # 37 OrderID: the venue's name for the order
    # What the report said that the OMS does not know (an ExecType or OrdStatus outside FIX 4.4),
    # as the raw tag=value text: the report becomes an anomaly on the order, for a person.
    unrecognised: str = ""
    # On a status answer: the ClOrdID of what the connector sent again just before asking (790
    # OrdStatusReqID carries it), so the answer already reflects it. None: a bare question, which
    # may have overtaken a request still on its way, so the answer proves nothing about it.
    asked_after: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyCancelReject:
    """A venue's OrderCancelReject (35=9) for a pending cancel or replace."""

    command_id: str
    received_at_ns: int
    actor: str
    order_id: int
    cl_ord_id: str  # 11 ClOrdID of the refused request
    reason: str  # 102 CxlRejReason, as a snake-case name
    text: str = ""  # 58 Text
    response_to: RequestKind | None = None  # 434 CxlRejResponseTo: a cancel's refusal or a replace's


@dataclass(frozen=True, slots=True)
class ChangeRiskLimits:
    """Set limits of an account (or its overrides for one symbol). `changes`: (limit name, new
    value as decimal text, or None for no limit). The edge checked that `actor` may."""

    command_id: str
    received_at_ns: int
    actor: str
    account: str
    symbol: str | None
    changes: tuple[tuple[str, str | None], ...]
    reason: str


@dataclass(frozen=True, slots=True)
class ChangeInstrumentRisk:
    """Set an instrument's controls: price_band_pct, max_reference_age_s (decimal text or None for
    the asset class default), restricted ("true" / "false")."""

    command_id: str
    received_at_ns: int
    actor: str
    symbol: str
    changes: tuple[tuple[str, str | None], ...]
    reason: str


@dataclass(frozen=True, slots=True)
class EngageKillSwitch:
    command_id: str
    received_at_ns: int
    actor: str
    scope: str  # firm | account | trader | venue
    target: str | None  # account code, username, venue name; None for the firm
    reason: str


@dataclass(frozen=True, slots=True)
class ReleaseKillSwitch:
    command_id: str
    received_at_ns: int
    actor: str
    scope: str
    target: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RecordReconciliation:
    """What one reconciliation run found at a venue: the engine opens, keeps or clears breaks
    (reconciliation/domain/breaks.py). `accounts`: the accounts whose positions were asked for;
    `orders_checked`: whether the venue's open orders were too. `differences` are those above
    the threshold already."""

    command_id: str
    received_at_ns: int
    actor: str
    venue: str
    run_id: str
    accounts: tuple[str, ...]
    orders_checked: bool
    differences: tuple[Difference, ...]


@dataclass(frozen=True, slots=True)
class ResolveReconciliationBreak:
    """A person resolves an open break: `accept` the venue's figure (a position adjustment is
    booked) or `dismiss` it. The edge checked the role."""

    command_id: str
    received_at_ns: int
    actor: str
    break_id: int
    resolution: str  # accept | dismiss
    reason: str


@dataclass(frozen=True, slots=True)
class ExpireDayOrders:
    """The close of `venue`'s trading day `trading_day` (ISO date) at `close_at_ns`: ask the venue
    to cancel every DAY order routed there, taken before the close, that it left working, and
    expire the DAY orders that never reached a venue (and parents whose children are all done).
    Sent by the close sweep after the close plus a grace period (tradingday/services.py), every
    minute until nothing is left; doing it again sends no cancel twice (orders/engine/day_end.py)."""

    command_id: str
    received_at_ns: int
    actor: str
    venue: str
    trading_day: str  # YYYY-MM-DD: the venue's trading day that closed
    close_at_ns: int  # the close (UTC ns): orders taken at or after it belong to the next day


Command = (
    SubmitOrder
    | CancelOrder
    | ReplaceOrder
    | ApplyExecutionReport
    | ApplyCancelReject
    | ChangeRiskLimits
    | ChangeInstrumentRisk
    | EngageKillSwitch
    | ReleaseKillSwitch
    | RecordReconciliation
    | ResolveReconciliationBreak
    | ExpireDayOrders
)
