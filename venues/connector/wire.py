"""What the venue connector says and hears, as plain translation between the log and FIX 4.4.

Orders are known at a venue by a ClOrdID of our own making, `<order id>:<ClOrdID>`: unique
across accounts (client ClOrdIDs are only unique per account and day), the same every time
the same event is sent again (so the venue's per-session ClOrdID check turns a resend into a
harmless duplicate), and readable back into the order and the client's ClOrdID when the
venue answers, without any lookup table to lose in a crash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import quickfix as fix

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.values import ExecType, OrdStatus
from venues.fix import tables
from venues.fix.messages import Get, market_data_request_message, new_message, set_decimal

ORD_REJ_DUPLICATE = "6"  # 103: the venue has seen this ClOrdID: our resend of something it already has
ORD_REJ_UNKNOWN_ORDER = "5"  # 103 on a status answer: the venue does not know the order
CXL_REJ_DUPLICATE = "6"  # 102


def venue_cl_ord_id(order_id: int, cl_ord_id: str) -> str:
    return f"{order_id}:{cl_ord_id}"


def parse_venue_cl_ord_id(value: str | None) -> tuple[int, str] | None:
    """(order id, client ClOrdID), or None for a ClOrdID that is not one of ours."""
    if not value:
        return None
    head, sep, tail = value.partition(":")
    if not sep or not head.isdigit() or not tail:
        return None
    return int(head), tail


@dataclass(frozen=True)
class OrderRef:
    """What a cancel, replace or status request needs of the order beyond its event."""

    order_id: int
    cl_ord_id: str  # the ClOrdID the order has at the venue now
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    limit_price: Decimal | None


def new_order_single(event: ev.OrderAccepted, *, resend: bool = False) -> fix.Message:
    message = new_message("D")
    _resend(message, resend)
    message.setField(11, venue_cl_ord_id(event.order_id, event.cl_ord_id))
    message.setField(55, event.symbol)
    message.setField(54, tables.SIDE_TO_FIX[event.side])
    set_decimal(message, 38, event.quantity)
    message.setField(40, tables.ORD_TYPE_TO_FIX[event.order_type])
    if event.limit_price is not None:
        set_decimal(message, 44, event.limit_price)
    message.setField(59, tables.TIF_TO_FIX[event.time_in_force])
    message.setField(fix.TransactTime())
    return message


def cancel_request(cl_ord_id: str, orig_cl_ord_id: str, order: OrderRef, *, resend: bool = False) -> fix.Message:
    message = new_message("F")
    _resend(message, resend)
    message.setField(11, venue_cl_ord_id(order.order_id, cl_ord_id))
    message.setField(41, venue_cl_ord_id(order.order_id, orig_cl_ord_id))
    message.setField(55, order.symbol)
    message.setField(54, tables.SIDE_TO_FIX[order.side])  # type: ignore[index]
    set_decimal(message, 38, order.quantity)
    message.setField(fix.TransactTime())
    return message


def replace_request(
    cl_ord_id: str,
    orig_cl_ord_id: str,
    quantity: Decimal,
    limit_price: Decimal | None,
    order: OrderRef,
    *,
    resend: bool = False,
) -> fix.Message:
    message = new_message("G")
    _resend(message, resend)
    message.setField(11, venue_cl_ord_id(order.order_id, cl_ord_id))
    message.setField(41, venue_cl_ord_id(order.order_id, orig_cl_ord_id))
    message.setField(55, order.symbol)
    message.setField(54, tables.SIDE_TO_FIX[order.side])  # type: ignore[index]
    message.setField(40, tables.ORD_TYPE_TO_FIX[order.order_type])  # type: ignore[index]
    set_decimal(message, 38, quantity)
    if limit_price is not None:
        set_decimal(message, 44, limit_price)
    message.setField(fix.TransactTime())
    return message


def status_request(order: OrderRef) -> fix.Message:
    message = new_message("H")
    message.setField(11, venue_cl_ord_id(order.order_id, order.cl_ord_id))
    message.setField(55, order.symbol)
    message.setField(54, tables.SIDE_TO_FIX[order.side])  # type: ignore[index]
    return message


def market_data_request(request_id: str, symbols: list[str], depth: int = 5) -> fix.Message:
    """35=V: subscribe to `depth` levels of the book, and trades, for `symbols`: the router
    splits by the liquidity displayed at or better than a limit, not just at the top."""
    return market_data_request_message(request_id, symbols, market_depth=depth)


def _resend(message: fix.Message, resend: bool) -> None:
    if resend:
        message.setField(97, "Y")  # PossResend: the venue may have it already, under this ClOrdID


# -- what comes back --------------------------------------------------------------------------


class Ignored(Exception):
    """A report with nothing to book: about an order this OMS did not send, or of an ExecType
    that only tells us what we know (150=6 pending cancel, say). Logged, not booked."""


@dataclass(frozen=True)
class Duplicate:
    """The venue refused a resend because it has the original: nothing to book; ask its status."""

    order_id: int


def _decimal(get: Get, tag: int) -> Decimal | None:
    raw = get(tag)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def execution_report(venue: str, get: Get) -> cmd.ApplyExecutionReport | Duplicate:
    """35=8 as the engine command that books it. Raises Ignored."""
    parsed = parse_venue_cl_ord_id(get(11))
    if parsed is None:
        raise Ignored(f"ClOrdID {get(11)!r} is not one of ours")
    order_id, cl_ord_id = parsed
    exec_type = tables.EXEC_TYPE_FROM_FIX.get(get(150) or "")
    if exec_type is None:
        raise Ignored(f"ExecType {get(150)!r} books nothing")
    ord_status = tables.ORD_STATUS_FROM_FIX.get(get(39) or "")
    if exec_type is ExecType.REJECTED and get(103) == ORD_REJ_DUPLICATE:
        return Duplicate(order_id)
    venue_order_id = get(37) or "NONE"
    cum_qty = _decimal(get, 14)
    if exec_type is ExecType.ORDER_STATUS:
        # A status answer has no ExecID of its own worth keeping: name it by what it says, so
        # the same answer twice is one reconciliation.
        exec_id = f"{venue}:status:{venue_order_id}:{cum_qty}:{get(39)}:{cl_ord_id}"
    else:
        exec_id = f"{venue}:{get(17)}"
    return cmd.ApplyExecutionReport(
        command_id=f"{venue}:{get(17)}:{time.time_ns()}",
        received_at_ns=time.time_ns(),
        actor=f"venue:{venue}",
        order_id=order_id,
        exec_id=exec_id,
        exec_type=exec_type,
        last_qty=_decimal(get, 32) or Decimal(0),
        last_px=_decimal(get, 31) or Decimal(0),
        cl_ord_id=cl_ord_id,
        quantity=_decimal(get, 38),
        limit_price=_decimal(get, 44),
        text=(get(58) or "")[:500],
        cum_qty=cum_qty,
        avg_px=_decimal(get, 6),
        ord_status=ord_status,
        unknown_order=exec_type is ExecType.ORDER_STATUS and get(103) == ORD_REJ_UNKNOWN_ORDER,
    )


def cancel_reject(venue: str, get: Get) -> cmd.ApplyCancelReject | Duplicate:
    """35=9 as the engine command that books it. Raises Ignored."""
    parsed = parse_venue_cl_ord_id(get(11))
    if parsed is None:
        raise Ignored(f"ClOrdID {get(11)!r} is not one of ours")
    order_id, cl_ord_id = parsed
    if get(102) == CXL_REJ_DUPLICATE:
        return Duplicate(order_id)
    return cmd.ApplyCancelReject(
        command_id=f"{venue}:9:{time.time_ns()}",
        received_at_ns=time.time_ns(),
        actor=f"venue:{venue}",
        order_id=order_id,
        cl_ord_id=cl_ord_id,
        reason=tables.CXL_REJ_REASON_FROM_FIX.get(get(102) or "", "other"),
        text=(get(58) or "")[:500],
    )


@dataclass(frozen=True)
class Quote:
    """A venue's market data snapshot for one symbol: levels best first, and the last trade."""

    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]  # (price, size)
    asks: tuple[tuple[Decimal, Decimal], ...]
    last: Decimal | None

    @property
    def reference_price(self) -> Decimal | None:
        """The last trade if there is one, else the mid of a two-sided quote."""
        if self.last is not None:
            return self.last
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return None


