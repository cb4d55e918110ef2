"""The simulated venue's session-facing behaviour: the reports each owner gets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.domain.values import ExecType, OrdStatus
from venues.simulator.book import Side, TimeInForce
from venues.simulator.venue import CancelReject, ExecReport, InstrumentSpec, Venue

D = Decimal


@pytest.fixture
def venue() -> Venue:
    return Venue("XSIM", [InstrumentSpec("AAPL", D("0.01"), D(1))])


def kinds(reports) -> list[tuple[str, str, str]]:
    return [
        (r.owner, r.exec_type.value, r.ord_status.value) if isinstance(r, ExecReport) else (r.owner, "reject", r.reason)
        for r in reports
    ]


def test_a_resting_order_is_acknowledged(venue):
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    assert kinds(reports) == [("oms", "new", "new")]
    assert reports[0].leaves_qty == 100 and reports[0].order_id.startswith("XSIM-")


def test_a_cross_reports_to_both_owners_with_unique_exec_ids(venue):
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(60), D("10.00"), TimeInForce.DAY)
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    assert kinds(reports) == [("oms", "new", "new"), ("oms", "trade", "partially_filled"), ("mm", "trade", "filled")]
    fill = reports[1]
    assert (fill.last_qty, fill.last_px, fill.cum_qty, fill.leaves_qty) == (D(60), D("10.00"), D(60), D(40))
    assert len({r.exec_id for r in reports}) == len(reports)
    assert venue.positions["oms"]["AAPL"] == 60 and venue.positions["mm"]["AAPL"] == -60


def test_a_repeated_cl_ord_id_is_refused_and_never_executes_twice(venue):
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(500), D("10.00"), TimeInForce.DAY)
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    again = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    assert kinds(again) == [("oms", "rejected", "rejected")] and again[0].reject_reason == "duplicate"
    assert venue.positions["oms"]["AAPL"] == 100


def test_the_same_cl_ord_id_on_another_session_is_a_different_order(venue):
    venue.new_order("a", "c1", "AAPL", Side.BUY, D(1), D("10.00"), TimeInForce.DAY)
    reports = venue.new_order("b", "c1", "AAPL", Side.BUY, D(1), D("10.00"), TimeInForce.DAY)
    assert kinds(reports) == [("b", "new", "new")]


@pytest.mark.parametrize(
    ("symbol", "qty", "price", "reason"),
    [("MSFT", 1, "10.00", "unknown_symbol"), ("AAPL", 0, "10.00", "incorrect_quantity"),
     ("AAPL", 1, "10.001", "invalid_price")],
)  # fmt: skip
def test_bad_orders_are_rejected_with_a_reason(venue, symbol, qty, price, reason):
    reports = venue.new_order("oms", "c1", symbol, Side.BUY, D(qty), D(price), TimeInForce.DAY)
    assert reports[0].exec_type is ExecType.REJECTED and reports[0].reject_reason == reason


def test_cancel_then_too_late_to_cancel_again(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    canceled = venue.cancel("oms", "c2", "c1")
    assert kinds(canceled) == [("oms", "canceled", "canceled")]
    assert canceled[0].cl_ord_id == "c2" and canceled[0].orig_cl_ord_id == "c1"
    late = venue.cancel("oms", "c3", "c1")
    assert isinstance(late[0], CancelReject) and late[0].reason == "too_late"


def test_cancel_of_an_unknown_order_is_refused(venue):
    refused = venue.cancel("oms", "c2", "nope")
    assert isinstance(refused[0], CancelReject) and refused[0].reason == "unknown_order"


def test_replace_changes_size_and_can_trade(venue):
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(50), D("10.05"), TimeInForce.DAY)
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    reports = venue.replace("oms", "c2", "c1", D(150), D("10.05"))
    assert kinds(reports)[0] == ("oms", "replaced", "new")
    assert reports[0].order_qty == 150 and reports[0].cl_ord_id == "c2"
    assert ("oms", "trade", "partially_filled") in kinds(reports)


def test_ioc_remainder_expires(venue):
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(30), D("10.00"), TimeInForce.DAY)
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.IOC)
    assert kinds(reports)[-1] == ("oms", "expired", "expired") and reports[-1].cum_qty == 30


def test_status_request_answers_with_the_current_state(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(40), D("10.00"), TimeInForce.DAY)
    status = venue.status("oms", "c1")
    assert status.exec_type is ExecType.ORDER_STATUS and status.ord_status is OrdStatus.PARTIALLY_FILLED
    assert status.cum_qty == 40 and venue.status("oms", "unknown") is None


def test_each_trade_report_carries_the_totals_as_of_that_fill(venue):
    venue.new_order("mm", "s1", "AAPL", Side.SELL, D(100), D("10.00"), TimeInForce.DAY)
    venue.new_order("mm", "s2", "AAPL", Side.SELL, D(100), D("10.01"), TimeInForce.DAY)
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(250), D("10.01"), TimeInForce.IOC)
    mine = [r for r in reports if r.owner == "oms" and r.exec_type is ExecType.TRADE]
    assert [(r.cum_qty, r.leaves_qty, r.ord_status) for r in mine] == [
        (D(100), D(150), OrdStatus.PARTIALLY_FILLED),
        (D(200), D(50), OrdStatus.PARTIALLY_FILLED),
    ]
    assert mine[0].avg_px == D("10.00")
    assert reports[-1].exec_type is ExecType.EXPIRED


def test_a_replace_without_a_price_keeps_the_price(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("9.00"), TimeInForce.DAY)
    venue.new_order("mm", "s1", "AAPL", Side.SELL, D(10), D("20.00"), TimeInForce.DAY)
    reports = venue.replace("oms", "c2", "c1", D(20), None)
    assert reports[0].exec_type is ExecType.REPLACED and reports[0].price == D("9.00")
    assert not [r for r in reports if r.exec_type is ExecType.TRADE]


def test_a_replace_off_the_tick_is_refused(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("9.00"), TimeInForce.DAY)
    refused = venue.replace("oms", "c2", "c1", D(10), D("9.001"))
    assert isinstance(refused[0], CancelReject) and refused[0].response_to == "replace"


def test_a_resent_order_is_refused_naming_the_order_that_has_the_cl_ord_id(venue):
    first = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("9.00"), TimeInForce.DAY)
    again = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("9.00"), TimeInForce.DAY)
    assert again[0].reject_reason == "duplicate" and again[0].order_id == first[0].order_id
