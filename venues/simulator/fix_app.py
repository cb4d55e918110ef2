"""The simulated venue's FIX 4.4 acceptor: quickfix callbacks that translate and call `Venue`.

quickfix validates every message against the FIX 4.4 data dictionary before it reaches
`fromApp`, and answers malformed ones with a session-level Reject (35=3) itself. What is
well-formed but unusable (an unsupported OrdType, a negative price) gets a business answer:
an ExecutionReport with ExecType=Rejected, or an OrderCancelReject.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import quickfix as fix

from orders.domain.values import ExecType, OrdStatus
from venues.fix import tables
from venues.fix.messages import (
    FixValueError,
    decimal_field,
    getter,
    new_message,
    parse_new_order,
    required,
    set_decimal,
)
from venues.simulator.book import Side as BookSide
from venues.simulator.book import TimeInForce as BookTif
from venues.simulator.venue import CancelReject, ExecReport, Report, Venue

log = logging.getLogger("oms.simulator")

ORD_REJ_REASON = {"duplicate": "6", "unknown_symbol": "1", "incorrect_quantity": "13", "invalid_price": "99"}
CXL_REJ_REASON = {"too_late": "0", "unknown_order": "1", "duplicate_cl_ord_id": "6"}


class VenueApplication(fix.Application):
    def __init__(self, venue: Venue) -> None:
        super().__init__()
        self.venue = venue
        self.lock = threading.Lock()  # quickfix may call back from several threads
        self.sessions: dict[str, fix.SessionID] = {}
        self.logged_on: set[str] = set()

    # -- session events ------------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        self.sessions[session_id.getTargetCompID().getValue()] = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.logged_on.add(session_id.getTargetCompID().getValue())
        log.info("%s: %s logged on", self.venue.name, session_id.toString())

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.logged_on.discard(session_id.getTargetCompID().getValue())
        log.info("%s: %s logged out", self.venue.name, session_id.toString())

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    # -- application messages -------------------------------------------------------------------

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        owner = session_id.getTargetCompID().getValue()
        msg_type = message.getHeader().getField(35)
        get = getter(message)
        # Decide and send under one lock, so reports leave in the order they happened even
        # when the market makers' thread trades at the same moment.
        with self.lock:
            try:
                reports = self._dispatch(msg_type, owner, get)
            except FixValueError as exc:
                reports = [self._refusal(msg_type, owner, get, str(exc))]
            for report in reports:
                self.send(report)

    def _dispatch(self, msg_type: str, owner: str, get) -> list[Report]:
        if msg_type == "D":
            order = parse_new_order(get)
            side = BookSide.BUY if order.side.value == "buy" else BookSide.SELL
            return self.venue.new_order(
                owner, order.cl_ord_id, order.symbol, side, order.quantity,
                order.price if order.order_type.value == "limit" else None, BookTif(order.time_in_force.value),
            )  # fmt: skip
        if msg_type == "F":
            return self.venue.cancel(owner, required(get, 11), required(get, 41))
        if msg_type == "G":
            quantity = decimal_field(get, 38)
            assert quantity is not None
            return self.venue.replace(owner, required(get, 11), required(get, 41), quantity,
                                      decimal_field(get, 44, optional=True))  # fmt: skip
        if msg_type == "H":
            status = self.venue.status(owner, required(get, 11))
            if status is None:
                raise FixValueError(11, f"unknown ClOrdID {get(11)}")
            return [status]
        raise FixValueError(35, f"message type {msg_type} is not supported here")

    def _refusal(self, msg_type: str, owner: str, get, text: str) -> Report:
        cl_ord_id = get(11) or "NONE"
        if msg_type in ("F", "G"):
            return CancelReject(owner, "NONE", cl_ord_id, get(41) or "NONE", OrdStatus.REJECTED,
                                "cancel" if msg_type == "F" else "replace", "other", text)  # fmt: skip
        zero = Decimal(0)
        side = BookSide.BUY if get(54) != "2" else BookSide.SELL
        return ExecReport(
            owner, "NONE", cl_ord_id, None, self.venue.next_exec_id(), ExecType.REJECTED, OrdStatus.REJECTED,
            get(55) or "NONE", side, zero, None, zero, zero, zero, zero, zero, text=text, reject_reason="other",
        )  # fmt: skip

    def send(self, report: Report) -> None:
        session_id = self.sessions.get(report.owner)
        if session_id is None:
            return  # a built-in participant's report
        message = exec_report_message(report) if isinstance(report, ExecReport) else cancel_reject_message(report)
        try:
            fix.Session.sendToTarget(message, session_id)
        except fix.SessionNotFound:
            log.warning("%s: no session %s for a report", self.venue.name, report.owner)


def exec_report_message(report: ExecReport) -> fix.Message:
    """35=8 ExecutionReport."""
    message = new_message("8")
    message.setField(37, report.order_id)
    message.setField(11, report.cl_ord_id)
    if report.orig_cl_ord_id:
        message.setField(41, report.orig_cl_ord_id)
    message.setField(17, report.exec_id)
    message.setField(150, tables.EXEC_TYPE_TO_FIX[report.exec_type])
    message.setField(39, tables.ORD_STATUS_TO_FIX[report.ord_status])
    message.setField(55, report.symbol)
    message.setField(54, "1" if report.side is BookSide.BUY else "2")
    set_decimal(message, 38, report.order_qty)
    if report.price is not None:
        set_decimal(message, 44, report.price)
    set_decimal(message, 32, report.last_qty)
    set_decimal(message, 31, report.last_px)
    set_decimal(message, 14, report.cum_qty)
    set_decimal(message, 151, report.leaves_qty)
    set_decimal(message, 6, report.avg_px)
    if report.reject_reason:
        message.setField(103, ORD_REJ_REASON.get(report.reject_reason, "99"))
    if report.text:
        message.setField(58, report.text[:200])
    message.setField(fix.TransactTime())
    return message


def cancel_reject_message(reject: CancelReject) -> fix.Message:
    """35=9 OrderCancelReject."""
    message = new_message("9")
    message.setField(37, reject.order_id)
    message.setField(11, reject.cl_ord_id)
    message.setField(41, reject.orig_cl_ord_id)
    message.setField(39, tables.ORD_STATUS_TO_FIX[reject.ord_status])
    message.setField(434, tables.CXL_REJ_RESPONSE_TO_CANCEL if reject.response_to == "cancel" else
                     tables.CXL_REJ_RESPONSE_TO_REPLACE)  # fmt: skip
    message.setField(102, CXL_REJ_REASON.get(reject.reason, tables.OTHER_CXL_REJ_REASON))
    message.setField(58, reject.text[:200])
    return message
