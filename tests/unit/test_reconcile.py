"""`reconcile`: what a venue's answer to an OrderStatusRequest (35=H -> 35=8 150=I) does to an
order, through the real `decide` (ExecType.ORDER_STATUS) and `fold.apply`. Plus the Trade
staleness rule that keeps a late Trade from booking a fill a resync already took."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from order_driver import ORDER_ID, PRICE, PROPERTY_SETTINGS, QUANTITY, OrderDriver, drive_to

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.fold import replay
from orders.domain.values import ExecType, OrdStatus, RequestKind

D = Decimal


def status_report(
    driver: OrderDriver,
    ord_status: OrdStatus,
    cum_qty: Decimal | int = 0,
    avg_px: Decimal | None = None,
    *,
    cl_ord_id: str | None = None,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    unknown_order: bool = False,
    resync: bool = True,
) -> cmd.ApplyExecutionReport:
    """The venue's status answer, with an ExecID named by what it says, as the connector names it.
    `resync`: the question came after the connector sent again what the order waits for (its
    pending request, or the order itself if never acknowledged), as a resync asks; otherwise a
    bare question (after a duplicate refusal, say)."""
    cl_ord_id = cl_ord_id or driver.order.cl_ord_id
    order = driver.order
    asked_after = None
    if resync and order.pending is not None:
        asked_after = order.pending.cl_ord_id
    elif resync and not order.acknowledged:
        asked_after = order.cl_ord_id
    return cmd.ApplyExecutionReport(
        command_id=driver.next_id("cmd"),
        received_at_ns=driver.now(),
        actor="venue:XSIM",
        order_id=ORDER_ID,
        exec_id=f"XSIM:status:V-1:{cum_qty}:{ord_status.value}:{cl_ord_id}",
        exec_type=ExecType.ORDER_STATUS,
        cl_ord_id=cl_ord_id,
        quantity=quantity,
        limit_price=limit_price,
        cum_qty=D(cum_qty),
        avg_px=avg_px,
        ord_status=ord_status,
        unknown_order=unknown_order,
        asked_after=asked_after,
    )


def sent(driver: OrderDriver, *args, **kwargs) -> list[ev.Event]:
    return driver.send(status_report(driver, *args, **kwargs))


def types(events: list[ev.Event]) -> list[type]:
    return [type(e) for e in events]


# -- missed reports ------------------------------------------------------------------------


def test_a_missed_ack_is_booked_as_the_ack():
    driver = drive_to(OrdStatus.PENDING_NEW)

    events = sent(driver, OrdStatus.NEW)

    assert types(events) == [ev.OrderAcknowledged]
    assert driver.order.status is OrdStatus.NEW and driver.order.acknowledged


def test_a_status_that_matches_the_oms_changes_nothing():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 at 10.00
    before = driver.order

    assert sent(driver, OrdStatus.PARTIALLY_FILLED, 40, D("10.00")) == []
    assert driver.order == before


def test_missed_fills_are_one_fill_of_the_difference_at_the_price_the_venue_avg_px_implies():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 at 10.00 booked

    # The venue has 70 at an average of 10.03: 401.00 + 30 x p = 702.10, so the 30 missed were at 10.07.
    events = sent(driver, OrdStatus.PARTIALLY_FILLED, 70, D("10.03"))

    (fill,) = events
    assert isinstance(fill, ev.OrderPartiallyFilled)
    assert (fill.last_qty, fill.last_px) == (30, D("10.07"))
    assert (driver.order.cum_qty, driver.order.avg_px) == (70, D("10.03"))
    assert driver.order.status is OrdStatus.PARTIALLY_FILLED


def test_a_missed_fill_of_the_rest_fills_the_order():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    events = sent(driver, OrdStatus.FILLED, QUANTITY, D("10.06"))

    (fill,) = events
    assert isinstance(fill, ev.OrderFilled) and fill.last_qty == 60 and fill.last_px == D("10.10")
    assert driver.order.status is OrdStatus.FILLED
    assert driver.order.leaves_qty == 0


def test_a_missed_fill_on_an_unacknowledged_order_implies_the_ack():
    driver = drive_to(OrdStatus.PENDING_NEW)

    events = sent(driver, OrdStatus.PARTIALLY_FILLED, 25, D("10.00"))

    assert types(events) == [ev.OrderPartiallyFilled]
    assert driver.order.acknowledged and driver.order.status is OrdStatus.PARTIALLY_FILLED


@pytest.mark.parametrize("avg_px", [None, D("0"), D("7.00")])
def test_a_missed_fill_at_an_impossible_implied_price_is_an_anomaly(avg_px):
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 at 10.00: 7.00 x 50 is less than what is booked
    before = driver.order

    events = sent(driver, OrdStatus.PARTIALLY_FILLED, 50, avg_px)

    assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "resync_fill_price")]
    assert driver.order.cum_qty == before.cum_qty


@pytest.mark.parametrize(
    ("venue_status", "ended"),
    [
        (OrdStatus.CANCELED, OrdStatus.CANCELED),
        (OrdStatus.EXPIRED, OrdStatus.EXPIRED),
        (OrdStatus.DONE_FOR_DAY, OrdStatus.DONE_FOR_DAY),
    ],
)
def test_a_venue_that_ended_the_order_ends_it_here_after_booking_the_missed_fills(venue_status, ended):
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    events = sent(driver, venue_status, 50, D("10.00"))

    ending = {OrdStatus.CANCELED: ev.OrderCanceled, OrdStatus.EXPIRED: ev.OrderExpired}
    assert types(events) == [ev.OrderPartiallyFilled, ending.get(ended, ev.OrderDoneForDay)]
    assert driver.order.status is ended
    assert driver.order.cum_qty == 50


def test_a_missed_cancel_answers_the_pending_cancel():
    driver = drive_to(OrdStatus.PENDING_CANCEL)

    events = sent(driver, OrdStatus.CANCELED, 0)

    assert types(events) == [ev.OrderCanceled]
    assert driver.order.status is OrdStatus.CANCELED and driver.order.pending is None


def test_a_pending_cancel_the_venue_works_on_under_the_original_cl_ord_id_was_refused():
    # The connector sends the cancel again before it asks: an order still live under its ClOrdID
    # means the venue did not apply the cancel. It is refused, said so, and the order works on.
    driver = drive_to(OrdStatus.PENDING_CANCEL)
    pending = driver.order.pending

    (refused,) = sent(driver, OrdStatus.NEW, 0)

    assert isinstance(refused, ev.OrderCancelRejected)
    assert (refused.cl_ord_id, refused.reason) == (pending.cl_ord_id, "not_applied_at_venue")
    assert pending.cl_ord_id in refused.text
    assert driver.order.status is OrdStatus.NEW and driver.order.pending is None


def test_a_bare_question_proves_nothing_about_a_request_that_may_still_be_on_its_way():
    driver = drive_to(OrdStatus.PENDING_CANCEL)

    assert sent(driver, OrdStatus.NEW, 0, resync=False) == []
    assert driver.order.status is OrdStatus.PENDING_CANCEL


def test_a_pending_cancel_the_venue_is_still_working_on_still_pends():
    driver = drive_to(OrdStatus.PENDING_CANCEL)

    assert sent(driver, OrdStatus.PENDING_CANCEL, 0) == []
    assert driver.order.status is OrdStatus.PENDING_CANCEL


def test_a_missed_reject_of_an_unacknowledged_order_rejects_it():
    driver = drive_to(OrdStatus.PENDING_NEW)

    events = sent(driver, OrdStatus.REJECTED)

    assert types(events) == [ev.OrderVenueRejected]
    assert driver.order.status is OrdStatus.REJECTED


# -- what the OMS cannot explain ----------------------------------------------------------


def test_a_venue_with_less_filled_than_the_oms_is_an_anomaly_that_invents_nothing():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 booked
    before = driver.order

    events = sent(driver, OrdStatus.NEW, 30, D("10.00"))

    assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "venue_cum_qty_below_oms")]
    assert "30" in events[0].text and "40" in events[0].text
    assert (driver.order.status, driver.order.cum_qty) == (before.status, before.cum_qty)


def test_a_venue_with_less_filled_still_settles_the_status_it_answers():
    # Which fill the venue no longer has, its totals cannot say (a person looks); but the order
    # must not wait for ever: the venue canceled it, so it is canceled here, the 40 kept.
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)
    driver.cancel()

    events = sent(driver, OrdStatus.CANCELED, 30, D("10.00"))

    assert [type(e) for e in events] == [ev.ExecutionAnomalyRecorded, ev.OrderCanceled]
    assert (driver.order.status, driver.order.cum_qty, driver.order.pending) == (OrdStatus.CANCELED, 40, None)


@pytest.mark.parametrize(
    "status", [OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED, OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE]
)
def test_an_acknowledged_order_unknown_at_the_venue_is_an_anomaly_and_canceled(status):
    driver = drive_to(status)

    events = sent(driver, OrdStatus.REJECTED, unknown_order=True)

    assert [(type(e), getattr(e, "reason", None)) for e in events] == [
        (ev.ExecutionAnomalyRecorded, "unknown_at_venue"),
        (ev.OrderCanceled, None),
    ]
    assert driver.order.status is OrdStatus.CANCELED
    assert driver.order.pending is None


@pytest.mark.parametrize("status", [OrdStatus.FILLED, OrdStatus.CANCELED])
def test_an_order_unknown_at_the_venue_after_it_ended_changes_nothing(status):
    driver = drive_to(status)
    before = driver.order

    assert sent(driver, OrdStatus.REJECTED, unknown_order=True) == []
    assert driver.order == before


def test_an_order_never_acknowledged_and_unknown_at_the_venue_is_sent_again_once_then_rejected():
    driver = drive_to(OrdStatus.PENDING_NEW)

    (noted,) = sent(driver, OrdStatus.REJECTED, unknown_order=True, resync=False)  # it may be on its way
    assert (type(noted), noted.reason) == (ev.ExecutionAnomalyRecorded, "not_at_venue")
    assert driver.order.status is OrdStatus.PENDING_NEW  # the next resync sends it again, then asks
    assert sent(driver, OrdStatus.REJECTED, unknown_order=True, resync=False) == []  # noted once
    (rejected,) = sent(driver, OrdStatus.REJECTED, unknown_order=True)  # unknown though sent again

    assert isinstance(rejected, ev.OrderVenueRejected)
    assert "never reached the venue" in rejected.text
    assert driver.order.status is OrdStatus.REJECTED
    assert sent(driver, OrdStatus.REJECTED, unknown_order=True) == []  # and nothing more, ever


def test_an_order_never_acknowledged_with_a_cancel_pending_unknown_at_the_venue_is_canceled():
    # Its cancel went after it on the same session: the venue never had it, and never will, since
    # nothing sends a canceled order again.
    driver = drive_to(OrdStatus.PENDING_NEW)
    driver.cancel()

    events = sent(driver, OrdStatus.REJECTED, unknown_order=True)

    assert [(type(e), getattr(e, "reason", None)) for e in events] == [
        (ev.ExecutionAnomalyRecorded, "never_reached_venue"),
        (ev.OrderCanceled, None),
    ]
    assert driver.order.status is OrdStatus.CANCELED


def test_a_cancel_the_venue_answers_unknown_order_for_an_order_it_never_had_cancels_it():
    driver = drive_to(OrdStatus.PENDING_NEW)
    driver.cancel()

    events = driver.venue_cancel_reject(reason="unknown_order")

    assert types(events) == [ev.ExecutionAnomalyRecorded, ev.OrderCanceled]
    assert driver.order.status is OrdStatus.CANCELED
    assert driver.order.leaves_qty == 0


# -- replaces ------------------------------------------------------------------------------


def test_a_pending_replace_the_venue_applied_is_booked_as_replaced():
    driver = drive_to(OrdStatus.PENDING_REPLACE)  # 100 -> 150
    pending = driver.order.pending

    events = sent(driver, OrdStatus.NEW, 0, cl_ord_id=pending.cl_ord_id, quantity=D(150), limit_price=PRICE)

    (replaced,) = events
    assert isinstance(replaced, ev.OrderReplaced)
    assert (replaced.cl_ord_id, replaced.quantity, replaced.limit_price) == (pending.cl_ord_id, 150, PRICE)
    order = driver.order
    assert (order.status, order.quantity, order.cl_ord_id, order.pending) == (
        OrdStatus.NEW, 150, pending.cl_ord_id, None,
    )  # fmt: skip


def test_a_replace_then_fills_missed_are_booked_in_that_order():
    driver = drive_to(OrdStatus.PENDING_REPLACE)  # 100 -> 150
    pending = driver.order.pending

    events = sent(driver, OrdStatus.PARTIALLY_FILLED, 120, D("10.00"), cl_ord_id=pending.cl_ord_id)

    assert types(events) == [ev.OrderReplaced, ev.OrderPartiallyFilled]  # 120 fits only the new 150
    assert (driver.order.quantity, driver.order.cum_qty) == (150, 120)
    assert driver.order.status is OrdStatus.PARTIALLY_FILLED


def test_a_pending_replace_the_venue_works_on_under_the_original_cl_ord_id_was_refused():
    driver = drive_to(OrdStatus.PENDING_REPLACE)
    original, pending = driver.order.cl_ord_id, driver.order.pending

    (refused,) = sent(driver, OrdStatus.NEW, 0, cl_ord_id=original, quantity=QUANTITY)

    assert isinstance(refused, ev.OrderReplaceRejected)
    assert (refused.cl_ord_id, refused.reason) == (pending.cl_ord_id, "not_applied_at_venue")
    assert driver.order.status is OrdStatus.NEW and driver.order.pending is None
    assert (driver.order.quantity, driver.order.cl_ord_id) == (QUANTITY, original)


def test_a_pending_replace_the_venue_is_still_working_on_still_pends():
    driver = drive_to(OrdStatus.PENDING_REPLACE)

    assert sent(driver, OrdStatus.PENDING_REPLACE, 0, quantity=QUANTITY) == []
    assert driver.order.status is OrdStatus.PENDING_REPLACE


def test_a_replace_the_venue_applied_below_what_the_oms_booked_is_an_anomaly():
    # As for a live Replaced report (decide's replace_below_cum_qty): an order never holds more
    # filled than its quantity.
    driver = drive_to(OrdStatus.NEW)
    driver.fill(D(40))
    driver.replace(quantity=D(50), cl_ord_id="R-50")
    driver.fill(D(20))  # raced the replace: 60 filled now

    events = sent(driver, OrdStatus.PARTIALLY_FILLED, 60, D("10.00"), cl_ord_id="R-50", quantity=D(50))

    assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "replace_below_cum_qty")]
    assert driver.order.cum_qty <= driver.order.quantity
    assert driver.order.quantity == QUANTITY and driver.order.status is OrdStatus.PENDING_REPLACE


# -- the same answer twice -----------------------------------------------------------------

SCENARIOS = {
    "ack": (OrdStatus.PENDING_NEW, dict(ord_status=OrdStatus.NEW)),
    "fill": (OrdStatus.PARTIALLY_FILLED, dict(ord_status=OrdStatus.PARTIALLY_FILLED, cum_qty=70, avg_px=D("10.03"))),
    "fill-and-cancel": (OrdStatus.NEW, dict(ord_status=OrdStatus.CANCELED, cum_qty=10, avg_px=D("10.00"))),
    "expiry": (OrdStatus.NEW, dict(ord_status=OrdStatus.EXPIRED)),
    "reject": (OrdStatus.PENDING_NEW, dict(ord_status=OrdStatus.REJECTED)),
    "unknown": (OrdStatus.NEW, dict(ord_status=OrdStatus.REJECTED, unknown_order=True)),
    "below-oms": (OrdStatus.PARTIALLY_FILLED, dict(ord_status=OrdStatus.PARTIALLY_FILLED, cum_qty=30)),
    "bad-price": (OrdStatus.PARTIALLY_FILLED, dict(ord_status=OrdStatus.PARTIALLY_FILLED, cum_qty=50)),
    "replace": (OrdStatus.PENDING_REPLACE, dict(ord_status=OrdStatus.NEW, quantity=D(150))),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_same_status_answer_twice_changes_nothing_the_second_time(scenario):
    status, fields = SCENARIOS[scenario]
    driver = drive_to(status)
    if scenario == "replace":
        fields = dict(fields, cl_ord_id=driver.order.pending.cl_ord_id)
    report = status_report(driver, **fields)
    first = driver.send(report)
    assert first, "the first answer changes something"
    assert len({e.exec_id for e in first if hasattr(e, "exec_id")}) == len(first), "one ExecID per event"
    after_first = driver.order

    assert driver.send(replace(report, command_id="again", received_at_ns=driver.now())) == []
    assert driver.order == after_first


# -- the Trade staleness rule ----------------------------------------------------------------


@pytest.mark.parametrize("venue_cum_qty", [30, 40])
def test_a_trade_the_venue_totals_say_is_counted_already_books_nothing(venue_cum_qty):
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)  # 40 booked
    before = driver.order
    trade = driver.report_command(ExecType.TRADE, exec_id="E-late", last_qty=D(10), last_px=PRICE)

    assert driver.send(replace(trade, cum_qty=D(venue_cum_qty))) == []
    assert driver.order == before
    # The same trade with totals past ours is booked.
    assert types(driver.send(replace(trade, cum_qty=D(50)))) == [ev.OrderPartiallyFilled]
    assert driver.order.cum_qty == 50


def test_a_trade_without_venue_totals_is_booked():
    driver = drive_to(OrdStatus.PARTIALLY_FILLED)

    assert types(driver.fill(D(10))) == [ev.OrderPartiallyFilled]
    assert driver.order.cum_qty == 50


def test_trades_missed_before_a_resync_are_not_booked_again_when_they_arrive_late():
    driver = drive_to(OrdStatus.NEW)
    sent(driver, OrdStatus.PARTIALLY_FILLED, 50, D("10.02"))  # the venue traded 20 then 30
    assert driver.order.cum_qty == 50

    for exec_id, last_qty, cum_qty in (("T1", 20, 20), ("T2", 30, 50)):
        late = driver.report_command(ExecType.TRADE, exec_id=exec_id, last_qty=D(last_qty), last_px=PRICE)
        assert driver.send(replace(late, cum_qty=D(cum_qty))) == []
    assert driver.order.cum_qty == 50

    new = driver.report_command(ExecType.TRADE, exec_id="T3", last_qty=D(10), last_px=PRICE)
    assert types(driver.send(replace(new, cum_qty=D(60)))) == [ev.OrderPartiallyFilled]
    assert driver.order.cum_qty == 60


# -- a property: whatever was missed, the order ends where the venue says it is ------------

ticks = st.integers(900, 1100).map(lambda cents: D(cents).scaleb(-2))


@st.composite
def missed_histories(draw):
    """An order with some of its reports booked, and the venue's (consistent) answer about it."""
    quantity = D(draw(st.integers(2, 300)))
    driver = OrderDriver()
    driver.submit(quantity=quantity)
    if draw(st.booleans()):
        driver.ack()
    booked = D(draw(st.integers(0, int(quantity) - 1)))
    if booked:
        driver.fill(booked, draw(ticks))
    request = draw(st.sampled_from([None, "cancel", "replace"]))
    if request == "cancel":
        driver.cancel()
    elif request == "replace":
        driver.replace(quantity=D(draw(st.integers(int(booked) + 1, 400))))
    order = driver.order
    pending = order.pending
    applied = pending is not None and draw(st.booleans())
    venue_quantity = pending.quantity if applied and pending.quantity is not None else order.quantity
    venue_cum = D(draw(st.integers(int(booked), int(venue_quantity))))
    missed_px = draw(ticks)
    notional = order.notional + (venue_cum - booked) * missed_px
    avg_px = (notional / venue_cum).quantize(D("1e-8")) if venue_cum else None
    if venue_cum == venue_quantity:
        venue_status = OrdStatus.FILLED
    elif applied and pending.kind is RequestKind.CANCEL:
        venue_status = OrdStatus.CANCELED
    else:
        working = OrdStatus.PARTIALLY_FILLED if venue_cum else OrdStatus.NEW
        venue_status = draw(st.sampled_from([working, OrdStatus.CANCELED, OrdStatus.EXPIRED]))
    report = status_report(
        driver, venue_status, venue_cum, avg_px,
        cl_ord_id=pending.cl_ord_id if applied else order.cl_ord_id, quantity=venue_quantity,
    )  # fmt: skip
    return driver, report, missed_px, applied


