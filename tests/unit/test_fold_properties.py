"""Properties of decide + fold over random command and report sequences (Hypothesis).

(a) `@given` over a submit and a list of steps: cancels, replaces and execution reports with
    ExecIDs and ClOrdIDs drawn from small pools, so repeats and collisions are common.
(b) a RuleBasedStateMachine that drives orders, one at a time, with named rules, checks each
    rule's FIX outcome, and checks every invariant after every step.
"""

from __future__ import annotations

from dataclasses import replace as copy_with
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from order_driver import PROPERTY_SETTINGS, OrderDriver

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.decide import decide
from orders.domain.fold import apply, replay
from orders.domain.state import OrderState, refusal_key
from orders.domain.transitions import is_allowed
from orders.domain.values import ExecType, OrderType, OrdStatus, RequestKind
from risk.domain import Denial

prices = st.integers(1, 20_000).map(lambda cents: Decimal(cents).scaleb(-2))  # 0.01 .. 200.00, on a 0.01 tick
quantities = st.integers(1, 300).map(Decimal)
order_quantities = st.integers(10, 300).map(Decimal)  # room for partial fills
exec_ids = st.sampled_from([f"E{n}" for n in range(8)])
cl_ord_ids = st.sampled_from(["X1", "X2", "R1", "R2"])
percents = st.integers(1, 200)  # sizes relative to an order's or a request's, so they land near its fills
denials = st.sampled_from([None] * 7 + [Denial("unknown_symbol", "no such symbol")])

FILLABLE = {
    OrdStatus.PENDING_NEW,
    OrdStatus.NEW,
    OrdStatus.PARTIALLY_FILLED,
    OrdStatus.PENDING_CANCEL,
    OrdStatus.PENDING_REPLACE,
    OrdStatus.CANCELED,  # a fill can race the cancel ack
    OrdStatus.EXPIRED,  # ... or the expiry
}


def assert_invariants(driver: OrderDriver) -> None:
    order = driver.order
    events = driver.events
    # The log is the truth: replaying it rebuilds the live state exactly.
    assert replay(events) == order
    assert order.version == len(events)
    # Quantities.
    assert 0 <= order.cum_qty <= order.quantity
    if order.is_done:
        assert order.leaves_qty == 0
    else:
        assert order.cum_qty + order.leaves_qty == order.quantity
    if order.status is OrdStatus.FILLED:
        assert order.cum_qty == order.quantity
    if order.status is OrdStatus.REJECTED:
        assert order.cum_qty == 0
    fills = [event for event in events if isinstance(event, ev.FILL_EVENTS)]
    assert order.cum_qty == sum((fill.last_qty for fill in fills), Decimal(0))
    if fills:
        assert min(f.last_px for f in fills) <= order.avg_px <= max(f.last_px for f in fills)
    # A pending request and a pending status go together.
    if order.status is OrdStatus.PENDING_CANCEL:
        assert order.pending is not None and order.pending.kind is RequestKind.CANCEL
    elif order.status is OrdStatus.PENDING_REPLACE:
        assert order.pending is not None and order.pending.kind is RequestKind.REPLACE
    else:
        assert order.pending is None
    # Anomalies are counted and never move the order.
    assert order.anomalies == sum(isinstance(event, ev.ExecutionAnomalyRecorded) for event in events)
    reported = {event.exec_id for event in events if hasattr(event, "exec_id")}
    # ...and each refusal leaves its mark, so the same refusal twice appends nothing.
    refused = {
        refusal_key(e.cl_ord_id) for e in events if isinstance(e, ev.OrderCancelRejected | ev.OrderReplaceRejected)
    }
    assert order.exec_ids == reported | refused


def percent_of(quantity: Decimal, percent: int) -> Decimal:
    """A whole quantity near `percent` of `quantity`, at least 1."""
    return max(Decimal(1), (quantity * percent / 100).to_integral_value())


def can_fill(state: OrderState) -> bool:
    return state.status in FILLABLE and state.quantity > state.cum_qty


def without_bookkeeping(state: OrderState) -> OrderState:
    """The order less what a refused report may change: its counters, and the text an anomaly shows."""
    return copy_with(state, version=0, updated_at_ns=0, exec_ids=frozenset(), anomalies=0, text="")


# -- (a) properties over random sequences -------------------------------------------------

