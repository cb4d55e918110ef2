"""What the orders use of their limits: an incremental fold over order states.

The engine calls `RiskUsage.update(before, after, valued_at)` with every order state it folds
(`before` None for a new order), in the same step, so the figures the next check reads include
every order event before it. `recompute` builds the same figures from scratch, for the
property tests and for checking a live engine against its log.

What an order counts for, per (account, symbol):
- confirmed: its fills, signed (buys +, sells and short sells -), in quantity and in notional;
- pending: what it still has open while live (pending_new too: it may fill at once), buys and
  sells apart, valued at its limit price, or for a market order at the price it was valued at
  when accepted (`valued_at`, kept here per order). A pending replace counts the larger of the
  old and the new quantity and price, since the venue may yet apply either;
- a child order counts for nothing here: its parent counts once, and its fills are the parent's.
The resting orders per (account, symbol), for the self-trade check, are the other way round:
the children are what rests at a venue; a parent rests nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from orders.domain.state import OrderState
from orders.domain.values import OrderType, RequestKind, Side

ZERO = Decimal(0)
ONE = Decimal(1)

MarginRates = Callable[[str], Decimal] | Mapping[str, Decimal]


# The records below are built or read per order on the critical path: NamedTuples, immutable
# like a frozen dataclass but built in a quarter of the time (a frozen dataclass's __init__ sets
# each field through object.__setattr__).
class Exposure(NamedTuple):
    """One account's figures in one symbol."""

    position: Decimal = ZERO  # signed filled quantity: long > 0
    filled_notional: Decimal = ZERO  # signed: bought > 0
    pending_buy: Decimal = ZERO
    pending_sell: Decimal = ZERO
    pending_buy_notional: Decimal = ZERO
    pending_sell_notional: Decimal = ZERO

    @property
    def gross_notional(self) -> Decimal:
        return abs(self.filled_notional) + self.pending_buy_notional + self.pending_sell_notional


NO_EXPOSURE = Exposure()
COST_PLACES = Decimal("0.00000001")


def average_cost(exposure: Exposure) -> Decimal:
    """What the position cost a unit, to 8 places (a finite figure: sums of it stay exact)."""
    if not exposure.position:
        return ZERO
    return (exposure.filled_notional / exposure.position).quantize(COST_PLACES)


class AccountUsage(NamedTuple):
    gross_notional: Decimal = ZERO  # over its symbols: |filled notional| + pending notional
    credit_used: Decimal = ZERO  # over its symbols: gross notional x the symbol's margin rate


NO_ACCOUNT_USAGE = AccountUsage()


class RestingOrder(NamedTuple):
    """A live order at a venue (or on its way there), as the self-trade check sees it."""

    order_id: int
    side: Side
    venue: str | None
    limit_price: Decimal | None  # None: a market order, which crosses anything
    is_child: bool


def _figures(order: OrderState, valued_at: Decimal | None) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(position, filled notional, pending quantity, pending notional) of a top-level order;
    the pending figures are on the order's own side."""
    buying = order.side is Side.BUY
    position = order.cum_qty if buying else -order.cum_qty
    filled_notional = order.notional if buying else -order.notional
    if order.status.is_done:
        return position, filled_notional, ZERO, ZERO
    quantity = order.quantity
    price = order.limit_price if order.order_type is OrderType.LIMIT else valued_at
    pending = order.pending
    if pending is not None and pending.kind is RequestKind.REPLACE:
        if pending.quantity is not None and pending.quantity > quantity:
            quantity = pending.quantity
        if pending.limit_price is not None and price is not None and pending.limit_price > price:
            price = pending.limit_price
    open_qty = quantity - order.cum_qty
    if open_qty <= 0:
        return position, filled_notional, ZERO, ZERO
    # A market order accepted before risk recorded its valuation has none: its quantity counts, its notional
    # cannot (the engine records `valued_at` with every market order it accepts).
    return position, filled_notional, open_qty, open_qty * price if price is not None else ZERO


def contribution(order: OrderState, valued_at: Decimal | None = None) -> Exposure:
    """What one order adds to its (account, symbol) figures. `valued_at`: a market order's valuation."""
    if order.parent_id is not None:
        return NO_EXPOSURE
    position, filled_notional, pending, pending_notional = _figures(order, valued_at)
    if order.side is Side.BUY:
        return Exposure(position, filled_notional, pending, ZERO, pending_notional, ZERO)
    return Exposure(position, filled_notional, ZERO, pending, ZERO, pending_notional)


def resting_of(order: OrderState) -> RestingOrder | None:
    """The order as it rests at its venue, or None (done, or a parent). With a replace pending,
    at the more aggressive of its two prices: the venue may apply the replace at any moment."""
    if order.is_parent or order.status.is_done:
        return None
    price = order.limit_price
    pending = order.pending
    if pending is not None and pending.kind is RequestKind.REPLACE and pending.limit_price is not None:
        if price is not None:
            price = max(price, pending.limit_price) if order.side is Side.BUY else min(price, pending.limit_price)
    return RestingOrder(order.order_id, order.side, order.venue, price, order.parent_id is not None)


