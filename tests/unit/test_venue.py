"""The simulated venue's session-facing behaviour: the reports each owner gets, the positions and
last trades it keeps, the market data it shows and when, and its built-in participants."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.domain.values import ExecType, OrdStatus
from venues.simulator import market_data
from venues.simulator.book import Side, TimeInForce
from venues.simulator.liquidity import MarketMaker, NoiseTrader
from venues.simulator.market_data import BID, OFFER, TRADE, Entry, MarketDataFeed, MarketDataRequest
from venues.simulator.venue import CancelReject, ExecReport, InstrumentSpec, Venue

D = Decimal
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


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
    assert kinds(again) == [("oms", "rejected", "rejected")] and again[0].reject_reason == "duplicate_cl_ord_id"
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
    assert again[0].reject_reason == "duplicate_cl_ord_id" and again[0].order_id == first[0].order_id


# -- status of an unknown order ------------------------------------------------------------------------


def test_the_status_of_an_unknown_order_is_an_order_status_report_not_a_rejection(venue):
    report = venue.unknown_order_status("oms", "nope", "MSFT", Side.SELL)
    assert (report.exec_type, report.ord_status, report.reject_reason) == (
        ExecType.ORDER_STATUS, OrdStatus.REJECTED, "unknown_order")  # fmt: skip
    assert (report.order_id, report.cl_ord_id, report.symbol, report.side) == ("NONE", "nope", "MSFT", Side.SELL)
    assert report.cum_qty == report.leaves_qty == report.order_qty == 0 and report.text == "unknown order"


# -- refusals for fault injection ------------------------------------------------------------------------


def test_an_order_refused_outright_never_rests_and_uses_up_its_cl_ord_id(venue):
    [refused] = venue.reject_new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), "no")
    assert (refused.exec_type, refused.ord_status, refused.text) == (ExecType.REJECTED, OrdStatus.REJECTED, "no")
    assert venue.books["AAPL"].best_bid() is None
    assert venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)[0].reject_reason == (
        "duplicate_cl_ord_id")  # fmt: skip


def test_a_request_refused_outright_names_the_order_as_it_stands(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    [refused] = venue.refuse_request("oms", "c2", "c1", "replace", "no")
    assert isinstance(refused, CancelReject)
    assert (refused.ord_status, refused.response_to, refused.order_id) == (OrdStatus.NEW, "replace", "XSIM-1")
    [unknown] = venue.refuse_request("oms", "c3", "nope", "cancel", "no")
    assert (unknown.order_id, unknown.ord_status) == ("NONE", OrdStatus.REJECTED)
    assert venue.status("oms", "c1").ord_status is OrdStatus.NEW  # nothing changed


def test_a_fill_after_cancel_fills_the_canceled_remainder_at_the_limit(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(4), D("9.90"), TimeInForce.DAY)
    assert venue.fill_after_cancel("oms", "c1") == []  # still open: nothing raced anything
    venue.cancel("oms", "c2", "c1")
    [late] = venue.fill_after_cancel("oms", "c2")
    assert (late.exec_type, late.ord_status, late.cl_ord_id) == (ExecType.TRADE, OrdStatus.FILLED, "c2")
    assert (late.last_qty, late.last_px, late.cum_qty, late.leaves_qty) == (D(6), D("10.00"), D(10), D(0))
    assert late.avg_px == D("10.00")
    assert venue.positions_of("oms") == {"AAPL": D(10)}
    assert venue.status("oms", "c2").ord_status is OrdStatus.FILLED
    assert venue.fill_after_cancel("oms", "c2") == []  # nothing open any more


# -- mass cancel -------------------------------------------------------------------------------------------


@pytest.fixture
def two_symbols() -> Venue:
    return Venue("XSIM", [InstrumentSpec(s, D("0.01"), D(1)) for s in ("AAPL", "MSFT")])


def test_a_mass_cancel_cancels_every_live_order_of_the_session_and_only_those(two_symbols):
    venue = two_symbols
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    venue.new_order("oms", "c2", "AAPL", Side.SELL, D(5), D("11.00"), TimeInForce.DAY)
    venue.new_order("oms", "c3", "MSFT", Side.BUY, D(7), D("20.00"), TimeInForce.GTC)
    venue.new_order("mm", "q1", "MSFT", Side.SELL, D(3), D("20.00"), TimeInForce.DAY)  # c3: 3 of 7 filled
    venue.new_order("oms", "c4", "AAPL", Side.BUY, D(1), D("9.00"), TimeInForce.DAY)
    venue.cancel("oms", "c5", "c4")  # over already: not canceled again
    venue.new_order("mm", "q2", "AAPL", Side.BUY, D(9), D("9.50"), TimeInForce.DAY)  # another owner's

    done = venue.mass_cancel("oms", "MC-1")

    assert done.reject_reason is None and done.mass_id.startswith("XSIM-M")
    assert kinds(done.canceled) == [("oms", "canceled", "canceled")] * 3
    by_order = {r.orig_cl_ord_id: r for r in done.canceled}
    assert set(by_order) == {"c1", "c2", "c3"} and {r.cl_ord_id for r in done.canceled} == {"MC-1"}
    partly = by_order["c3"]
    assert (partly.cum_qty, partly.leaves_qty, partly.avg_px, partly.order_qty) == (D(3), D(0), D("20.00"), D(7))
    assert len({r.exec_id for r in done.canceled}) == 3
    assert [o.owner for b in venue.books.values() for o in b.resting()] == ["mm"]


def test_a_mass_cancel_by_security_leaves_the_other_symbols_working(two_symbols):
    venue = two_symbols
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    venue.new_order("oms", "c2", "MSFT", Side.BUY, D(10), D("20.00"), TimeInForce.DAY)
    done = venue.mass_cancel("oms", "MC-1", "MSFT")
    assert [(r.orig_cl_ord_id, r.symbol) for r in done.canceled] == [("c2", "MSFT")]
    assert venue.status("oms", "c1").ord_status is OrdStatus.NEW


def test_an_order_keeps_its_own_cl_ord_id_after_a_mass_cancel(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    venue.replace("oms", "c2", "c1", D(20), D("10.00"))
    [report] = venue.mass_cancel("oms", "MC-1").canceled
    assert (report.cl_ord_id, report.orig_cl_ord_id) == ("MC-1", "c2")  # 41: its ClOrdID now
    assert venue.status("oms", "c2").ord_status is OrdStatus.CANCELED
    [late] = venue.cancel("oms", "c3", "c2")
    assert isinstance(late, CancelReject) and late.reason == "too_late"


def test_a_mass_cancel_with_nothing_live_cancels_nothing_and_says_so(venue):
    done = venue.mass_cancel("oms", "MC-1")
    assert (done.canceled, done.reject_reason) == ([], None)


@pytest.mark.parametrize(
    ("cl_ord_id", "symbol", "reason"), [("MC-1", "NOPE", "unknown_security"), ("c1", None, "other")]
)
def test_a_mass_cancel_of_an_unknown_symbol_or_under_a_used_cl_ord_id_cancels_nothing(venue, cl_ord_id, symbol,
                                                                                      reason):  # fmt: skip
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    refused = venue.mass_cancel("oms", cl_ord_id, symbol)
    assert (refused.canceled, refused.reject_reason) == ([], reason)
    assert venue.status("oms", "c1").ord_status is OrdStatus.NEW


def test_a_mass_cancel_refused_outright_uses_up_its_cl_ord_id(venue):
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    assert venue.refuse_mass_cancel("oms", "MC-1", "not_supported", "no").reject_reason == "not_supported"
    assert venue.mass_cancel("oms", "MC-1").reject_reason == "other"
    assert venue.status("oms", "c1").ord_status is OrdStatus.NEW


# -- positions and the tape --------------------------------------------------------------------------------


def test_positions_leave_out_flat_symbols():
    venue = Venue("XSIM", [InstrumentSpec(s, D("0.01"), D(1)) for s in ("AAPL", "MSFT")])
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(5), D("10.00"), TimeInForce.DAY)
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(5), D("10.00"), TimeInForce.DAY)
    venue.new_order("mm", "q2", "MSFT", Side.SELL, D(5), D("20.00"), TimeInForce.DAY)
    venue.new_order("oms", "c2", "MSFT", Side.BUY, D(5), D("20.00"), TimeInForce.DAY)
    venue.new_order("mm", "q3", "MSFT", Side.BUY, D(5), D("20.00"), TimeInForce.DAY)
    venue.new_order("oms", "c3", "MSFT", Side.SELL, D(5), D("20.00"), TimeInForce.DAY)
    assert venue.positions_of("oms") == {"AAPL": D(5)} and venue.positions_of("mm") == {"AAPL": D(-5)}
    assert venue.positions_of("nobody") == {}


def test_every_trade_is_the_symbols_last_trade_in_turn():
    venue = Venue("XSIM", [InstrumentSpec("AAPL", D("0.01"), D(1))], clock=lambda: NOON)
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(3), D("10.00"), TimeInForce.DAY)
    venue.new_order("mm", "q2", "AAPL", Side.SELL, D(3), D("10.01"), TimeInForce.DAY)
    assert "AAPL" not in venue.last_trades
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(4), None, TimeInForce.IOC)
    last = venue.last_trades["AAPL"]
    assert (last.price, last.quantity, last.at, last.sequence) == (D("10.01"), D(1), NOON, 2)


# -- market data -----------------------------------------------------------------------------------------


def test_a_snapshot_shows_the_best_prices_with_their_total_size_and_the_last_trade(venue):
    assert market_data.entries(venue, "AAPL") == ()
    for cl, side, qty, price in (("b1", Side.BUY, 3, "9.99"), ("b2", Side.BUY, 4, "9.99"), ("b3", Side.BUY, 9, "9.98"),
                                 ("a1", Side.SELL, 5, "10.01"), ("a2", Side.SELL, 6, "10.02")):  # fmt: skip
        venue.new_order("mm", cl, "AAPL", side, D(qty), D(price), TimeInForce.DAY)
    assert market_data.entries(venue, "AAPL") == (Entry(BID, D("9.99"), D(7)), Entry(OFFER, D("10.01"), D(5)))
    venue.new_order("oms", "c1", "AAPL", Side.BUY, D(2), None, TimeInForce.IOC)
    shown = market_data.entries(venue, "AAPL", (OFFER, TRADE))
    assert [(e.type, e.price, e.size) for e in shown] == [(OFFER, D("10.01"), D(3)), (TRADE, D("10.01"), D(2))]


def test_a_deeper_snapshot_shows_each_level_best_first(venue):
    for cl, side, qty, price in (("b1", Side.BUY, 3, "9.99"), ("b2", Side.BUY, 9, "9.98"), ("b3", Side.BUY, 1, "9.97"),
                                 ("a1", Side.SELL, 5, "10.01"), ("a2", Side.SELL, 6, "10.02")):  # fmt: skip
        venue.new_order("mm", cl, "AAPL", side, D(qty), D(price), TimeInForce.DAY)
    two = market_data.entries(venue, "AAPL", (BID, OFFER), depth=2)
    assert [(e.type, e.price, e.size) for e in two] == [
        (BID, D("9.99"), D(3)), (BID, D("9.98"), D(9)), (OFFER, D("10.01"), D(5)), (OFFER, D("10.02"), D(6)),
    ]  # fmt: skip
    full = market_data.entries(venue, "AAPL", (BID,), depth=0)
    assert [e.price for e in full] == [D("9.99"), D("9.98"), D("9.97")]


def request(*symbols: str, subscription: str = "subscribe", depth: int = 1, update_type: str | None = None,
            types: tuple[str, ...] = (BID, OFFER, TRADE)) -> MarketDataRequest:  # fmt: skip
    return MarketDataRequest("md1", subscription, depth, update_type, types, symbols)


@pytest.mark.parametrize(
    ("md_request", "active", "reason"),
    [
        (request("AAPL"), False, None),
        (request("AAPL", "NOPE"), False, None),  # served but for NOPE: see unknown_symbols
        (request(), False, "unknown_symbol"),
        (request("AAPL"), True, "duplicate_md_req_id"),
        (request("AAPL", subscription="snapshot"), True, None),
        (request("AAPL", depth=0), False, None),  # the full book
        (request("AAPL", depth=5), False, None),
        (request("AAPL", update_type="1"), False, "unsupported_md_update_type"),
        (request("AAPL", types=(BID, "4")), False, "unsupported_md_entry_type"),
    ],
)
def test_market_data_requests_are_refused_whole_only_for_what_concerns_all_symbols(md_request, active, reason):
    refused = market_data.refusal(md_request, active)
    assert (refused[0] if refused else None) == reason


def test_unknown_symbols_are_singled_out():
    assert market_data.unknown_symbols(request("AAPL", "NOPE", "MSFT", "ZZZ"), ["AAPL", "MSFT"]) == ("NOPE", "ZZZ")
    assert market_data.unknown_symbols(request("AAPL"), ["AAPL", "MSFT"]) == ()


class Quotes:
    """What each symbol shows, set by the test."""

    def __init__(self) -> None:
        self.shown: dict[str, tuple[Entry, ...]] = {}

    def __call__(self, symbol: str, types: tuple[str, ...], depth: int = 1) -> tuple[Entry, ...]:
        return tuple(e for e in self.shown.get(symbol, ()) if e.type in types)

    def bid(self, symbol: str, price: str, size: int = 1) -> None:
        self.shown[symbol] = (Entry(BID, D(price), D(size)),)


def test_a_subscription_gets_a_snapshot_at_once_then_only_changes_at_most_every_interval():
    quotes, feed = Quotes(), MarketDataFeed(min_interval=0.2)
    quotes.bid("AAPL", "10.00")
    first = feed.subscribe(request("AAPL", "MSFT"), "oms", quotes, now=0.0)
    assert [(s.symbol, s.entries) for s in first] == [("AAPL", (Entry(BID, D("10.00"), D(1)),)), ("MSFT", ())]
    quotes.bid("AAPL", "10.01")
    assert feed.due(quotes, now=0.1) == []  # too soon
    assert [s.entries[0].price for s in feed.due(quotes, now=0.2)] == [D("10.01")]
    assert feed.due(quotes, now=5.0) == []  # nothing changed
    quotes.bid("AAPL", "10.02")
    quotes.bid("AAPL", "10.01")
    assert feed.due(quotes, now=5.1) == []  # changed and changed back: nothing to tell
    quotes.bid("AAPL", "10.03")
    assert len(feed.due(quotes, now=5.2)) == 1  # long after the last one: at once


def test_a_new_trade_at_the_same_price_and_size_is_news():
    quotes, feed = Quotes(), MarketDataFeed()
    quotes.shown["AAPL"] = (Entry(TRADE, D(10), D(1), NOON, sequence=1),)
    feed.subscribe(request("AAPL"), "oms", quotes, now=0.0)
    quotes.shown["AAPL"] = (Entry(TRADE, D(10), D(1), NOON, sequence=2),)
    assert len(feed.due(quotes, now=1.0)) == 1


def test_only_the_requested_entry_types_count_as_changes():
    quotes, feed = Quotes(), MarketDataFeed()
    quotes.bid("AAPL", "10.00")
    feed.subscribe(request("AAPL", types=(OFFER,)), "oms", quotes, now=0.0)
    quotes.bid("AAPL", "10.01")
    assert feed.due(quotes, now=1.0) == []


def test_unsubscribe_and_logout_end_subscriptions():
    quotes, feed = Quotes(), MarketDataFeed()
    feed.subscribe(request("AAPL"), "oms", quotes, now=0.0)
    feed.subscribe(MarketDataRequest("md2", "subscribe", 1, None, (BID,), ("AAPL",)), "oms", quotes, now=0.0)
    feed.subscribe(request("AAPL"), "other", quotes, now=0.0)
    assert feed.unsubscribe("oms", "md1") and not feed.unsubscribe("oms", "md1")
    feed.end_session("other")
    quotes.bid("AAPL", "10.00")
    assert [(s.owner, s.md_req_id) for s in feed.due(quotes, now=1.0)] == [("oms", "md2")]


@given(st.lists(st.tuples(st.integers(1, 150), st.integers(0, 3)), min_size=1, max_size=60))
def test_snapshots_of_a_symbol_are_never_closer_than_the_interval_and_the_last_state_gets_out(steps):
    """Clock ticks of 1-150 ms, each maybe changing the bid: whatever the pattern, two snapshots
    are at least 200 ms apart, and once the book rests, the subscriber ends up seeing it."""
    quotes, feed = Quotes(), MarketDataFeed(min_interval=0.2)
    now_ms = 0
    sent_at = [now_ms]
    [first] = feed.subscribe(request("AAPL"), "oms", quotes, now=0.0)
    shown = first.entries
    for tick_ms, bid in steps:
        now_ms += tick_ms
        if bid:
            quotes.bid("AAPL", f"10.0{bid}")
        for snapshot in feed.due(quotes, now=now_ms / 1000):
            sent_at.append(now_ms)
            shown = snapshot.entries
    assert all(b - a >= 200 for a, b in itertools.pairwise(sent_at))
    for snapshot in feed.due(quotes, now=(now_ms + 200) / 1000):
        shown = snapshot.entries
    assert shown == quotes("AAPL", (BID, OFFER, TRADE))


# -- built-in participants ---------------------------------------------------------------------------------


def test_the_makers_quote_sizes_come_from_their_seed_within_bounds():
    def sizes(seed: int) -> list[Decimal]:
        venue = Venue("XSIM", [InstrumentSpec("AAPL", D("0.01"), D(1))])
        MarketMaker(venue.instruments["AAPL"], D("190.00"), size_lots=5, rng=random.Random(seed)).step(venue)
        book = venue.books["AAPL"]
        return [size for _, size in book.depth(Side.BUY) + book.depth(Side.SELL)]

    assert all(5 <= size <= 10 for size in sizes(1)) and sizes(1) == sizes(1)
    assert sizes(1) != sizes(2)


def test_the_noise_trader_takes_the_top_of_the_book_and_prints_a_trade():
    venue = Venue("XSIM", [InstrumentSpec("AAPL", D("0.01"), D(1))])
    spec = venue.instruments["AAPL"]
    maker = MarketMaker(spec, D("190.00"), rng=random.Random(1))
    noise = NoiseTrader(spec, probability=1.0, rng=random.Random(1))
    maker.step(venue)
    bid, ask = venue.books["AAPL"].best_bid(), venue.books["AAPL"].best_ask()
    reports = noise.step(venue)
    fills = [r for r in reports if isinstance(r, ExecReport) and r.owner == "noise" and r.exec_type is ExecType.TRADE]
    assert len(fills) == 1 and fills[0].last_qty == 1 and fills[0].last_px in (bid, ask)
    assert venue.last_trades["AAPL"].price == fills[0].last_px
    assert NoiseTrader(spec, probability=0.0).step(venue) == []


def test_a_busted_fill_comes_off_the_order_and_the_position_and_names_the_fill(venue):
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(100), D("10.00"), TimeInForce.DAY)
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    fill = next(r for r in reports if r.owner == "oms" and r.exec_type is ExecType.TRADE)

    (bust,) = venue.bust(fill)

    assert (bust.exec_type, bust.ord_status, bust.exec_ref_id) == (
        ExecType.TRADE_CANCEL,
        OrdStatus.CANCELED,
        fill.exec_id,
    )
    assert (bust.last_qty, bust.cum_qty, bust.leaves_qty) == (D(100), D(0), D(0))
    assert venue.positions_of("oms") == {}
    assert venue.status("oms", "c1").cum_qty == 0


def test_only_a_fill_that_completed_its_order_is_busted(venue):
    venue.new_order("mm", "q1", "AAPL", Side.SELL, D(60), D("10.00"), TimeInForce.DAY)
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(100), D("10.00"), TimeInForce.DAY)
    partial = next(r for r in reports if r.owner == "oms" and r.exec_type is ExecType.TRADE)

    assert venue.bust(partial) == []
    assert venue.positions_of("oms") == {"AAPL": D(60)}
