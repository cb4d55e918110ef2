"""The reference price an order is measured against: the consolidated mid, else the last trade.

The engine passes in each venue's top of book and the last trade, with the time each was last
updated; the age of the answer is that of its OLDEST input, so a mid made of one fresh side and
one stale side is as stale as its stale side.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from orders.domain.values import Side

TWO = Decimal(2)

# One venue's top of book: (best bid, best ask, when it last changed). Either side may be empty.
Book = tuple[Decimal | None, Decimal | None, int]
# The last trade: (price, when).
Trade = tuple[Decimal, int]


class Reference(NamedTuple):  # a NamedTuple: rebuilt on every quote, and cheap to build
    price: Decimal | None  # None: nothing to measure an order against
    at_ns: int | None  # when the price was last true (the older side, for a mid)
    source: str  # "mid" | "last" | "none"
    bid: Decimal | None = None  # consolidated best bid (highest over the venues)
    ask: Decimal | None = None  # consolidated best ask (lowest over the venues)
    last: Decimal | None = None

    def age_ns(self, now_ns: int) -> int | None:
        """None without a price. Never negative: a book newer than the order's own time (it was
        stamped at the edge, before the engine read the feed) is as fresh as can be."""
        return None if self.at_ns is None else max(0, now_ns - self.at_ns)


NO_REFERENCE = Reference(None, None, "none")


def reference_of(books: Iterable[Book], last: Trade | None) -> Reference:
    """The mid of the consolidated best bid and ask when both sides are quoted somewhere (a
    crossed or locked market too: its mid is still the best guess), else the last trade,
    else none.

    When several venues show the best price, the freshest of them dates it: the price was
    still quoted then."""
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_at = ask_at = 0
    for venue_bid, venue_ask, at_ns in books:
        if venue_bid is not None and (bid is None or venue_bid > bid or (venue_bid == bid and at_ns > bid_at)):
            bid, bid_at = venue_bid, at_ns
        if venue_ask is not None and (ask is None or venue_ask < ask or (venue_ask == ask and at_ns > ask_at)):
            ask, ask_at = venue_ask, at_ns
    last_price = last[0] if last is not None else None
    if bid is not None and ask is not None:
        return Reference((bid + ask) / TWO, min(bid_at, ask_at), "mid", bid, ask, last_price)
    if last is not None:
        return Reference(last[0], last[1], "last", bid, ask, last_price)
    return Reference(None, None, "none", bid, ask, None)


def far_touch(side: Side, reference: Reference) -> Decimal | None:
    """Where a market order would start trading: the ask for a buy, the bid for a sell."""
    return reference.ask if side is Side.BUY else reference.bid