def _rate_lookup(margin_rates: MarginRates | None) -> Callable[[str], Decimal]:
    """Margin rates as a function. A symbol without one uses all of its notional (rate 1): the
    safe side when nothing better is known."""
    if margin_rates is None:
        return lambda symbol: ONE
    if isinstance(margin_rates, Mapping):
        rates = margin_rates
        return lambda symbol: rates.get(symbol, ONE)
    return margin_rates


def _exposure_may_change(before: OrderState, after: OrderState) -> bool:
    """False when the event changed nothing the figures read (an ack, an anomaly, a refusal of
    nothing pending): most events on the critical path, skipped at the cost of a few compares.
    `pending` is compared by identity: the fold keeps the same object when it leaves it alone."""
    return (
        before.cum_qty != after.cum_qty
        or before.notional != after.notional
        or before.quantity != after.quantity
        or before.limit_price != after.limit_price
        or before.pending is not after.pending
        or before.status.is_done != after.status.is_done
    )


def _rests_differently(before: OrderState, after: OrderState) -> bool:
    return (
        before.status.is_done != after.status.is_done
        or before.limit_price != after.limit_price
        or before.pending is not after.pending
        or before.venue != after.venue
    )


class RiskUsage:
    """The figures the checks read, kept up to date order event by order event. Owned by the
    engine (one writer); not thread safe. Reads allocate nothing: they answer the stored
    immutable records, which an update replaces."""

    __slots__ = ("_accounts", "_exposures", "_margin_rate", "_resting", "_symbols_of", "_valued_at")

    def __init__(self, margin_rates: MarginRates | None = None) -> None:
        self._margin_rate = _rate_lookup(margin_rates)
        self._exposures: dict[tuple[str, str], Exposure] = {}
        self._symbols_of: dict[str, set[str]] = {}  # account -> the symbols it has figures in
        self._accounts: dict[str, AccountUsage] = {}
        # (account, symbol, is a buy) -> order id -> the order as it rests: split by side, so the
        # self-trade check of an order reads only the side it could cross.
        self._resting: dict[tuple[str, str, bool], dict[int, RestingOrder]] = {}
        self._valued_at: dict[int, Decimal] = {}  # market orders only

    # -- writing ---------------------------------------------------------------------------
    def update(self, before: OrderState | None, after: OrderState, valued_at: Decimal | None = None) -> None:
        """Fold one order event in: `before` is the order's state the last update left (None
        for a new order), `after` its state now. `valued_at`: a market order's valuation, given
        when it is accepted (`accepted_record(...).valued_at`); kept for its later updates."""
        order_id = after.order_id
        market = after.order_type is OrderType.MARKET
        if after.parent_id is None and (before is None or _exposure_may_change(before, after)):
            old = (ZERO, ZERO, ZERO, ZERO)
            if before is not None:
                old = _figures(before, self._valued_at.get(order_id) if market else None)
            if valued_at is not None and market:
                self._valued_at[order_id] = valued_at
            new = _figures(after, self._valued_at.get(order_id) if market else None)
            self._change(after.account, after.symbol, after.side is Side.BUY, old, new)
        elif valued_at is not None and market:
            self._valued_at[order_id] = valued_at
        if before is None or _rests_differently(before, after):
            self._rest(after)

    def adjust(self, account: str, symbol: str, quantity: Decimal, price: Decimal | None) -> None:
        """A position adjustment a person accepted (reconciliation): the position moves by `quantity`
        (signed) as a fill would move it, valued at `price`, or at the position's average cost
        when the venue gave none. No order is involved: nothing pending changes."""
        if price is None:
            price = average_cost(self.symbol(account, symbol))
        self._change(account, symbol, True, (ZERO, ZERO, ZERO, ZERO), (quantity, quantity * price, ZERO, ZERO))

    def _change(
        self, account: str, symbol: str, buying: bool, old: tuple[Decimal, ...], new: tuple[Decimal, ...]
    ) -> None:
        """Move (account, symbol) from an order's `old` figures to its `new` ones (`_figures`)."""
        if old == new:
            return
        key = (account, symbol)
        e = self._exposures.get(key, NO_EXPOSURE)
        position = e.position + (new[0] - old[0])
        filled_notional = e.filled_notional + (new[1] - old[1])
        if buying:
            changed = Exposure(position, filled_notional, e.pending_buy + (new[2] - old[2]), e.pending_sell,
                               e.pending_buy_notional + (new[3] - old[3]), e.pending_sell_notional)  # fmt: skip
        else:
            changed = Exposure(position, filled_notional, e.pending_buy, e.pending_sell + (new[2] - old[2]),
                               e.pending_buy_notional, e.pending_sell_notional + (new[3] - old[3]))  # fmt: skip
        if key not in self._exposures:
            self._symbols_of.setdefault(account, set()).add(symbol)
        self._exposures[key] = changed
        gross_change = changed.gross_notional - e.gross_notional
        if gross_change:
            a = self._accounts.get(account, NO_ACCOUNT_USAGE)
            self._accounts[account] = AccountUsage(
                a.gross_notional + gross_change, a.credit_used + gross_change * self._margin_rate(symbol)
            )

    def _rest(self, order: OrderState) -> None:
        key = (order.account, order.symbol, order.side is Side.BUY)
        resting = resting_of(order)
        orders = self._resting.get(key)
        if resting is not None:
            if orders is None:
                orders = self._resting[key] = {}
            orders[order.order_id] = resting
        elif orders is not None:
            orders.pop(order.order_id, None)

    def reprice(self, margin_rates: MarginRates) -> None:
        """New margin rates (reference data reloaded): the credit used follows at once."""
        self._margin_rate = _rate_lookup(margin_rates)
        credit: dict[str, Decimal] = {}
        for (account, symbol), exposure in self._exposures.items():
            credit[account] = credit.get(account, ZERO) + exposure.gross_notional * self._margin_rate(symbol)
        self._accounts = {
            account: AccountUsage(usage.gross_notional, credit.get(account, ZERO))
            for account, usage in self._accounts.items()
        }

    # -- reading ---------------------------------------------------------------------------
    def symbol(self, account: str, symbol: str) -> Exposure:
        return self._exposures.get((account, symbol), NO_EXPOSURE)

    def account(self, account: str) -> AccountUsage:
        return self._accounts.get(account, NO_ACCOUNT_USAGE)

    def symbols(self, account: str) -> Iterator[tuple[str, Exposure]]:
        """Every symbol the account has figures in (for the usage API), without a scan of all."""
        for symbol in self._symbols_of.get(account, ()):
            yield symbol, self._exposures[(account, symbol)]

    def valued_at(self, order_id: int) -> Decimal | None:
        return self._valued_at.get(order_id)

    def resting(self, account: str, symbol: str) -> dict[int, RestingOrder]:
        """Every live order of the account in the symbol at a venue, both sides."""
        return {**self._resting.get((account, symbol, True), {}), **self._resting.get((account, symbol, False), {})}

    def own_resting(
        self, account: str, symbol: str, side: Side, excluding: Collection[int] = ()
    ) -> Collection[RestingOrder]:
        """What an order of `account` on `side` in `symbol` could trade against: its resting
        orders on the other side. A replace excludes the order itself and, for a parent, its
        children (they move with it). Without exclusions, a live view: read it at once."""
        orders = self._resting.get((account, symbol, side is not Side.BUY))
        if not orders:
            return ()
        if not excluding:
            return orders.values()
        return tuple(r for order_id, r in orders.items() if order_id not in excluding)

    # -- comparing -------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """Everything a check can read, without the entries that count nothing: equal for two
        usages that answer every check alike."""
        return {
            "symbols": {key: e for key, e in self._exposures.items() if e != NO_EXPOSURE},
            "accounts": {account: a for account, a in self._accounts.items() if a != NO_ACCOUNT_USAGE},
            "resting": {key: dict(orders) for key, orders in self._resting.items() if orders},
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RiskUsage):
            return NotImplemented
        return self.figures() == other.figures()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"RiskUsage({self.figures()!r})"


def recompute(
    orders: Iterable[OrderState],
    valued_at: Mapping[int, Decimal],
    margin_rates: MarginRates | None = None,
    adjustments: Iterable[tuple[str, str, Decimal, Decimal]] = (),
) -> RiskUsage:
    """The usage of `orders` (each in its latest state) from scratch, summing `contribution`s,
    plus position `adjustments` (account, symbol, quantity, notional): what the incremental
    `update`s and `adjust`s must always equal."""
    usage = RiskUsage(margin_rates)
    sums: dict[tuple[str, str], Exposure] = {}
    for account, symbol, quantity, notional in adjustments:
        sums[(account, symbol)] = _sum(sums.get((account, symbol), NO_EXPOSURE), Exposure(quantity, notional))
    for order in orders:
        order_valued_at = valued_at.get(order.order_id) if order.order_type is OrderType.MARKET else None
        if order_valued_at is not None:
            usage._valued_at[order.order_id] = order_valued_at
        usage._rest(order)
        key = (order.account, order.symbol)
        sums[key] = _sum(sums.get(key, NO_EXPOSURE), contribution(order, order_valued_at))
    gross: dict[str, Decimal] = {}
    credit: dict[str, Decimal] = {}
    for (account, symbol), exposure in sums.items():
        usage._exposures[(account, symbol)] = exposure
        usage._symbols_of.setdefault(account, set()).add(symbol)
        gross[account] = gross.get(account, ZERO) + exposure.gross_notional
        credit[account] = credit.get(account, ZERO) + exposure.gross_notional * usage._margin_rate(symbol)
    usage._accounts = {account: AccountUsage(gross[account], credit[account]) for account in gross}
    return usage


def _sum(a: Exposure, b: Exposure) -> Exposure:
    return Exposure(*(x + y for x, y in zip(a, b)))