@PROPERTY_SETTINGS
@given(missed_histories())
def test_reconcile_brings_the_order_to_what_the_venue_says(case):
    driver, report, missed_px, applied = case
    before = driver.order
    note(f"before: {before.status.value} {before.cum_qty}/{before.quantity} pending={before.pending}")

    events = driver.send(report)

    order = driver.order
    assert order.anomalies == 0, events
    assert replay(driver.events) == order
    assert order.cum_qty == report.cum_qty <= order.quantity
    assert order.acknowledged
    missed = report.cum_qty - before.cum_qty
    fills = [e for e in events if isinstance(e, ev.FILL_EVENTS)]
    if missed:
        (fill,) = fills
        assert fill.last_qty == missed
        assert abs(fill.last_px - missed_px) <= D("1e-8") * (report.cum_qty + 1)
    else:
        assert fills == []
    if applied and before.pending is not None and before.pending.kind is RequestKind.REPLACE:
        assert (order.quantity, order.cl_ord_id) == (before.pending.quantity, before.pending.cl_ord_id)
    if order.cum_qty == order.quantity:
        assert order.status is OrdStatus.FILLED
    elif report.ord_status is OrdStatus.CANCELED:
        assert order.status is OrdStatus.CANCELED
    elif report.ord_status is OrdStatus.EXPIRED:
        assert order.status is OrdStatus.EXPIRED
    else:
        # A request the venue did not apply (it works the order under the old ClOrdID) is refused:
        # no answer leaves an order pending.
        assert order.pending is None
        assert order.status is order.working_status
    # The same answer again changes nothing.
    assert driver.send(report) == []


