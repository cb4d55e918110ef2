"""`decide` + `apply` against FIX semantics: one scenario per behaviour, through real commands."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from order_driver import PRICE, QUANTITY, OrderDriver, drive_to

from orders.domain import events as ev
from orders.domain.state import OrderState
from orders.domain.values import ExecType, OrderType, OrdStatus, RequestKind
from risk.domain import Denial

DONE = [OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED]


def unchanged_but_version(before: OrderState, after: OrderState) -> bool:
    """The order is the same apart from the bookkeeping every event moves (and the mark a refusal
    leaves among the ExecIDs, so the same refusal twice appends nothing)."""
    marks = {e for e in after.exec_ids - before.exec_ids if e.startswith("refused:")}
    return (
        replace(after, version=before.version, updated_at_ns=before.updated_at_ns, exec_ids=after.exec_ids - marks)
        == before
    )


def only(events: list[ev.Event], event_type: type) -> ev.Event:
    assert len(events) == 1, events
    assert type(events[0]) is event_type, events
    return events[0]


# -- submit -------------------------------------------------------------------------------


def test_accepted_submit_is_pending_new_with_everything_open():
    driver = OrderDriver()

    accepted = only(driver.submit(), ev.OrderAccepted)

    order = driver.order
    assert accepted.quantity == QUANTITY and accepted.limit_price == PRICE
    assert order.status is OrdStatus.PENDING_NEW
    assert (order.cum_qty, order.leaves_qty, order.avg_px) == (0, QUANTITY, 0)
    assert order.version == 1
    assert order.pending is None and not order.acknowledged


def test_denied_submit_is_rejected_with_reason_and_text():
    driver = OrderDriver()

    rejected = only(driver.submit(denial=Denial("price_not_on_tick", "10.001 is not on 0.01")), ev.OrderRejected)

    assert (rejected.reason, rejected.text) == ("price_not_on_tick", "10.001 is not on 0.01")
    order = driver.order
    assert order.status is OrdStatus.REJECTED
    assert order.reject_reason == "price_not_on_tick"
    assert order.text == "10.001 is not on 0.01"
    assert order.leaves_qty == 0


# -- cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [OrdStatus.PENDING_NEW, OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED])
def test_cancel_of_live_order_is_requested_and_pends(status):
    driver = drive_to(status)

    requested = only(driver.cancel(cl_ord_id="X-1"), ev.OrderCancelRequested)

    assert requested.orig_cl_ord_id == driver.order.cl_ord_id
    assert driver.order.status is OrdStatus.PENDING_CANCEL
    assert driver.order.pending.kind is RequestKind.CANCEL
    assert driver.order.pending.cl_ord_id == "X-1"


@pytest.mark.parametrize("status", DONE)
def test_cancel_after_done_is_rejected_too_late(status):
    driver = drive_to(status)
    before = driver.order

    refused = only(driver.cancel(cl_ord_id="X-late"), ev.OrderCancelRejected)

    assert refused.reason == "too_late_to_cancel"
    assert refused.cl_ord_id == "X-late"
    assert status.value in refused.text
    assert unchanged_but_version(before, driver.order)


@pytest.mark.parametrize("status", DONE)
def test_replace_after_done_is_rejected_too_late(status):
    driver = drive_to(status)
    before = driver.order

    refused = only(driver.replace(quantity=Decimal("300"), cl_ord_id="R-late"), ev.OrderReplaceRejected)

    assert refused.reason == "too_late_to_replace"
    assert refused.cl_ord_id == "R-late"
    assert unchanged_but_version(before, driver.order)


def test_second_cancel_while_one_pends_is_rejected_and_keeps_the_pending_cancel():
    driver = drive_to(OrdStatus.NEW)
    driver.cancel(cl_ord_id="X-1")
    before = driver.order

    refused = only(driver.cancel(cl_ord_id="X-2"), ev.OrderCancelRejected)

    assert refused.reason == "request_pending"
    assert "X-1" in refused.text
    assert driver.order.status is OrdStatus.PENDING_CANCEL
    assert driver.order.pending == before.pending
    # The venue's answer to the first cancel still lands.
    only(driver.venue_cancel(), ev.OrderCanceled)
    assert driver.order.status is OrdStatus.CANCELED


@pytest.mark.parametrize("request_kind", ["cancel", "replace"])
def test_request_repeating_the_pending_cl_ord_id_changes_nothing(request_kind):
    # A client retry re-sends its cancel with the same ClOrdID. The OMS's refusal used to carry
    # that ClOrdID, so the fold took it for the venue's answer and dropped the pending cancel.
    driver = drive_to(OrdStatus.NEW)
    driver.cancel(cl_ord_id="X-1")
    before = driver.order

    if request_kind == "cancel":
        events = driver.cancel(cl_ord_id="X-1")
    else:
        events = driver.replace(quantity=Decimal("150"), cl_ord_id="X-1")

    assert events == []
    assert driver.order == before
    # ...and the order still takes a further request's refusal and the venue's answer.
    only(driver.cancel(cl_ord_id="X-2"), ev.OrderCancelRejected)
    only(driver.venue_cancel_reject(cl_ord_id="X-1"), ev.OrderCancelRejected)
    assert driver.order.status is OrdStatus.NEW
    assert driver.order.pending is None


def test_replace_while_cancel_pends_is_rejected_request_pending():
    driver = drive_to(OrdStatus.NEW)
    driver.cancel(cl_ord_id="X-1")
    before = driver.order

    refused = only(driver.replace(quantity=Decimal("150"), cl_ord_id="R-1"), ev.OrderReplaceRejected)

    assert refused.reason == "request_pending"
    assert driver.order.pending == before.pending
    assert driver.order.status is OrdStatus.PENDING_CANCEL


def test_fill_racing_pending_cancel_is_booked_and_cancel_still_pends():
    driver = drive_to(OrdStatus.NEW)
    driver.cancel(cl_ord_id="X-1")

    only(driver.fill(Decimal("30")), ev.OrderPartiallyFilled)

    order = driver.order
    assert order.status is OrdStatus.PENDING_CANCEL
    assert order.cum_qty == 30
    assert order.leaves_qty == 70
    assert order.pending.cl_ord_id == "X-1"


def test_fill_completing_order_during_pending_cancel_makes_it_filled():
    driver = drive_to(OrdStatus.NEW)
    driver.fill(Decimal("30"))
    driver.cancel(cl_ord_id="X-1")

    only(driver.fill(Decimal("70")), ev.OrderFilled)

    assert driver.order.status is OrdStatus.FILLED
    assert driver.order.pending is None
    assert (driver.order.cum_qty, driver.order.leaves_qty) == (QUANTITY, 0)
    # The venue's reject of the cancel that lost the race follows, and changes nothing.
    before = driver.order
    only(driver.venue_cancel_reject(cl_ord_id="X-1"), ev.OrderCancelRejected)
    assert unchanged_but_version(before, driver.order)


def test_fill_after_cancel_ack_is_booked_on_the_canceled_order():
    driver = drive_to(OrdStatus.CANCELED)

    only(driver.fill(Decimal("10")), ev.OrderPartiallyFilled)

    assert driver.order.status is OrdStatus.CANCELED
    assert driver.order.cum_qty == 10
    assert driver.order.leaves_qty == 0


def _never_acked(driver: OrderDriver) -> None:
    pass


def _acked(driver: OrderDriver) -> None:
    driver.ack()


def _partly_filled(driver: OrderDriver) -> None:
    driver.fill(Decimal("25"))


@pytest.mark.parametrize(
    ("setup", "fill_while_pending", "expected"),
    [
        (_never_acked, False, OrdStatus.PENDING_NEW),
        (_acked, False, OrdStatus.NEW),
        (_partly_filled, False, OrdStatus.PARTIALLY_FILLED),
        (_acked, True, OrdStatus.PARTIALLY_FILLED),
        (_never_acked, True, OrdStatus.PARTIALLY_FILLED),  # a fill implies the ack
    ],
    ids=["never-acked", "acked", "partly-filled", "filled-while-pending", "filled-before-ack"],
)
def test_venue_cancel_reject_returns_order_to_its_working_status(setup, fill_while_pending, expected):
    driver = OrderDriver()
    driver.submit()
    setup(driver)
    driver.cancel(cl_ord_id="X-1")
    if fill_while_pending:
        driver.fill(Decimal("10"))

    refused = only(driver.venue_cancel_reject(reason="too_late_to_cancel"), ev.OrderCancelRejected)

    assert refused.cl_ord_id == "X-1"
    assert refused.reason == "too_late_to_cancel"
    assert driver.order.status is expected
    assert driver.order.pending is None


def test_venue_reject_of_pending_replace_returns_order_to_its_working_status():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)
    driver.replace(quantity=Decimal("150"), cl_ord_id="R-1")

    only(driver.venue_cancel_reject(reason="unknown_order"), ev.OrderReplaceRejected)

    assert driver.order.status is OrdStatus.PARTIALLY_FILLED
    assert driver.order.quantity == QUANTITY
    assert driver.order.pending is None


def test_venue_cancel_reject_repeated_appends_nothing_and_leaves_the_pending_one():
    driver = drive_to(OrdStatus.NEW)
    driver.cancel(cl_ord_id="X-1")
    driver.venue_cancel_reject()
    driver.cancel(cl_ord_id="X-2")
    before = driver.order

    assert driver.venue_cancel_reject(cl_ord_id="X-1") == []  # the same 35=9 again

    assert driver.order == before


def test_venue_cancel_reject_of_a_request_the_fill_already_answered_is_recorded_once():
    driver = drive_to(OrdStatus.NEW)
    driver.cancel(cl_ord_id="X-1")
    driver.fill(QUANTITY)  # the cancel lost the race: filled, the request answered by the fill
    before = driver.order

    late = only(driver.venue_cancel_reject(cl_ord_id="X-1"), ev.OrderCancelRejected)

    assert late.reason == "too_late_to_cancel"
    assert driver.order.status is OrdStatus.FILLED and driver.order.cum_qty == before.cum_qty
    assert driver.venue_cancel_reject(cl_ord_id="X-1") == []


def test_unsolicited_venue_cancel_cancels_the_order():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    only(driver.venue_cancel(), ev.OrderCanceled)

    assert driver.order.status is OrdStatus.CANCELED
    assert driver.order.cum_qty == 40
    assert driver.order.leaves_qty == 0


# -- replace ------------------------------------------------------------------------------


def test_replace_below_cum_qty_is_rejected():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 filled
    before = driver.order

    refused = only(driver.replace(quantity=Decimal("30")), ev.OrderReplaceRejected)

    assert refused.reason == "quantity_below_cum_qty"
    assert unchanged_but_version(before, driver.order)


def test_replace_denied_by_risk_is_rejected_with_the_denial_reason():
    driver = drive_to(OrdStatus.NEW)

    refused = only(
        driver.replace(quantity=Decimal("150"), denial=Denial("quantity_not_on_lot", "lot is 100")),
        ev.OrderReplaceRejected,
    )

    assert (refused.reason, refused.text) == ("quantity_not_on_lot", "lot is 100")
    assert driver.order.status is OrdStatus.NEW


def test_replace_that_changes_nothing_is_rejected():
    driver = drive_to(OrdStatus.NEW)

    refused = only(driver.replace(quantity=QUANTITY, limit_price=PRICE), ev.OrderReplaceRejected)

    assert refused.reason == "nothing_to_replace"


def test_replace_with_price_on_market_order_is_rejected():
    driver = OrderDriver()
    driver.submit(order_type=OrderType.MARKET, limit_price=None)

    refused = only(driver.replace(limit_price=PRICE), ev.OrderReplaceRejected)

    assert refused.reason == "price_on_market_order"


def test_replace_keeps_unchanged_fields_and_pends():
    driver = drive_to(OrdStatus.NEW)

    requested = only(driver.replace(limit_price=Decimal("10.50"), cl_ord_id="R-1"), ev.OrderReplaceRequested)

    assert (requested.quantity, requested.limit_price) == (QUANTITY, Decimal("10.50"))
    assert driver.order.status is OrdStatus.PENDING_REPLACE
    assert driver.order.limit_price == PRICE  # not until the venue applies it


def test_replaced_report_applies_new_quantity_price_and_cl_ord_id():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)
    driver.replace(quantity=Decimal("150"), limit_price=Decimal("10.50"), cl_ord_id="R-1")

    replaced = only(driver.venue_replaced(), ev.OrderReplaced)

    assert (replaced.cl_ord_id, replaced.quantity, replaced.limit_price) == ("R-1", Decimal("150"), Decimal("10.50"))
    order = driver.order
    assert order.cl_ord_id == "R-1"
    assert order.quantity == 150
    assert order.limit_price == Decimal("10.50")
    assert order.status is OrdStatus.PARTIALLY_FILLED
    assert order.leaves_qty == 110
    assert order.pending is None


def test_replaced_report_takes_the_venues_quantity_and_price_when_given():
    driver = drive_to(OrdStatus.NEW)
    driver.replace(quantity=Decimal("150"), cl_ord_id="R-1")

    driver.venue_replaced(quantity=Decimal("140"), limit_price=Decimal("9.90"))

    assert (driver.order.quantity, driver.order.limit_price) == (Decimal("140"), Decimal("9.90"))


def test_replaced_report_down_to_cum_qty_fills_the_order():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)
    driver.replace(quantity=Decimal("40"))

    only(driver.venue_replaced(), ev.OrderReplaced)

    assert driver.order.status is OrdStatus.FILLED
    assert driver.order.leaves_qty == 0


def test_replaced_report_with_no_replace_pending_is_an_anomaly():
    driver = drive_to(OrdStatus.NEW)
    before = driver.order

    anomaly = only(driver.venue_replaced(quantity=Decimal("150")), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "unexpected_replace"
    assert driver.order.quantity == before.quantity


def test_replaced_report_below_fills_since_the_request_is_an_anomaly():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 filled
    driver.replace(quantity=Decimal("50"))
    driver.fill(Decimal("20"))  # races the replace: 60 filled now

    anomaly = only(driver.venue_replaced(), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "replace_below_cum_qty"
    assert driver.order.quantity == QUANTITY
    assert driver.order.status is OrdStatus.PENDING_REPLACE


# -- execution reports --------------------------------------------------------------------


def test_ack_makes_the_order_new():
    driver = drive_to(OrdStatus.PENDING_NEW)

    only(driver.ack(), ev.OrderAcknowledged)

    assert driver.order.status is OrdStatus.NEW
    assert driver.order.acknowledged


def test_second_ack_with_a_new_exec_id_is_an_anomaly():
    driver = drive_to(OrdStatus.NEW)

    anomaly = only(driver.ack(), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "unexpected_report"
    assert driver.order.status is OrdStatus.NEW


def test_venue_reject_of_unacknowledged_order_rejects_it():
    driver = drive_to(OrdStatus.PENDING_NEW)

    rejected = only(driver.venue_reject(text="bad symbol"), ev.OrderVenueRejected)

    assert rejected.text == "bad symbol"
    assert driver.order.status is OrdStatus.REJECTED
    assert driver.order.reject_reason == "venue_rejected"
    assert driver.order.leaves_qty == 0


def test_venue_reject_racing_a_cancel_on_unacknowledged_order_rejects_it():
    driver = drive_to(OrdStatus.PENDING_NEW)
    driver.cancel()

    only(driver.venue_reject(), ev.OrderVenueRejected)

    assert driver.order.status is OrdStatus.REJECTED
    assert driver.order.pending is None


@pytest.mark.parametrize("with_fill", [False, True], ids=["acked", "partly-filled"])
def test_venue_reject_of_acknowledged_order_is_an_anomaly(with_fill):
    # A venue rejects an order only before accepting it; once acknowledged (or filled) the
    # order ends by cancel or expiry. A reject racing our cancel used to turn it rejected,
    # fills and all.
    driver = drive_to(OrdStatus.NEW)
    if with_fill:
        driver.fill(Decimal("40"))
    driver.cancel()
    before = driver.order

    anomaly = only(driver.venue_reject(), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "reject_after_ack"
    assert driver.order.status is OrdStatus.PENDING_CANCEL
    assert driver.order.cum_qty == before.cum_qty
    assert driver.order.anomalies == 1


def test_partial_fills_keep_cum_plus_leaves_equal_to_quantity():
    driver = drive_to(OrdStatus.NEW)

    for last_qty in ("10", "15", "25"):
        only(driver.fill(Decimal(last_qty)), ev.OrderPartiallyFilled)
        order = driver.order
        assert order.status is OrdStatus.PARTIALLY_FILLED
        assert order.cum_qty + order.leaves_qty == order.quantity

    assert driver.order.cum_qty == 50


def test_fill_of_the_rest_is_an_order_filled_event():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    filled = only(driver.fill_rest(), ev.OrderFilled)

    assert filled.last_qty == 60
    assert driver.order.status is OrdStatus.FILLED
    assert (driver.order.cum_qty, driver.order.leaves_qty) == (QUANTITY, 0)


def test_avg_px_is_quantity_weighted():
    driver = drive_to(OrdStatus.NEW)

    driver.fill(Decimal("30"), Decimal("10.00"))
    driver.fill(Decimal("10"), Decimal("14.00"))

    assert driver.order.avg_px == Decimal("11.00")  # (300 + 140) / 40
    driver.fill(Decimal("60"), Decimal("10.10"))
    assert driver.order.avg_px == Decimal("10.46")  # (440 + 606) / 100


def test_avg_px_is_quantized_to_eight_places():
    driver = drive_to(OrdStatus.NEW)

    driver.fill(Decimal("1"), Decimal("1.00"))
    driver.fill(Decimal("2"), Decimal("2.00"))

    assert driver.order.avg_px == Decimal("1.66666667")


def test_overfill_is_an_anomaly_that_changes_only_the_anomaly_count_and_text():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 of 100
    before = driver.order

    anomaly = only(driver.fill(Decimal("61")), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "overfill"
    after = driver.order
    assert after.anomalies == before.anomalies + 1
    assert after.exec_ids == before.exec_ids | {anomaly.exec_id}
    assert after.text == anomaly.text  # shown on the order, so nobody has to dig for it
    unchanged = replace(after, anomalies=before.anomalies, exec_ids=before.exec_ids, text=before.text)
    assert unchanged_but_version(before, unchanged)


def test_second_full_fill_on_filled_order_is_an_overfill():
    driver = drive_to(OrdStatus.FILLED)

    anomaly = only(driver.fill(Decimal("1")), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "overfill"
    assert driver.order.cum_qty == QUANTITY


@pytest.mark.parametrize("how", ["by-risk", "by-venue"])
def test_fill_on_rejected_order_is_an_anomaly(how):
    driver = drive_to(OrdStatus.REJECTED) if how == "by-risk" else drive_to(OrdStatus.PENDING_NEW)
    if how == "by-venue":
        driver.venue_reject()

    anomaly = only(driver.fill(Decimal("10")), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "fill_on_rejected_order"
    assert driver.order.status is OrdStatus.REJECTED
    assert driver.order.cum_qty == 0


@pytest.mark.parametrize(("last_qty", "last_px"), [("0", "10"), ("-5", "10"), ("10", "0")])
def test_fill_without_positive_quantity_and_price_is_an_anomaly(last_qty, last_px):
    driver = drive_to(OrdStatus.NEW)

    anomaly = only(driver.fill(Decimal(last_qty), Decimal(last_px)), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "invalid_fill"
    assert driver.order.cum_qty == 0


@pytest.mark.parametrize(
    "exec_type",
    [ExecType.NEW, ExecType.TRADE, ExecType.CANCELED, ExecType.EXPIRED, ExecType.REJECTED],
)
def test_repeated_exec_id_produces_no_events(exec_type):
    driver = drive_to(OrdStatus.PENDING_NEW)
    report = driver.report_command(exec_type, exec_id="E-dup", last_qty=Decimal("10"), last_px=PRICE)
    assert driver.send(report), "the first report is applied"
    before = driver.order

    assert driver.send(report) == []
    assert driver.order == before


def test_repeated_exec_id_of_an_anomaly_records_it_once():
    driver = drive_to(OrdStatus.FILLED)
    report = driver.report_command(ExecType.TRADE, exec_id="E-over", last_qty=Decimal("5"), last_px=PRICE)

    only(driver.send(report), ev.ExecutionAnomalyRecorded)
    assert driver.send(report) == []
    assert driver.order.anomalies == 1


@pytest.mark.parametrize(
    ("exec_type", "event_type", "status"),
    [
        (ExecType.EXPIRED, ev.OrderExpired, OrdStatus.EXPIRED),
        (ExecType.DONE_FOR_DAY, ev.OrderDoneForDay, OrdStatus.DONE_FOR_DAY),  # 150=3 is not an expiry
    ],
)
def test_expiry_and_done_for_day_end_the_order_each_as_itself(exec_type, event_type, status):
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    only(driver.report(exec_type), event_type)

    assert driver.order.status is status
    assert driver.order.cum_qty == 40
    assert driver.order.leaves_qty == 0


def test_expiry_clears_a_pending_request():
    driver = drive_to(OrdStatus.PENDING_REPLACE)

    driver.expire()

    assert driver.order.status is OrdStatus.EXPIRED
    assert driver.order.pending is None


def test_report_on_a_done_order_is_an_anomaly_not_an_error():
    driver = drive_to(OrdStatus.FILLED)

    anomaly = only(driver.venue_cancel(), ev.ExecutionAnomalyRecorded)

    assert anomaly.reason == "unexpected_report"
    assert driver.order.status is OrdStatus.FILLED


def test_version_counts_the_events_folded():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    assert driver.order.version == len(driver.events) == 3
