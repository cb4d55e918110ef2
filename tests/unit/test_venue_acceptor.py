"""The simulated venue's FIX acceptor (VenueApplication) without a socket: messages handed to
`fromApp` as quickfix would, and what it queues for each session read back from a fake outbox.
(tests/integration/test_simulator_fix.py runs the same over real FIX.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
import quickfix as fix

from venues.fix.messages import getter
from venues.fix.orders import (
    AffectedOrder,
    order_mass_cancel_request_message,
    parse_execution_report,
    parse_order_mass_cancel_report,
)
from venues.simulator.book import Side, TimeInForce
from venues.simulator.faults import FaultSettings
from venues.simulator.fix_app import VenueApplication
from venues.simulator.venue import InstrumentSpec, Venue

D = Decimal


class FakeOutbox:
    """What the acceptor queues for one session, in order."""

    def __init__(self) -> None:
        self.messages: list[fix.Message] = []

    def put(self, message: fix.Message, not_before: float, sent=None) -> None:
        self.messages.append(message)

    def types(self) -> list[str]:
        return [m.getHeader().getField(35) for m in self.messages]


@pytest.fixture
def app() -> VenueApplication:
    venue = Venue("XSIM", [InstrumentSpec(s, D("0.01"), D(1)) for s in ("AAPL", "MSFT")])
    application = VenueApplication(venue)
    for owner in ("OMS", "CPTY"):
        application.outboxes[owner] = FakeOutbox()  # type: ignore[assignment]
    return application


def rest(app: VenueApplication, owner: str, cl_ord_id: str, symbol: str = "AAPL") -> None:
    app.venue.new_order(owner, cl_ord_id, symbol, Side.BUY, D(10), D("10.00"), TimeInForce.DAY)


def receive(app: VenueApplication, message: fix.Message, owner: str = "OMS") -> FakeOutbox:
    app.fromApp(message, fix.SessionID("FIX.4.4", "XSIM", owner))
    return app.outboxes[owner]  # type: ignore[return-value]


def test_a_mass_cancel_is_acknowledged_then_each_order_gets_its_canceled_report(app):
    for cl_ord_id, symbol in (("1:c1", "AAPL"), ("2:c1", "MSFT")):
        rest(app, "OMS", cl_ord_id, symbol)
    rest(app, "CPTY", "x1")

    outbox = receive(app, order_mass_cancel_request_message("MC-1", "all"))

    assert outbox.types() == ["r", "8", "8"]
    answer = parse_order_mass_cancel_report(outbox.messages[0])
    assert (answer.cl_ord_id, answer.request_type, answer.response, answer.total_affected) == ("MC-1", "all", "all", 2)
    reports = [parse_execution_report(getter(m)) for m in outbox.messages[1:]]
    assert {(r.cl_ord_id, r.orig_cl_ord_id, r.exec_type.value, r.ord_status.value) for r in reports} == {
        ("MC-1", "1:c1", "canceled", "canceled"), ("MC-1", "2:c1", "canceled", "canceled")}  # fmt: skip
    assert answer.affected == tuple(AffectedOrder(r.orig_cl_ord_id, r.order_id) for r in reports)
    assert app.outboxes["CPTY"].types() == []  # type: ignore[attr-defined]
    assert app.venue.status("CPTY", "x1").ord_status.value == "new"


def test_a_mass_cancel_by_security_cancels_only_that_symbol(app):
    rest(app, "OMS", "1:c1", "AAPL")
    rest(app, "OMS", "2:c1", "MSFT")
    outbox = receive(app, order_mass_cancel_request_message("MC-1", "security", "MSFT"))
    answer = parse_order_mass_cancel_report(outbox.messages[0])
    assert (answer.response, answer.total_affected, outbox.types()) == ("security", 1, ["r", "8"])
    assert outbox.messages[1].getField(41) == "2:c1"


@pytest.mark.parametrize(
    ("request_type", "symbol", "reason"),
    [("product", None, "not_supported"), ("trading_session", None, "not_supported"),
     ("security", "NOPE", "unknown_security")],
)  # fmt: skip
def test_a_mass_cancel_the_venue_cannot_serve_is_rejected_and_cancels_nothing(app, request_type, symbol, reason):
    rest(app, "OMS", "1:c1")
    outbox = receive(app, order_mass_cancel_request_message("MC-1", request_type, symbol))
    [answer] = [parse_order_mass_cancel_report(m) for m in outbox.messages]
    assert (answer.rejected, answer.reject_reason, answer.request_type, answer.total_affected) == (
        True, reason, request_type, 0)  # fmt: skip
    assert outbox.messages[0].getField(531) == "0"
    assert app.venue.status("OMS", "1:c1").ord_status.value == "new"


def test_a_mass_cancel_by_security_without_its_symbol_is_rejected(app):
    message = order_mass_cancel_request_message("MC-1", "all")
    message.setField(530, "1")  # 55 left out
    [answer] = [parse_order_mass_cancel_report(m) for m in receive(app, message).messages]
    assert (answer.rejected, answer.reject_reason, answer.cl_ord_id) == (True, "unknown_security", "MC-1")


def test_the_reject_all_fault_rejects_a_mass_cancel(app):
    rest(app, "OMS", "1:c1")
    app.faults["OMS"].apply(FaultSettings(reject_all=True))
    outbox = receive(app, order_mass_cancel_request_message("MC-1", "all"))
    [answer] = [parse_order_mass_cancel_report(m) for m in outbox.messages]
    assert (answer.rejected, answer.reject_reason) == (True, "other")


def test_a_mass_cancels_reports_go_through_the_sessions_drop_fault(app):
    rest(app, "OMS", "1:c1")
    rest(app, "OMS", "2:c1")
    app.faults["OMS"].apply(FaultSettings(drop_exec_reports=1))
    outbox = receive(app, order_mass_cancel_request_message("MC-1", "all"))
    assert outbox.types() == ["r", "8"]  # the 35=r counts both; the first report was dropped
    assert parse_order_mass_cancel_report(outbox.messages[0]).total_affected == 2