def market_data_snapshot(raw: str) -> Quote | None:
    """35=W, read from the raw message: the 268 group's entries in order (269 starts one)."""
    symbol = None
    entries: list[dict[int, str]] = []
    for part in raw.split("\x01"):
        tag, _, value = part.partition("=")
        if not tag.isdigit():
            continue
        number = int(tag)
        if number == 55 and symbol is None:
            symbol = value
        elif number == 269:
            entries.append({269: value})
        elif entries and number in (270, 271):
            entries[-1][number] = value
    if symbol is None:
        return None
    sides: dict[str, list[tuple[Decimal, Decimal]]] = {"0": [], "1": [], "2": []}
    for entry in entries:
        try:
            price, size = Decimal(entry.get(270, "")), Decimal(entry.get(271, "0"))
        except InvalidOperation:
            continue
        if entry[269] in sides and price.is_finite() and price > 0 and size.is_finite() and size >= 0:
            sides[entry[269]].append((price, size))
    bids = tuple(sorted(sides["0"], key=lambda level: -level[0]))
    asks = tuple(sorted(sides["1"], key=lambda level: level[0]))
    last = sides["2"][0][0] if sides["2"] else None
    return Quote(symbol, bids, asks, last)


# The statuses for which the venue still owes us something: resync asks about these.
LIVE_STATUSES = tuple(
    s.value
    for s in (
        OrdStatus.PENDING_NEW,
        OrdStatus.NEW,
        OrdStatus.PARTIALLY_FILLED,
        OrdStatus.PENDING_CANCEL,
        OrdStatus.PENDING_REPLACE,
    )
)
