"""Pre-trade checks. A check returns a `Denial` or None; a denial becomes an event, not an exception.

For now these are the sanity gate every order passes: a known, active account; a known
instrument; a positive quantity on the lot grid; a limit price present exactly when the
order type needs one, positive and on the tick grid. The limits, price bands, credit and the
kill switch come after these, in `pretrade.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

# Beyond these no real order goes, and the database's columns (30 digits, 8 decimals) stay
# safe from overflow in every sum the projections keep (notional, position totals). Within
# them `value % step` (step >= 1e-8) stays inside Decimal's 28 digits, so the grid checks
# below cannot raise.
MAX_QUANTITY = Decimal("1e12")
MAX_PRICE = Decimal("1e9")


@dataclass(frozen=True, slots=True)
class Denial:
    reason: str  # machine-readable, snake case: e.g. "price_not_on_tick"
    text: str  # for people
    # What the failing check saw, as (name, plain decimal string) pairs, e.g. ("limit", "1000"),
    # ("position", "800"): kept with the rejection so an audit need not rebuild the moment.
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    active: bool = True


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """What the checks look at; built from a SubmitOrder or from an order plus a replace."""

    account: str
    symbol: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None


Check = Callable[[OrderTicket, InstrumentRules | None, bool], Denial | None]


def check_account(ticket: OrderTicket, rules: InstrumentRules | None, account_active: bool) -> Denial | None:
    if not account_active:
        return Denial("unknown_account", f"account {ticket.account!r} is unknown or not active")
    return None


def check_instrument(ticket: OrderTicket, rules: InstrumentRules | None, account_active: bool) -> Denial | None:
    if rules is None:
        return Denial("unknown_symbol", f"symbol {ticket.symbol!r} is not a known instrument")
    if not rules.active:
        return Denial("instrument_halted", f"{ticket.symbol} is not open for trading")
    return None


def check_quantity(ticket: OrderTicket, rules: InstrumentRules | None, account_active: bool) -> Denial | None:
    if not ticket.quantity.is_finite() or ticket.quantity <= 0:
        return Denial("invalid_quantity", f"quantity must be positive, got {ticket.quantity}")
    if ticket.quantity > MAX_QUANTITY:
        return Denial("quantity_too_large", f"quantity {ticket.quantity} is above the maximum {MAX_QUANTITY:f}")
    if rules is not None and ticket.quantity % rules.lot_size != 0:
        return Denial(
            "quantity_not_on_lot", f"quantity {ticket.quantity} is not a multiple of the lot size {rules.lot_size}"
        )
    return None


def check_price(ticket: OrderTicket, rules: InstrumentRules | None, account_active: bool) -> Denial | None:
    price = ticket.limit_price
    if ticket.order_type == "market":
        if price is not None:
            return Denial("price_on_market_order", "a market order takes no limit_price")
        return None
    if price is None:
        return Denial("missing_limit_price", "a limit order needs a limit_price")
    if not price.is_finite() or price <= 0:
        return Denial("invalid_price", f"limit_price must be positive, got {price}")
    if price > MAX_PRICE:
        return Denial("price_too_large", f"limit_price {price} is above the maximum {MAX_PRICE:f}")
    if rules is not None and price % rules.tick_size != 0:
        return Denial("price_not_on_tick", f"limit_price {price} is not on the tick size {rules.tick_size}")
    return None


SANITY_CHECKS: tuple[Check, ...] = (check_account, check_instrument, check_quantity, check_price)


def first_denial(
    ticket: OrderTicket, rules: InstrumentRules | None, account_active: bool, checks: Iterable[Check] = SANITY_CHECKS
) -> Denial | None:
    for check in checks:
        denial = check(ticket, rules, account_active)
        if denial is not None:
            return denial
    return None


def check_order(
    *,
    account: str,
    symbol: str,
    quantity: Decimal,
    order_type: str,
    limit_price: Decimal | None,
    instruments: Mapping[str, InstrumentRules],
    active_accounts: frozenset[str] | set[str],
) -> Denial | None:
    ticket = OrderTicket(account, symbol, quantity, order_type, limit_price)
    return first_denial(ticket, instruments.get(symbol), account in active_accounts)


def check_replace(
    *,
    account: str,
    symbol: str,
    quantity: Decimal,
    order_type: str,
    limit_price: Decimal | None,
    instruments: Mapping[str, InstrumentRules],
) -> Denial | None:
    """The grid checks again on the replacement's size and price (the account was checked at entry)."""
    ticket = OrderTicket(account, symbol, quantity, order_type, limit_price)
    return first_denial(ticket, instruments.get(symbol), True, (check_quantity, check_price))
