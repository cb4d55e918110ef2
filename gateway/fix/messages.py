"""The gateway's reports as quickfix messages (35=8, 35=9), built with venues/fix's plumbing and
tables: one translation for both edges."""

from __future__ import annotations

from datetime import UTC, datetime

import quickfix as fix

from gateway.domain.reports import ClientCancelReject, ClientReport, Report
from venues.fix import tables
from venues.fix.messages import new_message, set_decimal


def transact_time(at_ns: int) -> str:
    """60 TransactTime, UTCTimestamp with milliseconds."""
    at = datetime.fromtimestamp(at_ns / 1_000_000_000, tz=UTC)
    return at.strftime("%Y%m%d-%H:%M:%S.%f")[:21]


def execution_report(report: ClientReport) -> fix.Message:
    message = new_message("8")
    message.setField(37, report.order_id)
    message.setField(11, report.cl_ord_id)
    if report.orig_cl_ord_id:
        message.setField(41, report.orig_cl_ord_id)
    message.setField(17, report.exec_id)
    if report.exec_ref_id:
        message.setField(19, report.exec_ref_id)
    message.setField(150, tables.EXEC_TYPE_TO_FIX[report.exec_type])
    message.setField(39, tables.ORD_STATUS_TO_FIX[report.ord_status])
    if report.ord_rej_reason:
        message.setField(103, report.ord_rej_reason)
    message.setField(1, report.account)
    message.setField(55, report.symbol)
    message.setField(54, tables.SIDE_TO_FIX[report.side])
    set_decimal(message, 38, report.order_qty)
    if report.price is not None:
        set_decimal(message, 44, report.price)
    set_decimal(message, 32, report.last_qty)
    set_decimal(message, 31, report.last_px)
    set_decimal(message, 151, report.leaves_qty)
    set_decimal(message, 14, report.cum_qty)
    set_decimal(message, 6, report.avg_px)
    message.setField(60, transact_time(report.transact_ns))
    if report.text:
        message.setField(58, report.text[:200])
    return message


def cancel_reject(reject: ClientCancelReject) -> fix.Message:
    message = new_message("9")
    message.setField(37, reject.order_id)
    message.setField(11, reject.cl_ord_id)
    message.setField(41, reject.orig_cl_ord_id)
    message.setField(39, tables.ORD_STATUS_TO_FIX[reject.ord_status])
    message.setField(1, reject.account)
    message.setField(434, tables.CXL_REJ_RESPONSE_TO_FIX[reject.response_to.value])
    message.setField(102, reject.cxl_rej_reason)
    if reject.text:
        message.setField(58, reject.text[:200])
    return message


def message_for(report: Report) -> fix.Message:
    if isinstance(report, ClientCancelReject):
        return cancel_reject(report)
    return execution_report(report)