submits = st.fixed_dictionaries(
    {
        "quantity": order_quantities,
        "order_type": st.sampled_from(OrderType),
        "limit_price": prices,
        "denial": denials,
    }
)
# Mostly the reports that keep an order working, so sequences get past the first done report.
report_types = st.sampled_from(
    [ExecType.TRADE] * 6
    + [ExecType.NEW] * 2
    + [ExecType.REPLACED] * 2
    + [ExecType.CANCELED, ExecType.REJECTED, ExecType.EXPIRED, ExecType.DONE_FOR_DAY]
)
cancels = st.tuples(st.just("cancel"), cl_ord_ids)
replaces = st.tuples(st.just("replace"), cl_ord_ids, st.none() | quantities, st.none() | prices)
reports = st.tuples(
    st.just("report"),
    exec_ids,
    report_types,
    st.just("rest") | st.integers(1, 20).map(Decimal) | quantities,
    prices,
    st.none() | cl_ord_ids,
    st.none() | quantities,
    st.none() | prices,
)
cancel_rejects = st.tuples(st.just("cancel_reject"), st.none() | cl_ord_ids)
# Weighted towards the venue's reports: requests on a done order are all refused alike.
steps = st.sampled_from(["report"] * 6 + ["cancel", "replace", "cancel_reject"]).flatmap(
    {"report": reports, "cancel": cancels, "replace": replaces, "cancel_reject": cancel_rejects}.__getitem__
)
step_lists = st.lists(steps, min_size=1, max_size=40)


def command_for(driver: OrderDriver, step: tuple) -> cmd.Command:
    order = driver.order
    match step:
        case ("cancel", cl_ord_id):
            return cmd.CancelOrder(
                "c", driver.now(), "user:t", order.account, order.order_id, cl_ord_id, order.cl_ord_id
            )
        case ("replace", cl_ord_id, quantity, limit_price):
            return cmd.ReplaceOrder(
                "c",
                driver.now(),
                "user:t",
                order.account,
                order.order_id,
                cl_ord_id,
                order.cl_ord_id,
                quantity,
                limit_price,
            )
        case ("report", exec_id, exec_type, last_qty, last_px, cl_ord_id, quantity, limit_price):
            if last_qty == "rest":
                last_qty = order.quantity - order.cum_qty
            return driver.report_command(
                exec_type,
                exec_id=exec_id,
                last_qty=last_qty,
                last_px=last_px,
                cl_ord_id=cl_ord_id,
                quantity=quantity,
                limit_price=limit_price,
            )
        case ("cancel_reject", cl_ord_id):
            if cl_ord_id is None:
                cl_ord_id = order.pending.cl_ord_id if order.pending else "X-none"
            return cmd.ApplyCancelReject("c", driver.now(), "venue:v", order.order_id, cl_ord_id, "too_late_to_cancel")
    raise AssertionError(step)


def run(submit: dict, steps: list[tuple], after_each=None) -> OrderDriver:
    """Submit, then each step through decide and apply; `after_each(driver, command, before, events)`."""
    driver = OrderDriver()
    driver.submit(**submit)
    for step in steps:
        command = command_for(driver, step)
        before = driver.order
        events = driver.send(command)  # apply raises InvalidTransition on a refused event
        if after_each:
            after_each(driver, command, before, events)
    return driver


@PROPERTY_SETTINGS
@given(submits, step_lists)
def test_decide_never_produces_an_event_that_apply_refuses(submit, steps):
    def check(driver, command, before, events):
        state = before
        for event in events:
            assert is_allowed(state.status, type(event)), (state.status, event)
            state = apply(state, event)

    # `run` applies every event too, so a refused one also fails it with InvalidTransition.
    run(submit, steps, after_each=check)


@PROPERTY_SETTINGS
@given(submits, step_lists)
def test_replay_of_the_log_equals_the_state_applied_step_by_step(submit, steps):
    live: list[tuple[int, OrderState]] = []  # (events so far, state then), after every step
    driver = run(submit, steps, after_each=lambda driver, *_: live.append((len(driver.events), driver.order)))

    assert replay(driver.events) == driver.order
    for count, state in live:
        assert replay(driver.events[:count]) == state


@PROPERTY_SETTINGS
@given(submits, step_lists)
def test_quantities_and_pending_requests_stay_consistent_after_every_step(submit, steps):
    run(submit, steps, after_each=lambda driver, *_: assert_invariants(driver))


@PROPERTY_SETTINGS
@given(submits, step_lists)
def test_repeated_exec_id_changes_nothing(submit, steps):
    def check(driver, command, before, events):
        if isinstance(command, cmd.ApplyExecutionReport):
            if command.exec_id in before.exec_ids:
                assert events == []
                assert driver.order == before
            else:
                assert decide(driver.order, command) == []  # the same report again

    run(submit, steps, after_each=check)


# -- (b) the state machine ---------------------------------------------------------------


def is_live(machine: OrderLifecycle) -> bool:
    return not machine.order.is_done


def is_done(machine: OrderLifecycle) -> bool:
    return machine.order.is_done


