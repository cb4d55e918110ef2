"""The connector's table of mass cancels awaiting answers: a venue's report answering one reads as
the answer to its order's own cancel request, and the table forgets what is answered."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from orders.domain.values import ExecType, OrdStatus, Side
from venues.connector.pending_mass_cancels import MassCancelTarget, PendingMassCancels, new_mass_cl_ord_id
from venues.fix.orders import AffectedOrder, ExecutionReport, MassCancelReport, parse_venue_cl_ord_id

MASS = "MC-1"
TARGETS = [MassCancelTarget(12, "c1", "c2"), MassCancelTarget(14, "d1", "d3")]


def canceled(orig_cl_ord_id: str, cl_ord_id: str = MASS, **changes) -> ExecutionReport:
    """The venue's Canceled report of the order it knows as `orig_cl_ord_id` (41)."""
    values = dict(
        order_id="XSIM-7", cl_ord_id=cl_ord_id, exec_id=f"XSIM-E-{orig_cl_ord_id}", exec_type=ExecType.CANCELED,
        ord_status=OrdStatus.CANCELED, symbol="AAPL", side=Side.BUY, order_qty=D(10), price=D("10.5"),
        last_qty=D(0), last_px=D(0), cum_qty=D(4), leaves_qty=D(0), avg_px=D("10.5"), orig_cl_ord_id=orig_cl_ord_id,
    )  # fmt: skip
    return ExecutionReport(**(values | changes))


def answer(*at_venue: str, rejected: bool = False, total: int | None = None) -> MassCancelReport:
    return MassCancelReport(
        "XSIM-M1", MASS, "all", "rejected" if rejected else "all", "other" if rejected else None,
        len(at_venue) if total is None else total, tuple(AffectedOrder(cl, f"XSIM-{cl}") for cl in at_venue),
    )  # fmt: skip


def pending() -> PendingMassCancels:
    table = PendingMassCancels()
    table.add("XSIM", MASS, TARGETS)
    return table


def test_a_report_answering_a_mass_cancel_reads_as_the_answer_to_the_orders_own_cancel():
    table = pending()
    report = canceled("12:c1")
    assert table.own_report("XSIM", report) == replace(report, cl_ord_id="12:c2")
    assert len(table) == 1  # that order is answered


def test_a_report_for_an_order_the_mass_cancel_did_not_list_reads_by_the_order_41_names():
    report = canceled("15:e1")
    assert pending().own_report("XSIM", report).cl_ord_id == "15:e1"


def test_a_report_under_a_mass_cancel_no_longer_pending_reads_by_the_order_41_names():
    table = pending()
    table.discard("XSIM", MASS)
    assert table.own_report("XSIM", canceled("12:c1")).cl_ord_id == "12:c1"
    assert pending().own_report("OTHER", canceled("12:c1")).cl_ord_id == "12:c1"  # another venue's


def test_reports_under_our_own_cl_ord_ids_or_naming_no_order_of_ours_are_unchanged():
    table = pending()
    ours = canceled("12:c1", cl_ord_id="12:c2")
    strangers = canceled("someone-else", cl_ord_id=MASS)
    assert table.own_report("XSIM", ours) is ours and table.own_report("XSIM", strangers) is strangers
    assert len(table) == 2


def test_a_report_that_does_not_end_the_order_leaves_it_waiting():
    table = pending()
    pending_cancel = canceled("12:c1", exec_type=ExecType.PENDING_CANCEL, ord_status=OrdStatus.PENDING_CANCEL)
    assert table.own_report("XSIM", pending_cancel).cl_ord_id == "12:c2"
    assert len(table) == 2
    assert table.own_report("XSIM", canceled("12:c1")).cl_ord_id == "12:c2"


def test_a_refused_mass_cancel_hands_back_every_order_to_cancel_one_by_one_once():
    table = pending()
    assert table.answered("XSIM", answer(rejected=True, total=0)) == TARGETS
    assert len(table) == 0 and table.answered("XSIM", answer(rejected=True, total=0)) == []


def test_orders_the_venues_answer_does_not_name_are_let_go():
    table = pending()
    assert table.answered("XSIM", answer("14:d1")) == []
    assert len(table) == 1
    assert table.own_report("XSIM", canceled("14:d1")).cl_ord_id == "14:d3"
    assert len(table) == 0


def test_an_answer_that_canceled_nothing_forgets_the_mass_cancel():
    table = pending()
    table.answered("XSIM", answer(total=0))
    assert len(table) == 0


def test_an_answer_that_does_not_name_the_orders_keeps_waiting_for_their_reports():
    table = pending()
    table.answered("XSIM", answer(total=2))
    assert len(table) == 2


def test_the_table_is_bounded_and_forgets_the_oldest_first():
    table = PendingMassCancels(limit=2)
    for n in range(3):
        table.add("XSIM", f"MC-{n}", [MassCancelTarget(n + 1, "c1", "c2")])
    assert table.own_report("XSIM", canceled("1:c1", cl_ord_id="MC-0")).cl_ord_id == "1:c1"  # forgotten
    assert table.own_report("XSIM", canceled("3:c1", cl_ord_id="MC-2")).cl_ord_id == "3:c2"


def test_a_mass_cl_ord_id_is_never_read_as_an_orders():
    ids = {new_mass_cl_ord_id() for _ in range(100)}
    assert len(ids) == 100 and all(parse_venue_cl_ord_id(i) is None for i in ids)


@given(st.permutations(["12:c1", "14:d1", "r"]))
def test_whatever_the_order_of_the_answers_each_order_reads_as_its_own_cancel_and_nothing_is_left(arrivals):
    table = pending()
    own = {t.at_venue: f"{t.order_id}:{t.cancel_cl_ord_id}" for t in TARGETS}
    for arrival in arrivals:
        if arrival == "r":
            assert table.answered("XSIM", answer(*own)) == []
        else:
            assert table.own_report("XSIM", canceled(arrival)).cl_ord_id == own[arrival]
    assert len(table) == 0
