"""A price-time-priority limit order book, pure Python: the matching core of a simulated venue.

Incoming orders match against the opposite side at the resting orders' prices, best price
first and, within a price, oldest first. What is left of a DAY or GTC limit order rests;
what is left of an IOC or market order expires; a FOK order fills completely at once or
expires untouched. Replacing an order keeps its time priority only when it merely shrinks
(FIX and most venues: a price change or a larger size goes to the back of the queue).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from sortedcontainers import SortedDict

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


@dataclass
class BookOrder:
    """An order as the venue holds it. `price` None is a market order."""

    order_id: str
    owner: str  # who to report to: a FIX session, or a liquidity participant
    cl_ord_id: str
    side: Side
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce = TimeInForce.DAY
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO
    priority: int = 0  # lower is older: time priority within a price level
    open: bool = True
    account: str = ""  # 1 Account as the order named it: positions are kept per account too
    expired: bool = False  # ended by its time in force (a DAY order at the close), not canceled

    @property
    def leaves_qty(self) -> Decimal:
        return self.quantity - self.cum_qty if self.open else ZERO

    @property
    def avg_px(self) -> Decimal:
        return self.notional / self.cum_qty if self.cum_qty else ZERO


@dataclass(frozen=True)
class Fill:
    """One side of a trade, with the order's totals right after it (the orders move on)."""

    order: BookOrder
    cum_qty: Decimal
    notional: Decimal

    @property
    def leaves_qty(self) -> Decimal:
        return self.order.quantity - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        return self.notional / self.cum_qty


@dataclass(frozen=True)
class Trade:
    """One execution between an incoming (aggressor) and a resting order."""

    aggressor: BookOrder
    resting: BookOrder
    quantity: Decimal
    price: Decimal
    aggressor_fill: Fill
    resting_fill: Fill


@dataclass
class Outcome:
    """What a submit or replace did: trades in order, and how the incoming order ended."""

    order: BookOrder
    trades: list[Trade] = field(default_factory=list)
    rested: bool = False
    expired: bool = False  # IOC/market remainder, or a FOK that could not fill at once


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        # price -> queue of orders; bids iterate best (highest) first through negated keys
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self._orders: dict[str, BookOrder] = {}
        self._sequence = 0
        self.last_trade: tuple[Decimal, Decimal] | None = None  # (price, quantity)

    # -- queries ---------------------------------------------------------------------------

    def get(self, order_id: str) -> BookOrder | None:
        return self._orders.get(order_id)

    def best_bid(self) -> Decimal | None:
        return -self._bids.peekitem(0)[0] if self._bids else None

    def best_ask(self) -> Decimal | None:
        return self._asks.peekitem(0)[0] if self._asks else None

    def depth(self, side: Side, levels: int = 5) -> list[tuple[Decimal, Decimal]]:
        """(price, total leaves) per level, best first."""
        book = self._bids if side is Side.BUY else self._asks
        result = []
        for key, queue in book.items()[:levels]:
            price = -key if side is Side.BUY else key
            result.append((price, sum((o.leaves_qty for o in queue), ZERO)))
        return result

    def available(self, side: Side, limit: Decimal | None) -> Decimal:
        """Quantity resting on `side` at `limit` or better (any price when None)."""
        total = ZERO
        for price, queue in self._levels(side):
            if limit is not None and not _at_or_better(side, price, limit):
                break
            total += sum((o.leaves_qty for o in queue), ZERO)
        return total

    def resting(self) -> Iterator[BookOrder]:
        for _, queue in self._levels(Side.BUY):
            yield from queue
        for _, queue in self._levels(Side.SELL):
            yield from queue

    # -- commands -------------------------------------------------------------------------

    def submit(self, order: BookOrder) -> Outcome:
        """Match, then rest or expire the remainder. Precondition: quantity > 0, a new order_id."""
        assert order.order_id not in self._orders and order.quantity > 0
        self._sequence += 1
        order.priority = self._sequence
        outcome = Outcome(order)
        if order.time_in_force is TimeInForce.FOK and self.available(order.side.opposite, order.price) < order.quantity:
            order.open = False
            outcome.expired = True
            return outcome
        self._match(order, outcome)
        if order.leaves_qty > 0:
            if order.price is None or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                order.open = False
                outcome.expired = True
            else:
                self._rest(order)
                outcome.rested = True
        return outcome

    def cancel(self, order_id: str) -> BookOrder | None:
        """Take a resting order off the book; None when it is not resting (filled, gone, unknown)."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        self._unlink(order)
        order.open = False
        return order

    def replace(self, order_id: str, quantity: Decimal, price: Decimal | None) -> Outcome | None:
        """Change a resting order's total quantity and/or price; None when it is not resting.

        A quantity at or below what is filled closes the order. The order keeps its place in
        the queue only if the price is unchanged and the quantity does not grow."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        keeps_priority = price == order.price and quantity <= order.quantity
        if quantity <= order.cum_qty:
            self.cancel(order_id)
            order.quantity = quantity
            return Outcome(order)
        if keeps_priority:
            order.quantity = quantity
            return Outcome(order, rested=True)
        self._unlink(order)
        del self._orders[order_id]
        order.quantity = quantity
        order.price = price
        self._sequence += 1
        order.priority = self._sequence
        outcome = Outcome(order)
        self._match(order, outcome)
        if order.leaves_qty > 0:
            self._rest(order)
            outcome.rested = True
        return outcome

    # -- internals ------------------------------------------------------------------------

    def _levels(self, side: Side) -> Iterator[tuple[Decimal, deque[BookOrder]]]:
        if side is Side.BUY:
            for key, queue in self._bids.items():
                yield -key, queue
        else:
            yield from self._asks.items()

    def _match(self, incoming: BookOrder, outcome: Outcome) -> None:
        contra = self._asks if incoming.side is Side.BUY else self._bids
        while incoming.leaves_qty > 0 and contra:
            key, queue = contra.peekitem(0)
            price = key if incoming.side is Side.BUY else -key
            if incoming.price is not None and not _at_or_better(incoming.side.opposite, price, incoming.price):
                break
            resting = queue[0]
            quantity = min(incoming.leaves_qty, resting.leaves_qty)
            for order in (incoming, resting):
                order.cum_qty += quantity
                order.notional += quantity * price
            outcome.trades.append(
                Trade(incoming, resting, quantity, price, Fill(incoming, incoming.cum_qty, incoming.notional),
                      Fill(resting, resting.cum_qty, resting.notional))
            )  # fmt: skip
            self.last_trade = (price, quantity)
            if resting.leaves_qty == 0:
                resting.open = False
                queue.popleft()
                del self._orders[resting.order_id]
                if not queue:
                    del contra[key]
        if incoming.leaves_qty == 0:
            incoming.open = False

    def _rest(self, order: BookOrder) -> None:
        assert order.price is not None
        book, key = (self._bids, -order.price) if order.side is Side.BUY else (self._asks, order.price)
        book.setdefault(key, deque()).append(order)
        self._orders[order.order_id] = order

    def _unlink(self, order: BookOrder) -> None:
        assert order.price is not None
        book, key = (self._bids, -order.price) if order.side is Side.BUY else (self._asks, order.price)
        queue = book[key]
        queue.remove(order)
        if not queue:
            del book[key]


def _at_or_better(side: Side, price: Decimal, limit: Decimal) -> bool:
    """Is a resting price on `side` acceptable to an order on the other side limited at `limit`?
    Resting asks are acceptable to a buyer at or below its limit; resting bids to a seller at or above."""
    return price <= limit if side is Side.SELL else price >= limit
