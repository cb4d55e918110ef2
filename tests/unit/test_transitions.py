"""The transition table, row by row: every allowed pair moves the order where the table says,
and every other pair is refused by `fold.apply` with InvalidTransition."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_driver import ACCOUNT, ORDER_ID, PRICE, QUANTITY, START_NS, SYMBOL, drive_to

from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.state import OrderState, working_status
from orders.domain.transitions import SAME, TRANSITIONS, WORKING, InvalidTransition, is_allowed
from orders.domain.values import OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce

AT = START_NS + 10**9
REPLACE_QUANTITY = Decimal("150")  # what drive_to(PENDING_REPLACE) asks for
# The status each driven order had before its request was sent (drive_to acks first).
STATUS_BEFORE_REQUEST = {OrdStatus.PENDING_CANCEL: OrdStatus.NEW, OrdStatus.PENDING_REPLACE: OrdStatus.NEW}
ALL_STATUSES: list[OrdStatus | None] = [None, *OrdStatus]


def event_for(event_type: type, state: OrderState | None) -> ev.Event:
    """A plausible event of `event_type` for this order; a refusal answers the pending request."""
    pending_cl_ord_id = state.pending.cl_ord_id if state and state.pending else "X-other"
    open_qty = (state.quantity - state.cum_qty) if state else QUANTITY
    # The fill a bust or correction names: the order's last one, or one it never had.
    ref, ref_qty, ref_px = state.fills[-1] if state and state.fills else ("E-none", Decimal("10"), PRICE)
    quantity = state.quantity if state else QUANTITY
    creation = dict(
        order_id=ORDER_ID,
        at_ns=AT,
        account=ACCOUNT,
        cl_ord_id="C-new",
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=QUANTITY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=PRICE,
    )
    builders = {
        ev.OrderAccepted: lambda: ev.OrderAccepted(**creation),
        ev.OrderRejected: lambda: ev.OrderRejected(**creation, reason="unknown_symbol", text="no such symbol"),
        ev.OrderAcknowledged: lambda: ev.OrderAcknowledged(ORDER_ID, AT, "E-ack"),
        ev.OrderVenueRejected: lambda: ev.OrderVenueRejected(ORDER_ID, AT, "E-rej", "venue says no"),
        ev.OrderPartiallyFilled: lambda: ev.OrderPartiallyFilled(ORDER_ID, AT, "E-pf", Decimal("10"), PRICE),
        ev.OrderFilled: lambda: ev.OrderFilled(ORDER_ID, AT, "E-f", open_qty, PRICE),
        ev.OrderCancelRequested: lambda: ev.OrderCancelRequested(ORDER_ID, AT, "X-new", "C-1"),
        ev.OrderCancelRejected: lambda: ev.OrderCancelRejected(
            ORDER_ID, AT, pending_cl_ord_id, "C-1", "too_late_to_cancel", "venue says no"
        ),
        ev.OrderCanceled: lambda: ev.OrderCanceled(ORDER_ID, AT, "E-cxl"),
        ev.OrderReplaceRequested: lambda: ev.OrderReplaceRequested(ORDER_ID, AT, "R-new", "C-1", Decimal("120"), PRICE),
        ev.OrderReplaceRejected: lambda: ev.OrderReplaceRejected(
            ORDER_ID, AT, pending_cl_ord_id, "C-1", "too_late_to_replace", "venue says no"
        ),
        ev.OrderReplaced: lambda: ev.OrderReplaced(ORDER_ID, AT, "E-rpl", pending_cl_ord_id, REPLACE_QUANTITY, PRICE),
        ev.OrderExpired: lambda: ev.OrderExpired(ORDER_ID, AT, "E-exp"),
        ev.ExecutionAnomalyRecorded: lambda: ev.ExecutionAnomalyRecorded(ORDER_ID, AT, "E-bad", "overfill", "too much"),
        ev.OrderRouted: lambda: ev.OrderRouted(
            ORDER_ID, AT, Strategy.SPLIT, (ev.RoutedChild(ORDER_ID + 1, "SIMA", QUANTITY),), "all at SIMA"
        ),
        ev.ParentReplaced: lambda: ev.ParentReplaced(ORDER_ID, AT, "R-p", "C-1", REPLACE_QUANTITY, PRICE, ""),
        ev.OrderDoneForDay: lambda: ev.OrderDoneForDay(ORDER_ID, AT, "E-dfd"),
        ev.FillBusted: lambda: ev.FillBusted(ORDER_ID, AT, "E-bust", ref, ref_qty, ref_px, "busted"),
        ev.FillCorrected: lambda: ev.FillCorrected(
            ORDER_ID, AT, "E-corr", ref, ref_qty - 1, ref_px, ref_qty, ref_px, "corrected"
        ),
        ev.OrderRestated: lambda: ev.OrderRestated(ORDER_ID, AT, "E-rst", quantity + 10, PRICE, "restated"),
        ev.ParentQuantityRaised: lambda: ev.ParentQuantityRaised(ORDER_ID, AT, quantity + 10, "raised"),
    }
    assert set(builders) == set(ev.EVENT_TYPES.values()), "a new event type needs a builder here"
    return builders[event_type]()


def expected_status(status: OrdStatus | None, target: object, before: OrderState | None, event: ev.Event) -> OrdStatus:
    if target == SAME:
        assert before is not None
        return before.status
    if target == WORKING and isinstance(event, ev.FillBusted | ev.FillCorrected | ev.OrderRestated):
        # Where the fills that stand leave the order, at its (restated) quantity.
        assert before is not None
        cum_qty = before.cum_qty
        if isinstance(event, ev.FillBusted):
            cum_qty -= event.last_qty
        elif isinstance(event, ev.FillCorrected):
            cum_qty += event.last_qty - event.old_last_qty
        quantity = event.quantity if isinstance(event, ev.OrderRestated) else before.quantity
        return working_status(True if cum_qty else before.acknowledged, cum_qty, quantity)
    if (
        target == WORKING
        and before is not None
        and before.status in (OrdStatus.PENDING_NEW, OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED)
    ):
        # A parent's replace: where its fills leave it at the new quantity.
        return working_status(before.acknowledged, before.cum_qty, REPLACE_QUANTITY)
    if target == WORKING:
        # Only the pending-request rows are WORKING: a refusal returns the order to where it was
        # before the request; the replace (to 150, nothing filled) leaves it new as well.
        assert status in STATUS_BEFORE_REQUEST, f"unexpected WORKING row from {status}"
        return STATUS_BEFORE_REQUEST[status]
    assert isinstance(target, OrdStatus)
    return target


def row_id(row: tuple[OrdStatus | None, type]) -> str:
    status, event_type = row
    return f"{status.value if status else 'none'}-{event_type.__name__}"


@pytest.mark.parametrize("row", list(TRANSITIONS), ids=row_id)
def test_allowed_transition_moves_order_to_table_target(row):
    status, event_type = row
    before = drive_to(status).state
    event = event_for(event_type, before)

    after = apply(before, event)

    assert after.status is expected_status(status, TRANSITIONS[row], before, event)
    assert after.version == (before.version + 1 if before else 1)
    assert after.updated_at_ns == AT
    # ...and the pending request moves with the status: there is one exactly when it pends.
    pending_kind = {OrdStatus.PENDING_CANCEL: RequestKind.CANCEL, OrdStatus.PENDING_REPLACE: RequestKind.REPLACE}
    assert (after.pending.kind if after.pending else None) is pending_kind.get(after.status)


INVALID_PAIRS = [
    (status, event_type)
    for status in ALL_STATUSES
    for event_type in ev.EVENT_TYPES.values()
    if (status, event_type) not in TRANSITIONS
]


@pytest.mark.parametrize("pair", INVALID_PAIRS, ids=row_id)
def test_pair_not_in_table_is_refused_by_apply(pair):
    status, event_type = pair
    before = drive_to(status).state
    event = event_for(event_type, before)

    with pytest.raises(InvalidTransition) as refused:
        apply(before, event)

    assert refused.value.status is status
    assert refused.value.event_type is event_type
    assert not is_allowed(status, event_type)


def test_table_has_invalid_pairs_to_refuse():
    # Guards the parametrization above: an empty list would make it pass vacuously.
    assert (OrdStatus.FILLED, ev.OrderPartiallyFilled) in INVALID_PAIRS
    assert (OrdStatus.REJECTED, ev.OrderAcknowledged) in INVALID_PAIRS
    assert (None, ev.OrderFilled) in INVALID_PAIRS
    assert (OrdStatus.NEW, ev.OrderAccepted) in INVALID_PAIRS


def test_every_event_type_has_a_row():
    assert {event_type for _, event_type in TRANSITIONS} == set(ev.EVENT_TYPES.values())


def test_every_target_is_a_status_or_same_or_working():
    for target in TRANSITIONS.values():
        assert isinstance(target, OrdStatus) or target in (SAME, WORKING)


def test_done_order_only_takes_refusals_anomalies_late_fills_and_amendments_of_fills():
    late_fills = {ev.OrderPartiallyFilled, ev.OrderFilled}
    allowed_on_done = {ev.OrderCancelRejected, ev.OrderReplaceRejected, ev.ExecutionAnomalyRecorded}
    # What happened to its fills: a bust, a correction, a parent's children executing more.
    amendments = {ev.FillBusted, ev.FillCorrected, ev.ParentQuantityRaised}
    for (status, event_type), _ in TRANSITIONS.items():
        if status is not None and status.is_done:
            ended_early = (OrdStatus.CANCELED, OrdStatus.EXPIRED, OrdStatus.DONE_FOR_DAY)
            racing_fill = status in ended_early and event_type in late_fills
            amended = status is not OrdStatus.REJECTED and event_type in amendments
            # A parent whose children executed more than it showed: its quantity raised, then the fill.
            raised = (status, event_type) == (OrdStatus.FILLED, ev.OrderFilled)
            assert event_type in allowed_on_done or racing_fill or amended or raised, (status, event_type)


@pytest.mark.parametrize("status", [OrdStatus.PARTIALLY_FILLED, OrdStatus.FILLED])
def test_a_bust_takes_the_fill_off_and_reopens_a_filled_order(status):
    before = drive_to(status).order
    ref, qty, px = before.fills[-1]

    after = apply(before, ev.FillBusted(ORDER_ID, AT, "E-bust", ref, qty, px, "busted by the venue"))

    assert after.cum_qty == before.cum_qty - qty
    assert after.notional == before.notional - qty * px
    assert ref not in [f[0] for f in after.fills]
    assert after.status is (OrdStatus.PARTIALLY_FILLED if after.cum_qty else OrdStatus.NEW)


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        (OrdStatus.PENDING_CANCEL, ev.OrderCancelRejected),
        (OrdStatus.PENDING_REPLACE, ev.OrderReplaceRejected),
    ],
)
def test_refusal_of_some_other_request_leaves_the_pending_one_standing(status, refusal):
    before = drive_to(status).order
    assert before.pending is not None

    after = apply(before, refusal(ORDER_ID, AT, "X-other", before.cl_ord_id, "request_pending", "another"))

    assert after.status is status
    assert after.pending == before.pending


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        (OrdStatus.PENDING_CANCEL, ev.OrderReplaceRejected),
        (OrdStatus.PENDING_REPLACE, ev.OrderCancelRejected),
    ],
)
def test_refusal_of_the_other_kind_leaves_the_pending_request_even_with_its_cl_ord_id(status, refusal):
    # A cancel's refusal can't answer a pending replace (nor the reverse), whatever ClOrdID it names.
    before = drive_to(status).order

    after = apply(before, refusal(ORDER_ID, AT, before.pending.cl_ord_id, before.cl_ord_id, "unknown_order", ""))

    assert after.status is status
    assert after.pending == before.pending


def test_replaced_row_resolves_to_the_status_of_the_fills_under_the_new_quantity():
    driver = drive_to(OrdStatus.NEW)
    driver.fill(Decimal("40"))
    driver.replace(quantity=Decimal("40"))  # down to what is already filled
    assert driver.order.status is OrdStatus.PENDING_REPLACE

    after = apply(driver.order, event_for(ev.OrderReplaced, driver.order))
    assert after.status is OrdStatus.PARTIALLY_FILLED  # 150 > 40 filled

    done = apply(
        driver.order, ev.OrderReplaced(ORDER_ID, AT, "E-r2", driver.order.pending.cl_ord_id, Decimal("40"), PRICE)
    )
    assert done.status is OrdStatus.FILLED
    assert done.leaves_qty == 0


def test_driver_reaches_every_status():
    # drive_to builds every status from real commands (two by hand, see its docstring).
    for status in OrdStatus:
        assert drive_to(status).order.status is status
