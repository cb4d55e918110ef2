"""Order messages read back as the values they were built from: what the simulated venue sends
is what the connector reads."""

from decimal import Decimal as D

import pytest
import quickfix as fix

from orders.domain.values import ExecType, OrdStatus, Side
from venues.fix.config import data_dictionary
from venues.fix.messages import FixValueError, getter
from venues.fix.orders import (
    AffectedOrder,
    CancelReject,
    ExecutionReport,
    MassCancelReport,
    MassCancelRequest,
    OrderRef,
    cancel_reject_message,
    cancel_request,
    execution_report_message,
    order_mass_cancel_report_message,
    order_mass_cancel_request_message,
    parse_cancel_reject,
    parse_execution_report,
    parse_order_mass_cancel_report,
    parse_order_mass_cancel_request,
    parse_venue_cl_ord_id,
    venue_cl_ord_id,
)


def report(**changes) -> ExecutionReport:
    values = dict(
        order_id="SIMA-7", cl_ord_id="12:c1", exec_id="SIMA-E3", exec_type=ExecType.TRADE,
        ord_status=OrdStatus.PARTIALLY_FILLED, symbol="AAPL", side=Side.SELL, order_qty=D(100), price=D("10.5"),
        last_qty=D(40), last_px=D("10.5"), cum_qty=D(40), leaves_qty=D(60), avg_px=D("10.5"),
    )  # fmt: skip
    return ExecutionReport(**(values | changes))


@pytest.mark.parametrize(
    "sent",
    [
        report(),
        report(exec_type=ExecType.REPLACED, ord_status=OrdStatus.NEW, orig_cl_ord_id="12:c0", text="replaced"),
        report(exec_type=ExecType.REJECTED, ord_status=OrdStatus.REJECTED, reject_reason="duplicate_cl_ord_id"),
        # an unknown order's status: no OrderQty, no price
        report(
            exec_type=ExecType.ORDER_STATUS,
            ord_status=OrdStatus.REJECTED,
            order_qty=None,
            price=None,
            last_qty=D(0),
            last_px=D(0),
            cum_qty=D(0),
            leaves_qty=D(0),
            avg_px=D(0),
            reject_reason="unknown_order",
        ),
    ],
)
def test_an_execution_report_reads_back_as_it_was_built(sent):
    assert parse_execution_report(getter(execution_report_message(sent))) == sent


def test_a_reject_reason_fix_has_no_code_for_goes_out_as_other():
    message = execution_report_message(report(exec_type=ExecType.REJECTED, reject_reason="invalid_price"))
    assert message.getField(103) == "99"
    assert parse_execution_report(getter(message)).reject_reason == "other"


@pytest.mark.parametrize(("response_to", "reason"), [("cancel", "too_late"), ("replace", "duplicate_cl_ord_id")])
def test_a_cancel_reject_reads_back_as_it_was_built(response_to, reason):
    sent = CancelReject("SIMA-7", "12:c2", "12:c1", OrdStatus.FILLED, response_to, reason, "too late")
    assert parse_cancel_reject(getter(cancel_reject_message(sent))) == sent


def test_an_unknown_cancel_reject_code_reads_as_other():
    message = cancel_reject_message(CancelReject("NONE", "12:c2", "12:c1", OrdStatus.REJECTED, "cancel", "other", ""))
    message.setField(102, "42")
    assert parse_cancel_reject(getter(message)).reason == "other"


def test_a_venue_cl_ord_id_names_the_order_and_the_clients_cl_ord_id():
    assert parse_venue_cl_ord_id(venue_cl_ord_id(12, "a:b")) == (12, "a:b")
    assert parse_venue_cl_ord_id("c1") is None and parse_venue_cl_ord_id("x:c1") is None
    assert parse_venue_cl_ord_id(None) is None and parse_venue_cl_ord_id("12:") is None


def test_a_cancel_the_oms_asks_on_its_own_says_why_in_58_and_passes_the_dictionary():
    order = OrderRef(12, "c1", "AAPL", "buy", "limit", D(100), D("10.5"), "SIMA-7")
    closing = on_the_wire(cancel_request("EOD-12", "c1", order, text="canceled at the close by the OMS"))
    assert closing.getField(58) == "canceled at the close by the OMS" and closing.getField(11) == "12:EOD-12"
    assert not on_the_wire(cancel_request("c2", "c1", order)).isSetField(58)  # a client's cancel: no text


# -- mass cancel (35=q, 35=r) ----------------------------------------------------------------------

DICTIONARY = fix.DataDictionary(str(data_dictionary()))


def on_the_wire(message: fix.Message) -> fix.Message:
    """`message` as the other end's strict session reads it: sent, parsed with FIX44.xml (repeating
    groups included) and validated; quickfix raises on anything the dictionary does not allow."""
    header = message.getHeader()
    header.setField(49, "OMS")
    header.setField(56, "XSIM")
    header.setField(34, "1")
    header.setField(fix.SendingTime())
    received = fix.Message(message.toString(), DICTIONARY, True)
    DICTIONARY.validate(received)
    return received


@pytest.mark.parametrize(
    ("request_type", "symbol", "code"), [("all", None, "7"), ("security", "AAPL", "1"), ("product", None, "3")]
)
def test_a_mass_cancel_request_passes_the_dictionary_and_reads_back(request_type, symbol, code):
    received = on_the_wire(order_mass_cancel_request_message("MC-1", request_type, symbol))
    assert (received.getHeader().getField(35), received.getField(530)) == ("q", code)
    assert parse_order_mass_cancel_request(getter(received)) == MassCancelRequest("MC-1", request_type, symbol)


def test_a_mass_cancel_by_security_needs_its_symbol():
    with pytest.raises(ValueError, match="symbol"):
        order_mass_cancel_request_message("MC-1", "security")


def test_a_mass_cancel_request_of_a_type_fix_does_not_have_is_refused():
    with pytest.raises(FixValueError) as refused:
        parse_order_mass_cancel_request({11: "MC-1", 530: "9"}.get)
    assert refused.value.tag == 530


@pytest.mark.parametrize(
    "sent",
    [
        MassCancelReport("XSIM-M1", "MC-1", "all", "all", None, 2,
                         (AffectedOrder("12:c1", "XSIM-3"), AffectedOrder("14:c2", "XSIM-5"))),
        MassCancelReport("XSIM-M2", "MC-2", "security", "security", None, 0),
        MassCancelReport("XSIM-M3", "MC-3", "product", "rejected", "not_supported", 0, text="type 3 is not served"),
    ],
)  # fmt: skip
def test_a_mass_cancel_report_passes_the_dictionary_and_reads_back_as_it_was_built(sent):
    assert parse_order_mass_cancel_report(on_the_wire(order_mass_cancel_report_message(sent))) == sent


def test_a_rejected_mass_cancel_report_says_so_with_its_reason():
    message = order_mass_cancel_report_message(MassCancelReport("XSIM-M1", "MC-1", "all", "rejected", "other", 0))
    assert (message.getField(531), message.getField(532)) == ("0", "99")
    assert parse_order_mass_cancel_report(message).rejected


def test_an_unknown_mass_cancel_reject_code_reads_as_other():
    message = order_mass_cancel_report_message(MassCancelReport("XSIM-M1", "MC-1", "all", "rejected", "other", 0))
    message.setField(532, "42")
    report = parse_order_mass_cancel_report(message)
    assert report.reject_reason == "other" and report.rejected