class OrderLifecycle(RuleBasedStateMachine):
    """Orders driven by the client's requests and the venue's reports, in any order.

    One order at a time: once it is done, only late fills, repeated reports and the next order
    remain, so most steps land on live orders (too-late requests and other reports on done
    orders are in test_decide and the properties above).
    """

    def __init__(self) -> None:
        super().__init__()
        self.driver = OrderDriver()
        self.reports: list[cmd.ApplyExecutionReport] = []

    @property
    def order(self) -> OrderState:
        return self.driver.order

    @property
    def open_qty(self) -> Decimal:
        return self.order.quantity - self.order.cum_qty

    def report(self, exec_type: ExecType, **fields) -> list[ev.Event]:
        command = self.driver.report_command(exec_type, **fields)
        self.reports.append(command)
        return self.driver.send(command)

    @initialize(quantity=order_quantities, order_type=st.sampled_from(OrderType), limit_price=prices, denial=denials)
    def submit(self, quantity, order_type, limit_price, denial):
        (event,) = self.driver.submit(quantity=quantity, order_type=order_type, limit_price=limit_price, denial=denial)
        assert isinstance(event, ev.OrderRejected if denial else ev.OrderAccepted)

    @precondition(is_done)
    @rule(quantity=order_quantities, order_type=st.sampled_from(OrderType), limit_price=prices, denial=denials)
    def next_order(self, quantity, order_type, limit_price, denial):
        self.driver = OrderDriver()
        self.reports = []
        self.submit(quantity, order_type, limit_price, denial)

    # -- the client --------------------------------------------------------------------
    @precondition(is_live)
    @rule(repeat_pending=st.booleans())
    def cancel(self, repeat_pending):
        before = self.order
        repeat = repeat_pending and before.pending is not None
        events = self.driver.cancel(cl_ord_id=before.pending.cl_ord_id if repeat else None)
        if before.pending is not None:
            expected = [] if repeat else [(ev.OrderCancelRejected, "request_pending")]
            assert [(type(e), e.reason) for e in events] == expected
            assert self.order.pending == before.pending
            assert self.order.status is before.status
        else:
            assert [type(e) for e in events] == [ev.OrderCancelRequested]
            assert self.order.status is OrdStatus.PENDING_CANCEL

    @precondition(is_live)
    @rule(percent=st.integers(-20, 200), limit_price=st.none() | prices, repeat_pending=st.booleans())
    def replace(self, percent, limit_price, repeat_pending):
        """A new total quantity of the fills so far plus `percent` of what is open (below them if < 0)."""
        before = self.order
        open_qty = before.quantity - before.cum_qty
        quantity = max(Decimal(1), before.cum_qty + (open_qty * percent / 100).to_integral_value())
        repeat = repeat_pending and before.pending is not None
        events = self.driver.replace(
            quantity=quantity, limit_price=limit_price, cl_ord_id=before.pending.cl_ord_id if repeat else None
        )
        if before.pending is not None:
            expected = [] if repeat else [(ev.OrderReplaceRejected, "request_pending")]
            assert [(type(e), e.reason) for e in events] == expected
            assert self.order.pending == before.pending
        elif quantity < before.cum_qty:
            assert [(type(e), e.reason) for e in events] == [(ev.OrderReplaceRejected, "quantity_below_cum_qty")]
        if events and isinstance(events[0], ev.OrderReplaceRequested):
            assert self.order.status is OrdStatus.PENDING_REPLACE
            assert self.order.quantity == before.quantity  # not until the venue replaces it

    # -- the venue ---------------------------------------------------------------------
    @precondition(is_live)
    @rule()
    def ack(self):
        before = self.order
        events = self.report(ExecType.NEW)
        if before.status is OrdStatus.PENDING_NEW:
            assert [type(e) for e in events] == [ev.OrderAcknowledged]
            assert self.order.status is OrdStatus.NEW
        assert self.order.acknowledged

    @precondition(is_live)
    @rule(percent=st.integers(1, 99), last_px=prices)
    def partial_fill(self, percent, last_px):
        before = self.order
        last_qty = percent_of(self.open_qty, percent)
        events = self.report(ExecType.TRADE, last_qty=last_qty, last_px=last_px)
        if can_fill(before) and last_qty < before.quantity - before.cum_qty:
            assert [type(e) for e in events] == [ev.OrderPartiallyFilled]
            assert self.order.cum_qty == before.cum_qty + last_qty
            assert self.order.pending == before.pending  # a fill races a request; the request still stands

    @precondition(is_live)
    @rule(last_px=prices)
    def full_fill(self, last_px):
        before = self.order
        events = self.report(ExecType.TRADE, last_qty=self.open_qty, last_px=last_px)
        if can_fill(before):
            assert [type(e) for e in events] == [ev.OrderFilled]
            assert self.order.status is OrdStatus.FILLED
            assert self.order.leaves_qty == 0
            assert self.order.cum_qty == before.quantity

    @precondition(is_live)
    @rule(extra=quantities, last_px=prices)
    def overfill_attempt(self, extra, last_px):
        before = self.order
        events = self.report(ExecType.TRADE, last_qty=max(self.open_qty, Decimal(0)) + extra, last_px=last_px)
        assert [type(e) for e in events] == [ev.ExecutionAnomalyRecorded]
        assert events[0].reason == "overfill"
        assert self.order.anomalies == before.anomalies + 1
        assert without_bookkeeping(self.order) == without_bookkeeping(before)

    @precondition(is_done)
    @rule(last_qty=quantities, last_px=prices)
    def late_fill(self, last_qty, last_px):
        """A fill after the order is done: booked when it races a cancel or an expiry and fits."""
        before = self.order
        events = self.report(ExecType.TRADE, last_qty=last_qty, last_px=last_px)
        if before.status is OrdStatus.REJECTED:
            assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "fill_on_rejected_order")]
        elif before.status in FILLABLE and before.cum_qty + last_qty <= before.quantity:
            assert [type(e) for e in events] in ([ev.OrderPartiallyFilled], [ev.OrderFilled])
            assert self.order.cum_qty == before.cum_qty + last_qty
            assert self.order.is_done
        else:
            assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "overfill")]

    @precondition(lambda self: self.reports)
    @rule(data=st.data())
    def duplicate_report(self, data):
        before = self.order
        repeated = data.draw(st.sampled_from(self.reports))
        assert self.driver.send(copy_with(repeated, command_id="again", received_at_ns=self.driver.now())) == []
        assert self.order == before

    @precondition(is_live)
    @rule()
    def venue_cancel(self):
        events = self.report(ExecType.CANCELED)
        assert [type(e) for e in events] == [ev.OrderCanceled]
        assert self.order.status is OrdStatus.CANCELED
        assert self.order.pending is None

    @precondition(is_live)
    @rule(answers_pending=st.booleans())
    def venue_cancel_reject(self, answers_pending):
        before = self.order
        answering = answers_pending and before.pending is not None
        repeated = not answering and refusal_key("X-stale") in before.exec_ids
        events = self.driver.venue_cancel_reject(cl_ord_id=None if answering else "X-stale")
        assert len(events) == (0 if repeated else 1)  # the same refusal again appends nothing
        if answering:
            assert self.order.pending is None
            assert self.order.status is before.working_status
        else:
            assert without_bookkeeping(self.order) == without_bookkeeping(before)

    @precondition(is_live)
    @rule(percent=st.none() | percents, limit_price=st.none() | prices)
    def venue_replaced(self, percent, limit_price):
        """The venue's 150=5, with the requested size or a size of its own (`percent` of the request)."""
        before = self.order
        pending = before.pending if before.pending and before.pending.kind is RequestKind.REPLACE else None
        requested = pending.quantity if pending else before.quantity
        quantity = None if percent is None else percent_of(requested, percent)
        events = self.report(ExecType.REPLACED, quantity=quantity, limit_price=limit_price)
        if pending and (quantity or requested) >= before.cum_qty:
            assert [type(e) for e in events] == [ev.OrderReplaced]
            assert self.order.cl_ord_id == pending.cl_ord_id
            assert self.order.quantity == (quantity or requested)
            assert self.order.limit_price == (limit_price or pending.limit_price)
            assert self.order.pending is None
        else:  # nothing to replace, or the venue's size is below the fills since the request
            assert [type(e) for e in events] == [ev.ExecutionAnomalyRecorded]
            assert without_bookkeeping(self.order) == without_bookkeeping(before)

    @precondition(is_live)
    @rule()
    def venue_reject(self):
        before = self.order
        events = self.report(ExecType.REJECTED)
        if before.acknowledged:
            assert [(type(e), e.reason) for e in events] == [(ev.ExecutionAnomalyRecorded, "reject_after_ack")]
        else:
            assert [type(e) for e in events] == [ev.OrderVenueRejected]
            assert self.order.status is OrdStatus.REJECTED

    @precondition(is_live)
    @rule()
    def expire(self):
        events = self.report(ExecType.EXPIRED)
        assert [type(e) for e in events] == [ev.OrderExpired]
        assert self.order.status is OrdStatus.EXPIRED
        assert self.order.leaves_qty == 0

    # -- invariants, after every step -------------------------------------------------
    @invariant()
    def log_replays_to_the_live_state(self):
        assert replay(self.driver.events) == self.order

    @invariant()
    def quantities_statuses_and_requests_are_consistent(self):
        assert_invariants(self.driver)


OrderLifecycle.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase
