"""The engine's post-commit notice (orders/routed.py): what it carries, read back as written."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from orders import routed, store
from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.values import OrderType, Side, TimeInForce
from orders.routed import RoutedOrder
from risk.domain import Scope, Switch
from risk.domain.events import KillSwitchEngaged

AT = 1_700_000_000_000_000_000


def accepted(order_id: int, price: Decimal | None = Decimal("99.25"), quantity: Decimal = Decimal(10)):
    order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
    return ev.OrderAccepted(order_id, AT, "DESK-EQ", f"C{order_id}", "AAPL", Side.SELL, quantity, order_type,
                            TimeInForce.DAY, price, venue="SIMA")  # fmt: skip


def staged_order(event: ev.Event, position: int, state) -> store.StoredEvent:
    return store.StoredEvent.for_order(event, position=position, version=state.version, account=state.account,
                                       recorded_at_ns=AT, actor="user:trader", command_id=f"c{position}",
                                       state_after=state)  # fmt: skip


def test_a_notice_carries_the_routed_events_with_their_orders_and_leaves_the_rest_out():
    order = apply(None, accepted(7))
    acknowledged = ev.OrderAcknowledged(7, AT + 1, "E1", "V-7")
    after_ack = apply(order, acknowledged)
    cancel = ev.OrderCancelRequested(7, AT + 2, "C7~1", "C7")
    after_cancel = apply(after_ack, cancel)
    engage = KillSwitchEngaged(1, AT + 3, "account", "DESK-EQ", "test", 0)
    engaged = store.StoredEvent.for_risk(engage, position=14, version=1, recorded_at_ns=AT, actor="user:risk",
                                         command_id="c14")  # fmt: skip
    staged = [
        staged_order(accepted(7), 11, order),
        staged_order(acknowledged, 12, after_ack),
        staged_order(cancel, 13, after_cancel),
        engaged,
    ]
    switches = [Switch(Scope.ACCOUNT, "DESK-EQ", "user:risk", "test", AT + 3)]

    notice = routed.decode(routed.encode(10, staged, {7: after_cancel}, switches))

    assert (notice.after, notice.last) == (10, 14)
    assert [(s.position, s.event_type) for s, _ in notice.routed] == [
        (11, "OrderAccepted"), (13, "OrderCancelRequested"), (14, "KillSwitchEngaged"),
    ]  # fmt: skip
    (sent, first), (cancel_sent, second), (switch, none) = notice.routed
    assert sent.event == accepted(7) and cancel_sent.event == cancel and switch.event == engage
    assert first == second == RoutedOrder.from_state(after_cancel), "each order as the commit left it"
    assert second.pending_kind == "cancel" and second.pending_cl_ord_id == "C7~1"
    assert second.venue_order_id == "V-7" and second.venue == "SIMA"
    assert none is None
    assert notice.switches.halting("DESK-EQ", None, "SIMA") == switches[0]


def test_a_commit_with_nothing_routed_is_still_announced_and_an_empty_one_is_not():
    order = apply(None, accepted(8))
    ack = ev.OrderAcknowledged(8, AT + 1, "E1")
    notice = routed.decode(routed.encode(20, [staged_order(ack, 21, apply(order, ack))], {}, []))
    assert (notice.after, notice.last, notice.routed) == (20, 21, [])
    assert routed.encode(20, [], {}, []) is None


@given(
    quantity=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e9"), places=4),
    price=st.none() | st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e7"), places=4),
)
def test_an_order_reads_back_as_written(quantity, price):
    state = apply(None, accepted(9, price, quantity))
    order = RoutedOrder.from_state(state)
    assert RoutedOrder.from_json(order.as_json()) == order
