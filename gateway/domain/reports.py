"""What a client is told about its order: one committed event in, at most one report out.

`report_for(stored position, event, before, after)` is the whole translation: the states are the
fold of the order's events just before and just after this one, so the report carries the order
as it was then (a re-send after a crash says exactly what the first send said), and its ExecID is
the event's position in the log ("E<position>"), the same on every re-send.

The client sees its own order only: a parent, never its children (their events are not passed
here). Events that tell the client nothing (a routing decision, an anomaly for a person to look at)
give None.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.domain import tables
from orders.domain import events as ev
from orders.domain.state import OrderState
from orders.domain.values import ExecType, OrdStatus, RequestKind, Side

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ClientReport:
    """35=8 ExecutionReport to a client, as values."""

    order_id: str  # 37: the OMS order id ("NONE" for an order that never existed)
    cl_ord_id: str  # 11
    exec_id: str  # 17
    exec_type: ExecType  # 150
    ord_status: OrdStatus  # 39
    account: str  # 1
    symbol: str  # 55
    side: Side  # 54
    order_qty: Decimal  # 38
    price: Decimal | None  # 44
    cum_qty: Decimal  # 14
    leaves_qty: Decimal  # 151
    avg_px: Decimal  # 6
    transact_ns: int  # 60 TransactTime: when the event's command was received
    orig_cl_ord_id: str | None = None  # 41
    last_qty: Decimal = ZERO  # 32
    last_px: Decimal = ZERO  # 31
    ord_rej_reason: str | None = None  # 103, the FIX code
    exec_ref_id: str | None = None  # 19: the report a trade cancel or correct names
    text: str = ""  # 58


@dataclass(frozen=True, slots=True)
class ClientCancelReject:
    """35=9 OrderCancelReject to a client, as values."""

    order_id: str  # 37
    cl_ord_id: str  # 11: the refused request's
    orig_cl_ord_id: str  # 41
    ord_status: OrdStatus  # 39: the order's status after the refusal
    response_to: RequestKind  # 434
    cxl_rej_reason: str  # 102, the FIX code
    text: str  # 58
    account: str


Report = ClientReport | ClientCancelReject


def exec_id_of(position: int) -> str:
    return f"E{position}"


def report_for(
    position: int,
    event: ev.Event,
    before: OrderState | None,
    after: OrderState,
    fill_exec_ids: dict[str, str] | None = None,
) -> Report | None:
    """The report for one event of a client's order. `fill_exec_ids`: the venue's ExecID of each
    fill -> the ExecID the client got for it, so a bust or correction names the client's."""
    exec_id = exec_id_of(position)

    def er(exec_type: ExecType, **fields) -> ClientReport:
        return ClientReport(
            order_id=str(after.order_id), cl_ord_id=fields.pop("cl_ord_id", after.cl_ord_id), exec_id=exec_id,
            exec_type=exec_type, ord_status=after.status, account=after.account, symbol=after.symbol,
            side=after.side, order_qty=after.quantity, price=after.limit_price, cum_qty=after.cum_qty,
            leaves_qty=after.leaves_qty, avg_px=after.avg_px, transact_ns=event.at_ns, **fields,
        )  # fmt: skip

    match event:
        case ev.OrderAccepted():
            return er(ExecType.PENDING_NEW)
        case ev.OrderRejected():
            return er(ExecType.REJECTED, ord_rej_reason=tables.ord_rej_reason(event.reason), text=event.text)
        case ev.OrderAcknowledged():
            return er(ExecType.NEW)
        case ev.OrderVenueRejected():
            return er(ExecType.REJECTED, ord_rej_reason=tables.OTHER, text=event.text)
        case ev.OrderPartiallyFilled() | ev.OrderFilled():
            return er(ExecType.TRADE, last_qty=event.last_qty, last_px=event.last_px)
        case ev.OrderCancelRequested():
            # the OMS's own (the close's) says why in 58: the client never asked
            return er(ExecType.PENDING_CANCEL, cl_ord_id=event.cl_ord_id, orig_cl_ord_id=event.orig_cl_ord_id,
                      text=event.text)  # fmt: skip
        case ev.OrderReplaceRequested():
            return er(ExecType.PENDING_REPLACE, cl_ord_id=event.cl_ord_id, orig_cl_ord_id=event.orig_cl_ord_id)
        case ev.OrderCanceled():
            pending = before.pending if before is not None else None
            if pending is not None and pending.kind is RequestKind.CANCEL:
                return er(ExecType.CANCELED, cl_ord_id=pending.cl_ord_id, orig_cl_ord_id=before.cl_ord_id)  # type: ignore[union-attr]
            return er(ExecType.CANCELED)  # unsolicited: the venue's own, or an IOC's rest
        case ev.OrderReplaced() | ev.ParentReplaced():
            orig = before.cl_ord_id if before is not None else None
            return er(ExecType.REPLACED, cl_ord_id=event.cl_ord_id, orig_cl_ord_id=orig)
        case ev.OrderCancelRejected() | ev.OrderReplaceRejected():
            kind = RequestKind.CANCEL if isinstance(event, ev.OrderCancelRejected) else RequestKind.REPLACE
            return ClientCancelReject(
                order_id=str(after.order_id), cl_ord_id=event.cl_ord_id, orig_cl_ord_id=event.orig_cl_ord_id,
                ord_status=after.status, response_to=kind, cxl_rej_reason=tables.cxl_rej_reason(event.reason),
                text=event.text, account=after.account,
            )  # fmt: skip
        case ev.OrderExpired():
            return er(ExecType.EXPIRED)
        case ev.OrderDoneForDay():
            return er(ExecType.DONE_FOR_DAY)
        case ev.FillBusted():
            ref = (fill_exec_ids or {}).get(event.ref_exec_id, event.ref_exec_id)
            return er(ExecType.TRADE_CANCEL, exec_ref_id=ref, last_qty=event.last_qty, last_px=event.last_px,
                      text=event.text)  # fmt: skip
        case ev.FillCorrected():
            ref = (fill_exec_ids or {}).get(event.ref_exec_id, event.ref_exec_id)
            return er(ExecType.TRADE_CORRECT, exec_ref_id=ref, last_qty=event.last_qty, last_px=event.last_px,
                      text=event.text)  # fmt: skip
        case ev.OrderRestated():
            return er(ExecType.RESTATED, text=event.text)
        case ev.ParentQuantityRaised():
            return er(ExecType.RESTATED, text=event.text)
    return None  # OrderRouted, ExecutionAnomalyRecorded: nothing for the client


def refused_order(
    exec_id: str, cl_ord_id: str, account: str, symbol: str, side: Side, quantity: Decimal, price: Decimal | None,
    reason: str, text: str, at_ns: int,
) -> ClientReport:  # fmt: skip
    """An order refused before it reached the log (the gateway's own refusal, or the engine's
    duplicate answer): rejected, with no order id."""
    return ClientReport(
        order_id="NONE", cl_ord_id=cl_ord_id, exec_id=exec_id, exec_type=ExecType.REJECTED,
        ord_status=OrdStatus.REJECTED, account=account, symbol=symbol, side=side, order_qty=quantity, price=price,
        cum_qty=ZERO, leaves_qty=ZERO, avg_px=ZERO, transact_ns=at_ns, ord_rej_reason=tables.ord_rej_reason(reason),
        text=text,
    )  # fmt: skip