# -- repros from a review: answers misread or dropped -----------------------------------------


def test_the_same_answer_that_acknowledged_an_order_still_settles_a_later_lost_cancel():
    # The ack was lost; a resync's answer acknowledged the order. Later a cancel is lost: the next
    # answer reads the same (the order unchanged at the venue) and must not be dropped as applied.
    driver = drive_to(OrdStatus.PENDING_NEW)
    key = "SIMB:status:S-1:0:0:C"
    driver.report(ExecType.ORDER_STATUS, exec_id=key, cl_ord_id=driver.order.cl_ord_id, ord_status=OrdStatus.NEW,
                  cum_qty=D(0), venue_order_id="S-1", asked_after=driver.order.cl_ord_id)  # fmt: skip
    assert driver.order.status is OrdStatus.NEW
    driver.cancel()
    pending = driver.order.pending

    events = driver.report(ExecType.ORDER_STATUS, exec_id=key, cl_ord_id=driver.order.cl_ord_id,
                           ord_status=OrdStatus.NEW, cum_qty=D(0), asked_after=pending.cl_ord_id)  # fmt: skip

    assert [(type(e), e.reason) for e in events] == [(ev.OrderCancelRejected, "not_applied_at_venue")]
    assert driver.order.pending is None


def test_an_answer_whose_fills_cannot_be_priced_still_settles_the_status():
    driver = drive_to(OrdStatus.NEW)
    driver.fill(D(40), D("10.00"))
    driver.cancel()
    pending = driver.order.pending

    # CumQty 41 at AvgPx 8 implies a negative price for the one missed: an anomaly, and canceled all the same.
    events = driver.report(ExecType.ORDER_STATUS, exec_id="A:status", cl_ord_id=pending.cl_ord_id,
                           ord_status=OrdStatus.CANCELED, cum_qty=D(41), avg_px=D(8),
                           asked_after=pending.cl_ord_id)  # fmt: skip

    assert [getattr(e, "reason", type(e).__name__) for e in events] == ["resync_fill_price", "OrderCanceled"]
    assert (driver.order.status, driver.order.cum_qty, driver.order.pending) == (OrdStatus.CANCELED, 40, None)


def test_an_order_ended_here_that_the_venue_still_works_is_flagged_for_a_person_once():
    driver = drive_to(OrdStatus.PENDING_NEW)
    driver.cancel()
    driver.venue_cancel_reject(reason="unknown_order")  # ended here: it never reached the venue...
    assert driver.order.status is OrdStatus.CANCELED
    answer = {"cl_ord_id": driver.order.cl_ord_id, "ord_status": OrdStatus.NEW, "cum_qty": D(0)}

    (flagged,) = driver.report(ExecType.ORDER_STATUS, exec_id="L:1", **answer)  # ...but the venue works it

    assert flagged.reason == "live_at_venue" and "cancel it at the venue" in flagged.text
    assert driver.report(ExecType.ORDER_STATUS, exec_id="L:2", **answer) == []  # once
