"""The pre-trade sanity gate: each check's denial reason, and None on a good order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from risk.domain import InstrumentRules, check_order, check_replace
from risk.domain.checks import Denial

D = Decimal
INSTRUMENTS = {
    "ACME": InstrumentRules("ACME", tick_size=D("0.01"), lot_size=D("10")),
    "HALT": InstrumentRules("HALT", tick_size=D("0.01"), lot_size=D("1"), active=False),
}
ACTIVE = frozenset({"ACC-1"})
GOOD = dict(account="ACC-1", symbol="ACME", quantity=D("100"), order_type="limit", limit_price=D("10.05"))


def check(**changes) -> Denial | None:
    return check_order(**{**GOOD, **changes}, instruments=INSTRUMENTS, active_accounts=ACTIVE)


def test_good_limit_order_passes():
    assert check() is None


def test_good_market_order_passes():
    assert check(order_type="market", limit_price=None) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"account": "ACC-404"}, "unknown_account"),
        ({"symbol": "NOPE"}, "unknown_symbol"),
        ({"symbol": "HALT", "quantity": D("1")}, "instrument_halted"),
        ({"quantity": D("0")}, "invalid_quantity"),
        ({"quantity": D("-10")}, "invalid_quantity"),
        ({"quantity": D("NaN")}, "invalid_quantity"),
        ({"quantity": D("Infinity")}, "invalid_quantity"),
        ({"quantity": D("1E+30")}, "quantity_too_large"),  # also beyond what `%` can answer
        ({"quantity": D("1000000000001")}, "quantity_too_large"),
        ({"quantity": D("105")}, "quantity_not_on_lot"),
        ({"quantity": D("10.5")}, "quantity_not_on_lot"),
        ({"limit_price": None}, "missing_limit_price"),
        ({"order_type": "market", "limit_price": D("10.05")}, "price_on_market_order"),
        ({"limit_price": D("0")}, "invalid_price"),
        ({"limit_price": D("-1.00")}, "invalid_price"),
        ({"limit_price": D("NaN")}, "invalid_price"),
        ({"limit_price": D("1E+30")}, "price_too_large"),
        ({"limit_price": D("1000000000.01")}, "price_too_large"),
        ({"limit_price": D("10.005")}, "price_not_on_tick"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_order_is_denied_with_its_reason(changes, reason):
    denial = check(**changes)

    assert denial is not None
    assert denial.reason == reason
    assert denial.text  # for people: never empty


def test_denial_text_names_the_offending_value():
    assert "ACC-404" in check(account="ACC-404").text
    assert "10.005" in check(limit_price=D("10.005")).text


def test_checks_run_in_order_and_the_first_denial_wins():
    denial = check(account="ACC-404", symbol="NOPE", quantity=D("0"), limit_price=None)

    assert denial.reason == "unknown_account"
    assert check(symbol="NOPE", quantity=D("0")).reason == "unknown_symbol"
    assert check(quantity=D("0"), limit_price=None).reason == "invalid_quantity"


def test_prices_on_the_tick_grid_pass_whatever_their_exponent():
    assert check(limit_price=D("10.1")) is None
    assert check(limit_price=D("10.100")) is None
    assert check(limit_price=D("1E+1")) is None


def test_replace_checks_the_grid_but_not_the_account():
    replace_of = dict(GOOD, account="ACC-closed-since")

    assert check_replace(**replace_of, instruments=INSTRUMENTS) is None
    assert check_replace(**{**replace_of, "quantity": D("15")}, instruments=INSTRUMENTS).reason == (
        "quantity_not_on_lot"
    )
    assert check_replace(**{**replace_of, "limit_price": D("10.001")}, instruments=INSTRUMENTS).reason == (
        "price_not_on_tick"
    )


any_decimal = st.decimals(allow_nan=True, allow_infinity=True)


@PROPERTY_SETTINGS
@given(quantity=any_decimal, limit_price=st.none() | any_decimal, order_type=st.sampled_from(["limit", "market"]))
def test_checks_answer_any_decimal_with_a_denial_or_none(quantity, limit_price, order_type):
    # Input from outside never makes a check raise: whatever arrives gets a reason or passes.
    denial = check(quantity=quantity, limit_price=limit_price, order_type=order_type)

    assert denial is None or isinstance(denial, Denial)
    if denial is None:
        assert quantity > 0 and quantity % INSTRUMENTS["ACME"].lot_size == 0
