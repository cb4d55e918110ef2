"""Positions as a fold of fills: average cost, realised P&L, flips."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from orders.domain.positions import Position, apply_fill
from orders.domain.values import Side

D = Decimal


def flat() -> Position:
    return Position("ACC-1", "ACME")


def book(*fills: tuple[Side, str, str], position: Position | None = None) -> Position:
    position = position or flat()
    for side, quantity, price in fills:
        position = apply_fill(position, side, D(quantity), D(price))
    return position


def test_first_buy_opens_long_at_the_fill_price():
    position = book((Side.BUY, "100", "10.00"))

    assert (position.quantity, position.avg_cost, position.realized_pnl) == (D(100), D("10.00"), D(0))
    assert (position.bought, position.sold) == (D(100), D(0))
    assert (position.account, position.symbol) == ("ACC-1", "ACME")


def test_first_sell_short_opens_short_at_the_fill_price():
    position = book((Side.SELL_SHORT, "50", "20.00"))

    assert (position.quantity, position.avg_cost) == (D(-50), D("20.00"))
    assert position.sold == 50


def test_adding_to_long_averages_the_cost():
    position = book((Side.BUY, "100", "10.00"), (Side.BUY, "50", "13.00"))

    assert position.quantity == 150
    assert position.avg_cost == D("11.00")  # (1000 + 650) / 150
    assert position.realized_pnl == 0


def test_average_cost_is_quantized_to_eight_places():
    position = book((Side.BUY, "1", "1"), (Side.BUY, "2", "2"))

    assert position.avg_cost == D("1.66666667")


def test_partial_close_of_long_realises_pnl_and_keeps_the_cost():
    position = book((Side.BUY, "100", "10.00"), (Side.SELL, "40", "12.50"))

    assert position.quantity == 60
    assert position.realized_pnl == D("100.00")  # 40 x (12.50 - 10.00)
    assert position.avg_cost == D("10.00")


def test_partial_close_of_short_realises_pnl_with_the_sign_of_a_short():
    position = book((Side.SELL_SHORT, "100", "10.00"), (Side.BUY, "30", "9.00"))

    assert position.quantity == -70
    assert position.realized_pnl == D("30.00")  # bought back 1.00 cheaper, 30 times
    assert position.avg_cost == D("10.00")


def test_loss_on_close_is_negative_pnl():
    position = book((Side.BUY, "10", "10.00"), (Side.SELL, "10", "9.00"))

    assert position.realized_pnl == D("-10.00")


def test_close_to_flat_resets_average_cost():
    position = book((Side.BUY, "100", "10.00"), (Side.SELL, "100", "11.00"))

    assert position.quantity == 0
    assert position.avg_cost == 0
    assert position.realized_pnl == D("100.00")


def test_reopening_after_flat_starts_from_the_new_price():
    position = book((Side.BUY, "100", "10.00"), (Side.SELL, "100", "11.00"), (Side.BUY, "10", "20.00"))

    assert (position.quantity, position.avg_cost) == (D(10), D("20.00"))
    assert position.realized_pnl == D("100.00")


def test_flip_long_to_short_realises_the_long_and_opens_short_at_the_fill_price():
    position = book((Side.BUY, "100", "10.00"), (Side.SELL, "150", "12.00"))

    assert position.quantity == -50
    assert position.realized_pnl == D("200.00")  # only the 100 closed
    assert position.avg_cost == D("12.00")


def test_flip_short_to_long_opens_long_at_the_fill_price():
    position = book((Side.SELL_SHORT, "20", "50.00"), (Side.BUY, "30", "45.00"))

    assert position.quantity == 10
    assert position.realized_pnl == D("100.00")
    assert position.avg_cost == D("45.00")


# -- properties ---------------------------------------------------------------------------

quantities = st.integers(1, 10_000).map(D)
prices = st.integers(1, 1_000_000).map(lambda cents: D(cents).scaleb(-2))  # on a 0.01 tick
sides = st.sampled_from(Side)


@PROPERTY_SETTINGS
@given(side=sides, quantity=quantities, price=prices)
def test_round_trip_at_one_price_realises_nothing_and_returns_flat(side, quantity, price):
    opposite = Side.SELL if side is Side.BUY else Side.BUY

    position = apply_fill(apply_fill(flat(), side, quantity, price), opposite, quantity, price)

    assert position.quantity == 0
    assert position.realized_pnl == 0
    assert position.avg_cost == 0


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(sides, quantities, prices), max_size=30))
def test_quantity_is_bought_minus_sold(fills):
    position = flat()
    for side, quantity, price in fills:
        position = apply_fill(position, side, quantity, price)

        assert position.quantity == position.bought - position.sold
        if position.quantity == 0:
            assert position.avg_cost == 0

    assert position.bought == sum((q for s, q, _ in fills if s is Side.BUY), D(0))
    assert position.sold == sum((q for s, q, _ in fills if s is not Side.BUY), D(0))


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(sides, quantities), max_size=30), prices)
def test_trading_at_a_single_price_never_realises_pnl(fills, price):
    position = flat()
    for side, quantity in fills:
        position = apply_fill(position, side, quantity, price)

    assert position.realized_pnl == 0
    assert position.avg_cost in (0, price)


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(quantities, prices), min_size=1, max_size=10), prices)
def test_closing_a_long_realises_sale_proceeds_minus_cost(buys, exit_price):
    position = flat()
    for quantity, price in buys:
        position = apply_fill(position, Side.BUY, quantity, price)

    closed = apply_fill(position, Side.SELL, position.quantity, exit_price)

    cost = sum((q * p for q, p in buys), D(0))
    # The average cost is rounded to 8 places at each buy: the P&L is off by at most that, per buy.
    tolerance = position.quantity * D("0.5e-8") * len(buys)
    assert abs(closed.realized_pnl - (exit_price * position.quantity - cost)) <= tolerance
    assert closed.quantity == 0
