"""Reports that change what was reported before, and reports the OMS cannot use: busts (150=H),
corrections (150=G), restatements (150=D), ExecTypes and numbers the OMS does not know, through
the real `decide` and `fold.apply`. None of them may raise or be lost: each is an event."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_driver import PRICE, QUANTITY, drive_to

from orders.domain import events as ev
from orders.domain.fold import replay
from orders.domain.values import ExecType, OrdStatus, RequestKind

D = Decimal


def only(events: list[ev.Event], event_type: type) -> ev.Event:
    assert [type(e) for e in events] == [event_type], events
    return events[0]


def filled_in_two():
    """An order of 100 filled 40 at 10.00 (E-1) and 60 at 10.10 (E-2)."""
    driver = drive_to(OrdStatus.NEW)
    driver.fill(D(40), D("10.00"), exec_id="E-1")
    driver.fill(D(60), D("10.10"), exec_id="E-2")
    assert driver.order.status is OrdStatus.FILLED
    return driver


# -- busts -----------------------------------------------------------------------------------


def test_a_bust_takes_the_fill_off_the_order_and_reopens_a_filled_order():
    driver = filled_in_two()

    busted = only(driver.report(ExecType.TRADE_CANCEL, ref_exec_id="E-2", text="erroneous trade"), ev.FillBusted)

    assert (busted.ref_exec_id, busted.last_qty, busted.last_px) == ("E-2", 60, D("10.10"))
    assert busted.text == "erroneous trade"
    order = driver.order
    assert (order.cum_qty, order.avg_px, order.leaves_qty) == (40, D("10.00"), 60)
    assert order.status is OrdStatus.PARTIALLY_FILLED
    assert replay(driver.events) == order


def test_a_bust_the_venue_reports_with_the_order_canceled_ends_it_canceled():
    # Venues differ: this one does not reinstate a filled order after a bust, and its 39 says so.
    driver = filled_in_two()

    events = driver.report(ExecType.TRADE_CANCEL, ref_exec_id="E-2", ord_status=OrdStatus.CANCELED)

    assert [type(e) for e in events] == [ev.FillBusted, ev.OrderCanceled]
    assert (driver.order.status, driver.order.cum_qty, driver.order.leaves_qty) == (OrdStatus.CANCELED, 40, 0)


def test_the_same_fill_busted_twice_is_an_anomaly_the_second_time():
    driver = filled_in_two()
    driver.report(ExecType.TRADE_CANCEL, ref_exec_id="E-1")

    anomaly = only(driver.report(ExecType.TRADE_CANCEL, ref_exec_id="E-1"), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "bust_of_unknown_fill"
    assert driver.order.cum_qty == 60


def test_a_bust_on_a_canceled_order_takes_the_fill_off_and_it_stays_canceled():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 filled
    (ref, qty, _), *_ = driver.order.fills
    driver.venue_cancel()

    only(driver.report(ExecType.TRADE_CANCEL, ref_exec_id=ref), ev.FillBusted)

    assert driver.order.status is OrdStatus.CANCELED
    assert driver.order.cum_qty == 40 - qty


# -- corrections -------------------------------------------------------------------------------


def test_a_correction_amends_the_fill_quantity_and_price():
    driver = filled_in_two()

    corrected = only(
        driver.report(ExecType.TRADE_CORRECT, ref_exec_id="E-1", last_qty=D(30), last_px=D("10.05")), ev.FillCorrected
    )

    assert (corrected.old_last_qty, corrected.old_last_px) == (40, D("10.00"))
    order = driver.order
    assert order.cum_qty == 90 and order.status is OrdStatus.PARTIALLY_FILLED
    assert order.notional == 30 * D("10.05") + 60 * D("10.10")
    assert order.fill("E-1") == (30, D("10.05"))
    assert replay(driver.events) == order


def test_a_correction_that_would_overfill_is_an_anomaly():
    driver = filled_in_two()

    anomaly = only(
        driver.report(ExecType.TRADE_CORRECT, ref_exec_id="E-1", last_qty=D(41), last_px=PRICE),
        ev.ExecutionAnomalyRecorded,
    )

    assert anomaly.reason == "overfill" and driver.order.cum_qty == QUANTITY


# -- restatements and the end of the day -------------------------------------------------------


def test_a_restatement_changes_the_order_as_the_venue_says():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    restated = only(
        driver.report(ExecType.RESTATED, quantity=D(80), limit_price=D("9.90"), text="reduced"), ev.OrderRestated
    )

    assert "reduced" in restated.text
    order = driver.order
    assert (order.quantity, order.limit_price, order.leaves_qty) == (80, D("9.90"), 40)


def test_a_restatement_below_what_is_filled_is_an_anomaly():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    assert only(driver.report(ExecType.RESTATED, quantity=D(30)), ev.ExecutionAnomalyRecorded).reason == (
        "restated_below_cum_qty"
    )


# -- what the OMS does not know ----------------------------------------------------------------


def test_an_exec_type_outside_fix_44_is_an_anomaly_naming_it():
    driver = drive_to(OrdStatus.NEW)

    anomaly = only(driver.report(ExecType.UNKNOWN, unrecognised="150=Z (ExecType)"), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "unknown_exec_type" and "150=Z" in anomaly.text
    assert driver.order.status is OrdStatus.NEW and driver.order.anomalies == 1


@pytest.mark.parametrize("exec_type", [ExecType.SUSPENDED, ExecType.STOPPED, ExecType.CALCULATED])
def test_an_exec_type_the_oms_does_not_act_on_is_an_anomaly(exec_type):
    driver = drive_to(OrdStatus.NEW)

    assert only(driver.report(exec_type), ev.ExecutionAnomalyRecorded).reason == "unhandled_exec_type"


@pytest.mark.parametrize("exec_type", [ExecType.PENDING_NEW, ExecType.PENDING_CANCEL, ExecType.PENDING_REPLACE])
def test_an_echo_of_our_own_request_changes_nothing(exec_type):
    driver = drive_to(OrdStatus.PENDING_CANCEL)
    before = driver.order

    assert driver.report(exec_type) == []
    assert driver.order == before


def test_an_unknown_ord_status_on_a_fill_books_the_fill_and_flags_the_report():
    driver = drive_to(OrdStatus.NEW)

    events = driver.fill(D(10), unrecognised="39=Q (OrdStatus)")

    assert [type(e) for e in events] == [ev.ExecutionAnomalyRecorded, ev.OrderPartiallyFilled]
    assert events[0].reason == "unrecognised_value" and "39=Q" in events[0].text
    assert driver.order.cum_qty == 10


@pytest.mark.parametrize(
    ("last_qty", "last_px", "problem"),
    [
        (D(10), D("1e25"), "LastPx"),
        (D(10), D("10.123456789012"), "more than 8 decimals"),
        (D("0.000000001"), PRICE, "more than 8 decimals"),
        (D("1e13"), PRICE, "LastQty"),
        (D(10), D("NaN"), "not a number"),
    ],
)
def test_a_fill_with_numbers_the_oms_cannot_keep_is_an_anomaly_never_an_error(last_qty, last_px, problem):
    driver = drive_to(OrdStatus.NEW)

    anomaly = only(driver.fill(last_qty, last_px), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "invalid_fill" and problem in anomaly.text
    assert driver.order.cum_qty == 0


def test_a_status_answer_with_an_absurd_avg_px_is_an_anomaly_never_an_error():
    driver = drive_to(OrdStatus.NEW)

    events = driver.report(
        ExecType.ORDER_STATUS, cum_qty=D(50), avg_px=D("1e25"), ord_status=OrdStatus.PARTIALLY_FILLED
    )

    assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "invalid_status_answer")]
    assert driver.order.cum_qty == 0
    # ...and the same answer at the next resync adds nothing
    assert driver.report(ExecType.ORDER_STATUS, exec_id=events[0].exec_id.rsplit(":", 1)[0], cum_qty=D(50),
                         avg_px=D("1e25"), ord_status=OrdStatus.PARTIALLY_FILLED) == []  # fmt: skip


def test_a_status_answer_s_avg_px_may_have_as_many_decimals_as_its_division_gives():
    driver = drive_to(OrdStatus.NEW)
    driver.fill(D(3), D("113.35"))

    events = driver.report(ExecType.ORDER_STATUS, cum_qty=D(18), avg_px=D("113.3616666666666666666666667"),
                           ord_status=OrdStatus.FILLED, quantity=QUANTITY)  # fmt: skip

    (fill,) = events
    assert isinstance(fill, ev.OrderPartiallyFilled) and fill.last_qty == 15
    assert fill.last_px == D("113.36400000")  # the missed fills' price, to 8 decimals


def test_a_tiny_missed_quantity_at_a_huge_notional_never_raises():
    driver = drive_to(OrdStatus.NEW)
    driver.fill(D(40), D("999999999"))

    events = driver.report(ExecType.ORDER_STATUS, cum_qty=D("40.00000001"), avg_px=D("0.01"),
                           ord_status=OrdStatus.PARTIALLY_FILLED)  # fmt: skip

    assert [e.reason for e in events if isinstance(e, ev.ExecutionAnomalyRecorded)] == ["resync_fill_price"]


# -- the venue's OrderID, the OrigClOrdID sent, refusals ---------------------------------------


def test_the_venue_order_id_is_kept_from_the_ack():
    driver = drive_to(OrdStatus.PENDING_NEW)

    driver.ack(venue_order_id="V-77")

    assert driver.order.venue_order_id == "V-77"


def test_a_fill_before_the_ack_acknowledges_with_the_venue_order_id():
    driver = drive_to(OrdStatus.PENDING_NEW)

    events = driver.fill(D(10), venue_order_id="V-78")

    assert [type(e) for e in events] == [ev.OrderAcknowledged, ev.OrderPartiallyFilled]
    assert driver.order.venue_order_id == "V-78"


def test_a_cancel_names_the_order_by_the_engine_s_current_cl_ord_id_not_the_client_s():
    driver = drive_to(OrdStatus.NEW)
    driver.replace(quantity=D(150), cl_ord_id="R-1")
    driver.venue_replaced()
    stale = driver.events[0].cl_ord_id  # what a client that read an old projection still has

    from orders.domain import commands as cmd

    command = cmd.CancelOrder("c", driver.now(), "user:t", driver.order.account, driver.order.order_id, "X-9", stale)
    (request,) = driver.send(command)

    assert isinstance(request, ev.OrderCancelRequested) and request.orig_cl_ord_id == "R-1"


def test_a_replace_reject_is_recorded_as_a_replace_reject_whatever_was_pending():
    driver = drive_to(OrdStatus.NEW)
    driver.replace(quantity=D(150), cl_ord_id="R-1")
    driver.venue_replaced()
    driver.cancel(cl_ord_id="X-1")

    # 434=2: the venue refuses a replace (an old one, here), not our pending cancel
    events = driver.venue_cancel_reject(cl_ord_id="R-1", response_to=RequestKind.REPLACE)

    assert [type(e) for e in events] == [ev.OrderReplaceRejected]
    assert driver.order.status is OrdStatus.PENDING_CANCEL
