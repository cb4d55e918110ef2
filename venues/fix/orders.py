"""Order messages, to and from plain values: 35=D, F, G, H, q and AF, and what answers them, 35=8,
9 and r.

Orders are known at a venue by a ClOrdID of our own making, `<order id>:<ClOrdID>`: unique
across accounts (client ClOrdIDs are only unique per account and day), the same every time
the same event is sent again (so the venue's per-session ClOrdID check turns a resend into a
harmless duplicate), and readable back into the order and the client's ClOrdID when the
venue answers, without any lookup table to lose in a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import quickfix as fix

from orders.domain import events as ev
from orders.domain.values import ExecType, OrderType, OrdStatus, Side, TimeInForce
from venues.fix import tables
from venues.fix.messages import (
    Get,
    add_group,
    decimal_field,
    getter,
    group_getters,
    lenient_decimal,
    mapped,
    new_message,
    required,
    set_decimal,
)


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


# -- requests (35=D, F, G, H) ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    price: Decimal | None
    time_in_force: TimeInForce
    account: str | None


def parse_new_order(get: Get) -> NewOrder:
    """35=D NewOrderSingle, as a venue reads it. Raises FixValueError."""
    order_type = mapped(get, 40, tables.ORD_TYPE_FROM_FIX)
    price = decimal_field(get, 44, optional=True)
    return NewOrder(
        cl_ord_id=required(get, 11),
        symbol=required(get, 55),
        side=mapped(get, 54, tables.SIDE_FROM_FIX),
        quantity=decimal_field(get, 38),  # type: ignore[arg-type]
        order_type=order_type,
        price=price,
        time_in_force=mapped(get, 59, tables.TIF_FROM_FIX, default="0"),
        account=get(1),
    )


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
    venue_order_id: str | None = None  # 37 OrderID the venue gave it, once it has said


def new_order_single(event: ev.OrderAccepted, *, resend: bool = False) -> fix.Message:
    message = new_message("D")
    _resend(message, resend)
    message.setField(11, venue_cl_ord_id(event.order_id, event.cl_ord_id))
    message.setField(1, event.account)  # 1 Account: the venue books positions per account (reconciliation asks so)
    message.setField(55, event.symbol)
    message.setField(54, tables.SIDE_TO_FIX[event.side])
    set_decimal(message, 38, event.quantity)
    message.setField(40, tables.ORD_TYPE_TO_FIX[event.order_type])
    if event.limit_price is not None:
        set_decimal(message, 44, event.limit_price)
    message.setField(59, tables.TIF_TO_FIX[event.time_in_force])
    message.setField(fix.TransactTime())
    return message


def cancel_request(
    cl_ord_id: str, orig_cl_ord_id: str, order: OrderRef, *, resend: bool = False, text: str = ""
) -> fix.Message:
    message = new_message("F")
    _resend(message, resend)
    _venue_order_id(message, order)
    message.setField(11, venue_cl_ord_id(order.order_id, cl_ord_id))
    message.setField(41, venue_cl_ord_id(order.order_id, orig_cl_ord_id))
    message.setField(55, order.symbol)
    message.setField(54, tables.SIDE_TO_FIX[order.side])  # type: ignore[index]
    set_decimal(message, 38, order.quantity)
    if text:
        message.setField(58, text)  # why the OMS cancels on its own (the close)
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
    _venue_order_id(message, order)
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


def status_request(order: OrderRef, *, asked_after: str | None = None) -> fix.Message:
    """35=H. `asked_after`: the ClOrdID of what was sent again just before this question, carried
    in 790 OrdStatusReqID (which the answer echoes): the answer then already reflects it."""
    message = new_message("H")
    _venue_order_id(message, order)
    message.setField(11, venue_cl_ord_id(order.order_id, order.cl_ord_id))
    message.setField(55, order.symbol)
    message.setField(54, tables.SIDE_TO_FIX[order.side])  # type: ignore[index]
    if asked_after is not None:
        message.setField(790, venue_cl_ord_id(order.order_id, asked_after))
    return message


def _venue_order_id(message: fix.Message, order: OrderRef) -> None:
    if order.venue_order_id:
        message.setField(37, order.venue_order_id)  # the venue's own name for the order, where it has said it


def _resend(message: fix.Message, resend: bool) -> None:
    if resend:
        # 97 PossResend (a header field: in the body strict validation rejects the message):
        # the venue may have it already, under this ClOrdID.
        message.getHeader().setField(97, "Y")


# -- answers (35=8, 35=9) --------------------------------------------------------------------------

_OTHER_ORD_REJ_REASON = tables.ORD_REJ_REASON_TO_FIX["other"]
_OTHER_CXL_REJ_REASON = tables.CXL_REJ_REASON_TO_FIX["other"]


@dataclass(frozen=True)
class ExecutionReport:
    """35=8 as values. Read from a venue, a field that is absent or unreadable is None (or 0 for
    32 and 31, "" for 58); a code no table here knows is None too."""

    order_id: str | None  # 37, the venue's
    cl_ord_id: str | None  # 11
    exec_id: str | None  # 17
    exec_type: ExecType | None  # 150
    ord_status: OrdStatus | None  # 39
    symbol: str | None  # 55
    side: Side | None  # 54
    order_qty: Decimal | None  # 38: None for an order that has none (an unknown order's status)
    price: Decimal | None  # 44
    last_qty: Decimal  # 32
    last_px: Decimal  # 31
    cum_qty: Decimal | None  # 14
    leaves_qty: Decimal | None  # 151
    avg_px: Decimal | None  # 6
    orig_cl_ord_id: str | None = None  # 41, on cancel and replace answers
    reject_reason: str | None = None  # 103 OrdRejReason, by name
    text: str = ""  # 58
    exec_ref_id: str | None = None  # 19: the fill a trade cancel or correct (150=H/G) names
    ord_status_req_id: str | None = None  # 790, echoed from our status request
    # 150 and 39 as sent, when no table here knows them: the report is then an anomaly naming them.
    unknown_exec_type: str | None = None
    unknown_ord_status: str | None = None
    account: str | None = None  # 1
    # Answering an OrderMassStatusRequest (35=AF): 584 echoed, 911 TotNumReports, 912 LastRptRequested=Y
    # on the last. A venue with no open orders answers one report with 911=0 and 37=NONE.
    mass_status_req_id: str | None = None
    total_reports: int | None = None
    last_report: bool = False


def parse_execution_report(get: Get) -> ExecutionReport:
    exec_type = tables.EXEC_TYPE_FROM_FIX.get(get(150) or "")
    ord_status = tables.ORD_STATUS_FROM_FIX.get(get(39) or "")
    return ExecutionReport(
        order_id=get(37),
        cl_ord_id=get(11),
        exec_id=get(17),
        exec_type=exec_type,
        ord_status=ord_status,
        unknown_exec_type=get(150) if exec_type is None else None,
        unknown_ord_status=get(39) if ord_status is None else None,
        exec_ref_id=get(19),
        ord_status_req_id=get(790),
        symbol=get(55),
        side=tables.SIDE_FROM_FIX.get(get(54) or ""),
        order_qty=lenient_decimal(get, 38),
        price=lenient_decimal(get, 44),
        last_qty=lenient_decimal(get, 32) or Decimal(0),
        last_px=lenient_decimal(get, 31) or Decimal(0),
        cum_qty=lenient_decimal(get, 14),
        leaves_qty=lenient_decimal(get, 151),
        avg_px=lenient_decimal(get, 6),
        orig_cl_ord_id=get(41),
        reject_reason=tables.ORD_REJ_REASON_FROM_FIX.get(get(103) or ""),
        text=get(58) or "",
        account=get(1),
        mass_status_req_id=get(584),
        total_reports=int(total) if (total := get(911)) and total.isdigit() else None,
        last_report=get(912) == "Y",
    )


def execution_report_message(report: ExecutionReport) -> fix.Message:
    """35=8 ExecutionReport. 38 OrderQty only for an order that has one (not for an unknown order's status)."""
    message = new_message("8")
    message.setField(37, report.order_id)
    message.setField(11, report.cl_ord_id)
    if report.orig_cl_ord_id:
        message.setField(41, report.orig_cl_ord_id)
    if report.mass_status_req_id is not None:
        message.setField(584, report.mass_status_req_id)
        message.setField(911, str(report.total_reports or 0))
        if report.last_report:
            message.setField(912, "Y")
    message.setField(17, report.exec_id)
    message.setField(150, tables.EXEC_TYPE_TO_FIX[report.exec_type])
    message.setField(39, tables.ORD_STATUS_TO_FIX[report.ord_status])
    message.setField(55, report.symbol)
    if report.account:
        message.setField(1, report.account)
    message.setField(54, tables.SIDE_TO_FIX[report.side])
    if report.order_qty:
        set_decimal(message, 38, report.order_qty)
    if report.price is not None:
        set_decimal(message, 44, report.price)
    set_decimal(message, 32, report.last_qty)
    set_decimal(message, 31, report.last_px)
    set_decimal(message, 14, report.cum_qty)
    set_decimal(message, 151, report.leaves_qty)
    set_decimal(message, 6, report.avg_px)
    if report.exec_ref_id:
        message.setField(19, report.exec_ref_id)
    if report.reject_reason:
        message.setField(103, tables.ORD_REJ_REASON_TO_FIX.get(report.reject_reason, _OTHER_ORD_REJ_REASON))
    if report.text:
        message.setField(58, report.text[:200])
    message.setField(fix.TransactTime())
    return message


@dataclass(frozen=True)
class CancelReject:
    """35=9 as values."""

    order_id: str | None  # 37, the venue's ("NONE" when it has none)
    cl_ord_id: str | None  # 11
    orig_cl_ord_id: str | None  # 41
    ord_status: OrdStatus | None  # 39
    response_to: str | None  # 434: "cancel" | "replace"
    reason: str  # 102 CxlRejReason, by name ("other" for a code no table here knows)
    text: str  # 58


def parse_cancel_reject(get: Get) -> CancelReject:
    return CancelReject(
        order_id=get(37),
        cl_ord_id=get(11),
        orig_cl_ord_id=get(41),
        ord_status=tables.ORD_STATUS_FROM_FIX.get(get(39) or ""),
        response_to=tables.CXL_REJ_RESPONSE_FROM_FIX.get(get(434) or ""),
        reason=tables.CXL_REJ_REASON_FROM_FIX.get(get(102) or "", "other"),
        text=get(58) or "",
    )


def cancel_reject_message(reject: CancelReject) -> fix.Message:
    """35=9 OrderCancelReject: 37, 11, 41, 39, 434, 102, 58."""
    message = new_message("9")
    message.setField(37, reject.order_id)
    message.setField(11, reject.cl_ord_id)
    message.setField(41, reject.orig_cl_ord_id)
    message.setField(39, tables.ORD_STATUS_TO_FIX[reject.ord_status])
    message.setField(434, tables.CXL_REJ_RESPONSE_TO_FIX["cancel" if reject.response_to == "cancel" else "replace"])
    message.setField(102, tables.CXL_REJ_REASON_TO_FIX.get(reject.reason, _OTHER_CXL_REJ_REASON))
    message.setField(58, reject.text[:200])
    return message


# -- mass cancel (35=q, answered by 35=r and a 35=8 per order canceled) -----------------------------


@dataclass(frozen=True)
class MassCancelRequest:
    """35=q OrderMassCancelRequest, as a venue reads it."""

    cl_ord_id: str  # 11: the mass cancel's own, not any order's
    request_type: str  # 530 MassCancelRequestType, by name: "all", "security"...
    symbol: str | None  # 55, for request type "security"


def order_mass_cancel_request_message(cl_ord_id: str, request_type: str, symbol: str | None = None) -> fix.Message:
    """35=q OrderMassCancelRequest: 11, 530, 55 (for "security"), 60. `request_type` by name
    (tables.MASS_CANCEL_REQUEST_TYPE_TO_FIX); "all" is every order of the session."""
    if request_type == "security" and not symbol:
        raise ValueError("a mass cancel by security needs its symbol")
    message = new_message("q")
    message.setField(11, cl_ord_id)
    message.setField(530, tables.MASS_CANCEL_REQUEST_TYPE_TO_FIX[request_type])
    if symbol:
        message.setField(55, symbol)
    message.setField(fix.TransactTime())
    return message


def parse_order_mass_cancel_request(get: Get) -> MassCancelRequest:
    """Raises FixValueError."""
    return MassCancelRequest(
        cl_ord_id=required(get, 11),
        request_type=mapped(get, 530, tables.MASS_CANCEL_REQUEST_TYPE_FROM_FIX),
        symbol=get(55),
    )


@dataclass(frozen=True)
class AffectedOrder:
    """One order a mass cancel canceled (534 NoAffectedOrders)."""

    orig_cl_ord_id: str | None  # 41: the order's ClOrdID at the venue
    order_id: str | None  # 535 AffectedOrderID: the venue's


@dataclass(frozen=True)
class MassCancelReport:
    """35=r OrderMassCancelReport as values. Read from a venue, a code no table here knows is None
    (532: "other")."""

    order_id: str | None  # 37: the venue's id for the mass cancel
    cl_ord_id: str | None  # 11: the request's
    request_type: str | None  # 530, echoed, by name
    response: str | None  # 531 MassCancelResponse: the request type done, or "rejected"
    reject_reason: str | None = None  # 532 MassCancelRejectReason, by name, when rejected
    total_affected: int | None = None  # 533 TotalAffectedOrders
    affected: tuple[AffectedOrder, ...] = ()  # 534 group; a venue may leave it out
    text: str = ""  # 58

    @property
    def rejected(self) -> bool:
        return self.response == "rejected"


def order_mass_cancel_report_message(report: MassCancelReport) -> fix.Message:
    """35=r OrderMassCancelReport: 11, 37, 530, 531, 532 (when rejected), 533, 534 group (41, 535), 58, 60."""
    message = new_message("r")
    if report.cl_ord_id:
        message.setField(11, report.cl_ord_id)
    message.setField(37, report.order_id)
    message.setField(530, tables.MASS_CANCEL_REQUEST_TYPE_TO_FIX[report.request_type])
    message.setField(531, tables.MASS_CANCEL_RESPONSE_TO_FIX[report.response])
    if report.reject_reason:
        message.setField(532, tables.MASS_CANCEL_REJECT_REASON_TO_FIX[report.reject_reason])
    if report.total_affected is not None:
        message.setField(533, str(report.total_affected))
    for order in report.affected:
        add_group(message, 534, 41, {41: order.orig_cl_ord_id or "NONE", 535: order.order_id or "NONE"})
    if report.text:
        message.setField(58, report.text[:200])
    message.setField(fix.TransactTime())
    return message


def parse_order_mass_cancel_report(message: fix.Message) -> MassCancelReport:
    get = getter(message)
    reject_reason = get(532)
    total = get(533)
    return MassCancelReport(
        order_id=get(37),
        cl_ord_id=get(11),
        request_type=tables.MASS_CANCEL_REQUEST_TYPE_FROM_FIX.get(get(530) or ""),
        response=tables.MASS_CANCEL_RESPONSE_FROM_FIX.get(get(531) or ""),
        reject_reason=tables.MASS_CANCEL_REJECT_REASON_FROM_FIX.get(reject_reason, "other") if reject_reason else None,
        total_affected=int(total) if total and total.isdigit() else None,
        affected=tuple(AffectedOrder(order(41), order(535)) for order in group_getters(message, 534, 41)),
        text=get(58) or "",
    )


# -- mass status (35=AF, answered by a 35=8 150=I per open order) -----------------------------------


@dataclass(frozen=True)
class MassStatusRequest:
    """35=AF OrderMassStatusRequest, as a venue reads it."""

    mass_status_req_id: str  # 584
    request_type: str  # 585 MassStatusReqType, by name: "all", "security"...
    account: str | None  # 1: only this account's orders, when given
    symbol: str | None  # 55, for request type "security"


def order_mass_status_request_message(mass_status_req_id: str, account: str | None = None) -> fix.Message:
    """35=AF OrderMassStatusRequest for every open order of the session (585=7), or of one account."""
    message = new_message("AF")
    message.setField(584, mass_status_req_id)
    message.setField(585, tables.MASS_STATUS_REQ_TYPE_TO_FIX["all"])
    if account:
        message.setField(1, account)
    return message


def parse_order_mass_status_request(get: Get) -> MassStatusRequest:
    """Raises FixValueError."""
    return MassStatusRequest(
        mass_status_req_id=required(get, 584),
        request_type=mapped(get, 585, tables.MASS_STATUS_REQ_TYPE_FROM_FIX),
        account=get(1),
        symbol=get(55),
    )
