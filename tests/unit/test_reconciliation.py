"""Reconciliation, pure: the comparison of a venue's answer with the OMS's books, the breaks a
run opens, keeps and clears, a person's resolution, and a position adjustment's arithmetic."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from orders.domain.positions import Position, apply_adjustment, apply_fill
from orders.domain.values import ExecType, OrdStatus, Side
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
from venues.connector.reconcile import ASK_ATTEMPTS, Reconciliation
from venues.fix.messages import getter
from venues.fix.orders import ExecutionReport, execution_report_message, parse_execution_report
from venues.fix.positions import Position as FixPosition
from venues.fix.positions import PositionsRequest, position_report_message, positions_ack_message

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


def test_a_run_that_read_the_oms_before_an_acceptance_does_not_reopen_it():
    # The run was in flight while the break was accepted: it carries the figures from before the
    # adjustment. A new break would invite accepting (and adjusting) the same difference twice.
    _, breaks = run({}, [position_difference(oms="100", venue_qty="90")])
    breaks = fold(recon.decide_resolution(breaks, break_id=1, resolution="accept", reason="ok", at_ns=AT), breaks)
    events, _ = run(breaks, [position_difference(oms="100", venue_qty="90")])
    assert events == []
    events, _ = run(breaks, [])  # the next run reads the adjusted figure: nothing to clear, nothing opened
    assert events == []
    (opened,), _ = run(breaks, [position_difference(oms="90", venue_qty="80")])  # a new difference is a new break
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


def test_a_difference_outside_the_runs_scope_opens_nothing():
    """An account the venue did not answer completely, or orders not checked, are not known to differ."""
    order_break = Difference("order", "X", "A", "7", D(0), None, "new", MISSING)
    events, _ = run({}, [position_difference(account="B"), order_break], accounts=("A",), orders_checked=False)
    assert events == []


# -- the connector's side: collecting a venue's answers ---------------------------------------------


class FakeLink:
    """A venue session that answers at once, as `answer(message)` has it (None: the answer is lost)."""

    def __init__(self, name, answer):
        self.name, self.answer, self.sent = name, answer, []
        self.up = threading.Event()
        self.up.set()
        self.reconciliation = None

    def send(self, message):
        self.sent.append(message)
        for reply in self.answer(self, message) or []:
            if reply.getHeader().getField(35) == "8":
                self.reconciliation.on_execution_report(self, reply, otherwise=lambda *a: None)
            else:
                self.reconciliation.on_position_answer(self, reply)


def position_request(message):
    return PositionsRequest(message.getField(710), "0", message.getField(1), "1", "20260101", ())


def positions_of(holdings):
    """A venue holding `holdings` {account: {symbol: qty}} answers each 35=AN and 35=AF whole."""

    def answer(link, message):
        if message.getHeader().getField(35) == "AF":
            return [none_open(message.getField(584))]
        request = position_request(message)
        held = holdings.get(request.account, {})
        if not held:
            return [positions_ack_message(request, "R", "no_positions", "completed")]
        return [position_report_message(request, "R", len(held), FixPosition(symbol, D(qty), D("10")))
                for symbol, qty in held.items()]  # fmt: skip

    return answer


def none_open(mass_status_req_id):
    return execution_report_message(ExecutionReport(
        order_id="NONE", cl_ord_id="NONE", exec_id="0", exec_type=ExecType.ORDER_STATUS, ord_status=OrdStatus.REJECTED,
        symbol="NONE", side=Side.BUY, order_qty=None, price=None, last_qty=D(0), last_px=D(0), cum_qty=D(0),
        leaves_qty=D(0), avg_px=D(0), mass_status_req_id=mass_status_req_id, total_reports=0, last_report=True,
    ))  # fmt: skip


def reconciliation_of(*links):
    reconciliation = Reconciliation({link.name: link for link in links}, threading.Event(),
                                    outbound_caught_up=lambda link, position: True,
                                    flush_inbound=lambda timeout: True, last_position=lambda: 1)  # fmt: skip
    for link in links:
        link.reconciliation = reconciliation
    return reconciliation


def test_two_venues_answering_the_same_run_each_get_their_own_answers():
    a = FakeLink("A", positions_of({"DESK": {"AAPL": "5"}}))
    b = FakeLink("B", positions_of({"DESK": {"MSFT": "-7"}}))
    reconciliation = reconciliation_of(a, b)
    answers = {}
    threads = [threading.Thread(target=lambda link=link: answers.__setitem__(
        link.name, reconciliation.ask(link, "rec-1", ["DESK"], within=5))) for link in (a, b)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, symbol, quantity in (("A", "AAPL", "5"), ("B", "MSFT", "-7")):
        answer = answers[name]
        assert answer["incomplete"] == [] and answer["accounts_answered"] == ["DESK"] and answer["orders_complete"]
        assert [(p["symbol"], p["quantity"]) for p in answer["positions"]] == [(symbol, quantity)]


def test_an_answer_lost_on_the_way_is_asked_again_with_new_ids():
    whole = positions_of({"DESK": {"AAPL": "5", "MSFT": "3"}})
    asked = []

    def lossy(link, message):  # the first position answer loses a report, the first mass status answer is lost
        asked.append(message.getField(710 if message.isSetField(710) else 584))
        replies = whole(link, message)
        first = len([m for m in link.sent if m.getHeader().getField(35) == message.getHeader().getField(35)]) == 1
        return (replies[:1] if message.getHeader().getField(35) == "AN" else []) if first else replies

    link = FakeLink("A", lossy)
    answer = reconciliation_of(link).ask(link, "rec-2", ["DESK"], within=5)
    assert answer["incomplete"] == [] and answer["orders_complete"]
    assert sorted((p["symbol"], p["quantity"]) for p in answer["positions"]) == [("AAPL", "5"), ("MSFT", "3")]
    assert len(asked) == 4 and len(set(asked)) == 4  # each part asked twice, each question under an id of its own


def test_a_part_never_answered_completely_is_named_and_never_passed_on_as_nothing():
    whole = positions_of({"DESK": {"AAPL": "5", "MSFT": "3"}, "OTHER": {}})

    def lossy(link, message):  # DESK's answers always lose a report; 912=Y comes, one of 2 reports does not
        if message.getHeader().getField(35) == "AF":
            report = replace(parse_execution_report(getter(none_open(message.getField(584)))), order_id="V1",
                             cl_ord_id="V1", total_reports=2, last_report=True)  # fmt: skip
            return [execution_report_message(report)]
        replies = whole(link, message)
        return replies[:1] if message.getField(1) == "DESK" else replies

    link = FakeLink("A", lossy)
    answer = reconciliation_of(link).ask(link, "rec-3", ["DESK", "OTHER"], within=2)
    assert answer["accounts_answered"] == ["OTHER"] and answer["positions"] == []
    assert not answer["orders_complete"] and answer["orders"] == []
    assert answer["incomplete"] == ["no complete position answer for DESK", "no complete mass status answer"]
    asked = [m.getField(1) if m.isSetField(1) else "orders" for m in link.sent]
    assert sorted(asked) == sorted(["OTHER"] + ["DESK", "orders"] * ASK_ATTEMPTS)  # OTHER answered: asked once
