"""Reconciliation, pure: the comparison of a venue's answer with the OMS's books, the breaks a
run opens, keeps and clears, a person's resolution, and a position adjustment's arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from orders.domain.positions import Position, apply_adjustment, apply_fill
from orders.domain.values import Side
from reconciliation.domain import breaks as recon
from reconciliation.domain import events as rev
from reconciliation.domain.compare import (
    MISSING,
    Difference,
    OrderFigure,
    VenuePosition,
    compare_orders,
    compare_positions,
)

D = Decimal
AT = 1_700_000_000_000_000_000


def fold(events, breaks=None):
    breaks = dict(breaks or {})
    for event in events:
        breaks[event.stream_id] = recon.apply(breaks.get(event.stream_id), event)
    return breaks


def run(breaks, differences, *, venue="X", accounts=("A",), orders_checked=True, run_id="r"):
    events = recon.decide_run(breaks, venue=venue, accounts=accounts, orders_checked=orders_checked,
                              differences=differences, at_ns=AT, run_id=run_id)  # fmt: skip
    return events, fold(events, breaks)


def position_difference(oms="100", venue_qty="90", account="A", symbol="AAPL", venue="X"):
    return Difference("position", venue, account, symbol, D(oms), D(venue_qty), venue_price=D("10"))


# -- positions ------------------------------------------------------------------------------------


def test_equal_positions_show_no_difference_and_a_symbol_one_side_lacks_counts_as_flat():
    theirs = {("A", "AAPL"): VenuePosition(D(100)), ("A", "MSFT"): VenuePosition(D(5))}
    ours = {("A", "AAPL"): D(100), ("A", "NVDA"): D(3)}
    found = compare_positions("X", ["A"], theirs, ours)
    assert [(d.subject, d.oms_quantity, d.venue_quantity) for d in found] == [("MSFT", 0, 5), ("NVDA", 3, 0)]


def test_an_account_not_asked_about_is_left_out():
    assert compare_positions("X", ["A"], {}, {("B", "AAPL"): D(100)}) == []


def test_a_difference_within_the_threshold_is_no_break_and_one_beyond_it_is():
    theirs = {("A", "AAPL"): VenuePosition(D(100), D("12.5"))}
    assert compare_positions("X", ["A"], theirs, {("A", "AAPL"): D(99)}, threshold=D(1)) == []
    (found,) = compare_positions("X", ["A"], theirs, {("A", "AAPL"): D(98)}, threshold=D(1))
    assert (found.oms_quantity, found.venue_quantity, found.venue_price) == (98, 100, D("12.5"))
    assert found.text == "X A AAPL: the OMS holds 98, the venue reports 100"


@given(
    st.dictionaries(st.sampled_from(["AAPL", "MSFT", "NVDA"]), st.integers(-50, 50)),
    st.dictionaries(st.sampled_from(["AAPL", "MSFT", "NVDA"]), st.integers(-50, 50)),
    st.integers(0, 10),
)
@PROPERTY_SETTINGS
def test_a_position_differs_exactly_when_the_quantities_are_further_apart_than_the_threshold(ours, theirs, threshold):
    found = compare_positions("X", ["A"], {("A", s): VenuePosition(D(q)) for s, q in theirs.items()},
                              {("A", s): D(q) for s, q in ours.items()}, D(threshold))  # fmt: skip
    expected = {s for s in set(ours) | set(theirs) if abs(theirs.get(s, 0) - ours.get(s, 0)) > threshold}
    assert {d.subject for d in found} == expected
    assert all(d.venue_quantity - d.oms_quantity == theirs.get(d.subject, 0) - ours.get(d.subject, 0) for d in found)


# -- orders ---------------------------------------------------------------------------------------


def test_orders_missing_on_either_side_or_with_another_status_or_cum_qty_are_differences():
    theirs = {
        "1": OrderFigure("A", "AAPL", "new", D(0)),  # same
        "2": OrderFigure("A", "AAPL", "partially_filled", D(40)),  # the OMS has less filled
        "3": OrderFigure("A", "AAPL", "new", D(0)),  # the OMS does not hold it open
        "9": OrderFigure("A", "AAPL", "new", D(0)),  # the OMS has it canceled
    }
    ours_open = {
        "1": OrderFigure("A", "AAPL", "new", D(0)),
        "2": OrderFigure("A", "AAPL", "partially_filled", D(30)),
        "4": OrderFigure("A", "AAPL", "new", D(0)),  # the venue does not have it
    }
    ours_other = {"9": OrderFigure("A", "AAPL", "canceled", D(0))}
    found = {d.subject: d for d in compare_orders("X", theirs, ours_open, ours_other)}
    assert set(found) == {"2", "3", "4", "9"}
    assert (found["3"].oms_status, found["3"].venue_status) == (MISSING, "new")
    assert (found["4"].oms_status, found["4"].venue_status, found["4"].venue_quantity) == ("new", MISSING, None)
    assert (found["9"].oms_status, found["9"].venue_status) == ("canceled", "new")
    assert "(partially filled, 30 filled at the OMS, partially filled, 40 filled at the venue)" in found["2"].text


@pytest.mark.parametrize("pending", ["pending_new", "pending_cancel", "pending_replace"])
def test_a_request_in_flight_compares_as_the_working_status_it_stands_on(pending):
    theirs = {"1": OrderFigure("A", "AAPL", "new", D(0)), "2": OrderFigure("A", "AAPL", "partially_filled", D(5))}
    ours = {"1": OrderFigure("A", "AAPL", pending, D(0)), "2": OrderFigure("A", "AAPL", pending, D(5))}
    assert compare_orders("X", theirs, ours) == []


# -- breaks: a run --------------------------------------------------------------------------------


def test_a_difference_opens_a_break_with_both_figures():
    events, breaks = run({}, [position_difference()])
    (opened,) = events
    assert isinstance(opened, rev.ReconciliationBreak)
    assert (opened.stream_id, opened.oms_quantity, opened.venue_quantity, opened.kind) == (1, 100, 90, "position")
    assert breaks[1].is_open and breaks[1].version == 1


def test_the_same_difference_on_the_next_run_records_nothing():
    _, breaks = run({}, [position_difference()])
    events, after = run(breaks, [position_difference()])
    assert events == [] and after == breaks


def test_a_difference_gone_on_the_next_run_clears_the_break_and_says_so():
    _, breaks = run({}, [position_difference()])
    (cleared,), after = run(breaks, [])
    assert isinstance(cleared, rev.ReconciliationBreakCleared) and cleared.superseded_by is None
    assert "cleared on the next run" in cleared.text and after[1].status == recon.CLEARED


def test_a_changed_difference_supersedes_the_open_break():
    _, breaks = run({}, [position_difference(venue_qty="90")])
    events, after = run(breaks, [position_difference(venue_qty="80")])
    assert [type(e).__name__ for e in events] == ["ReconciliationBreakCleared", "ReconciliationBreak"]
    assert events[0].superseded_by == 2 and after[1].status == recon.CLEARED and after[2].venue_quantity == 80


def test_breaks_outside_the_runs_scope_stay_open():
    _, breaks = run({}, [position_difference(account="A"), position_difference(account="B")], accounts=("A", "B"))
    order_break = Difference("order", "X", "A", "7", D(0), None, "new", MISSING)
    _, breaks = run(breaks, [order_break], accounts=())
    events, after = run(breaks, [], venue="Y", accounts=("A", "B"))  # another venue
    assert events == []
    events, after = run(breaks, [], accounts=("A",), orders_checked=False)  # B not asked, orders not asked
    assert [(type(e).__name__, e.stream_id) for e in events] == [("ReconciliationBreakCleared", 1)]
    assert after[2].is_open and after[3].is_open


def test_a_dismissed_difference_stays_quiet_until_it_changes():
    _, breaks = run({}, [position_difference()])
    breaks = fold(recon.decide_resolution(breaks, break_id=1, resolution="dismiss", reason="known", at_ns=AT), breaks)
    events, _ = run(breaks, [position_difference()])
    assert events == []
    (opened,), _ = run(breaks, [position_difference(venue_qty="70")])
    assert isinstance(opened, rev.ReconciliationBreak) and opened.stream_id == 2


# -- breaks: a person's resolution ----------------------------------------------------------------


def test_accepting_books_an_adjustment_to_the_venues_figure_then_resolves():
    _, breaks = run({}, [position_difference(oms="100", venue_qty="90")])
    adjusted, resolved = recon.decide_resolution(breaks, break_id=1, resolution="accept", reason="venue is right",
                                                 at_ns=AT)  # fmt: skip
    assert isinstance(adjusted, rev.PositionAdjusted) and adjusted.quantity == -10 and adjusted.price == 10
    assert (adjusted.venue, adjusted.account, adjusted.symbol) == ("X", "A", "AAPL")
    assert isinstance(resolved, rev.ReconciliationBreakResolved) and resolved.resolution == recon.ACCEPTED
    after = fold([adjusted, resolved], breaks)
    assert after[1].status == recon.ACCEPTED and after[1].version == 3


def test_dismissing_books_nothing():
    _, breaks = run({}, [position_difference()])
    (resolved,) = recon.decide_resolution(breaks, break_id=1, resolution="dismiss", reason="checked", at_ns=AT)
    assert resolved.resolution == recon.DISMISSED


@pytest.mark.parametrize(
    "break_id, resolution, reason, refused",
    [
        (1, "accept", " ", "missing_reason"),
        (1, "approve", "why", "invalid_resolution"),
        (5, "accept", "why", "unknown_break"),
        (2, "accept", "why", "not_adjustable"),
    ],
)
def test_a_resolution_the_engine_refuses_says_why(break_id, resolution, reason, refused):
    order_break = Difference("order", "X", "A", "7", D(0), None, "new", MISSING)
    _, breaks = run({}, [position_difference(), order_break])
    with pytest.raises(recon.BreakRefused) as raised:
        recon.decide_resolution(breaks, break_id=break_id, resolution=resolution, reason=reason, at_ns=AT)
    assert raised.value.reason == refused


def test_a_break_is_resolved_once():
    _, breaks = run({}, [position_difference()])
    breaks = fold(recon.decide_resolution(breaks, break_id=1, resolution="dismiss", reason="x", at_ns=AT), breaks)
    with pytest.raises(recon.BreakRefused, match="already dismissed"):
        recon.decide_resolution(breaks, break_id=1, resolution="accept", reason="x", at_ns=AT)


@given(st.lists(st.lists(st.tuples(st.sampled_from(["AAPL", "MSFT"]), st.integers(-3, 3)), max_size=3), max_size=6))
@PROPERTY_SETTINGS
def test_after_any_runs_each_key_has_at_most_one_open_break_holding_the_last_runs_figures(runs):
    breaks: dict = {}
    for number, found in enumerate(runs):
        differences = [position_difference("0", str(q), symbol=s) for s, q in found if q]
        _, breaks = run(breaks, differences, run_id=f"r{number}")
    open_ones = [b for b in breaks.values() if b.is_open]
    assert len({b.key for b in open_ones}) == len(open_ones)
    if runs:
        last = {}
        for s, q in runs[-1]:
            if q:
                last.setdefault(s, q)
        assert {b.subject: b.venue_quantity for b in open_ones} == {s: D(q) for s, q in last.items()}


# -- an adjustment's arithmetic -------------------------------------------------------------------


def test_an_adjustment_moves_the_quantity_without_trading_or_realising_anything():
    held = apply_fill(Position("A", "AAPL"), Side.BUY, D(100), D(10))
    reduced = apply_adjustment(held, D(-10), D(12))
    assert (reduced.quantity, reduced.avg_cost, reduced.realized_pnl) == (90, 10, 0)
    assert (reduced.bought, reduced.sold) == (100, 0)
    added = apply_adjustment(held, D(100), D(12))
    assert (added.quantity, added.avg_cost) == (200, 11)
    flipped = apply_adjustment(held, D(-150), D(12))
    assert (flipped.quantity, flipped.avg_cost) == (-50, 12)
    assert apply_adjustment(held, D(-100), None).avg_cost == 0


@given(st.lists(st.integers(-20, 20).filter(bool), max_size=10))
@PROPERTY_SETTINGS
def test_adjustments_sum_into_the_quantity(moves):
    position = Position("A", "AAPL")
    for quantity in moves:
        position = apply_adjustment(position, D(quantity), D(5))
    assert position.quantity == sum(moves) and position.realized_pnl == 0
