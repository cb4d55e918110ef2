"""The smart order router: where a parent order's children go, and why. Pure.

It sees each connected venue's displayed book (best first) and the parent's instruction, and
answers with placements and a sentence a trader can read. Venues that are not connected are
never in `venues`, so the router cannot place anything where it would not arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from orders.domain.values import Side, Strategy

MAX_SLICES = 100


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class VenueBook:
    """One venue's displayed book for one symbol: bids high to low, asks low to high."""

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    venue: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Plan:
    placements: tuple[Placement, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Order:
    """What the router needs to know of the parent."""

    side: Side
    quantity: Decimal
    limit_price: Decimal | None  # None: a market order
    lot_size: Decimal
    strategy: Strategy
    venue: str | None = None  # Strategy.DIRECT
    slices: int | None = None  # Strategy.SLICES
    all_or_none: bool = False  # FOK: filled whole at once or not at all


@dataclass(frozen=True)
class RoutingRefused(Exception):
    reason: str
    text: str = field(default="")


def plan(order: Order, venues: Sequence[str], books: Mapping[str, VenueBook]) -> Plan:
    """Placements for `order` over the connected `venues` (default venue first). Raises RoutingRefused."""
    if not venues:
        raise RoutingRefused("venue_unavailable", "no venue is connected")
    match order.strategy:
        case Strategy.DIRECT:
            found = _direct(order, venues)
        case Strategy.SPLIT:
            found = _split(order, venues, books)
        case Strategy.SLICES:
            found = _slices(order, venues, books)
        case _:
            raise RoutingRefused("unknown_strategy", f"no routing strategy {order.strategy!r}")
    if order.all_or_none and len(found.placements) > 1:
        # Each venue fills or kills its own child: together they could fill part of the order,
        # which a fill-or-kill order must never be.
        raise RoutingRefused("fok_needs_one_child", "a fill-or-kill order cannot be split: route it direct")
    placements = tuple(Placement(p.venue, _normal(p.quantity)) for p in found.placements)
    return Plan(placements, found.text)


def _normal(quantity: Decimal) -> Decimal:
    """Without the padding lot arithmetic leaves (464.00000000 is 464)."""
    normal = quantity.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def _direct(order: Order, venues: Sequence[str]) -> Plan:
    if order.venue is None:
        raise RoutingRefused("venue_required", "a direct order names its venue")
    if order.venue not in venues:
        raise RoutingRefused("venue_unavailable", f"venue {order.venue} is not connected")
    return Plan((Placement(order.venue, order.quantity),), f"all {_q(order.quantity)} direct to {order.venue}")


def _acceptable(order: Order, level: Level) -> bool:
    """A level the order may trade with: at or better than its limit (any, for a market order)."""
    if order.limit_price is None:
        return True
    return level.price <= order.limit_price if order.side is Side.BUY else level.price >= order.limit_price


def _opposite(order: Order, book: VenueBook) -> tuple[Level, ...]:
    return book.asks if order.side is Side.BUY else book.bids


def _split(order: Order, venues: Sequence[str], books: Mapping[str, VenueBook]) -> Plan:
    """Take displayed liquidity at or better than the limit, best price first (ties: the venue
    listed first), and rest whatever is left at the venue showing the best price."""
    rank = {venue: i for i, venue in enumerate(venues)}
    levels = [
        (level.price, rank[venue], venue, level.size)
        for venue in venues
        for level in _opposite(order, books.get(venue, VenueBook()))
        if level.size > 0 and _acceptable(order, level)
    ]
    buying = order.side is Side.BUY
    levels.sort(key=lambda item: (item[0] if buying else -item[0], item[1]))
    taken: dict[str, Decimal] = {}
    remaining = order.quantity
    for _price, _rank, venue, size in levels:
        if remaining <= 0:
            break
        take = min(_lots_down(size, order.lot_size), remaining)
        if take > 0:
            taken[venue] = taken.get(venue, Decimal(0)) + take
            remaining -= take
    displayed = order.quantity - remaining
    best = levels[0][2] if levels else _best_quoted(order, venues, books)
    if remaining > 0:
        taken[best] = taken.get(best, Decimal(0)) + remaining
    placements = tuple(Placement(venue, quantity) for venue, quantity in taken.items())
    parts = ", ".join(f"{_q(p.quantity)} to {p.venue}" for p in placements)
    limit = f"at or better than {_q(order.limit_price)}" if order.limit_price is not None else "at any price"
    text = f"split by displayed liquidity {limit}: {parts}"
    if remaining > 0:
        text += f" ({_q(displayed)} displayed; the other {_q(remaining)} rests at {best})"
    return Plan(placements, text)


def _best_quoted(order: Order, venues: Sequence[str], books: Mapping[str, VenueBook]) -> str:
    """The venue whose best opposite price is best; the first venue when nobody quotes."""
    quoted = [
        (levels[0].price, i, v) for i, v in enumerate(venues) if (levels := _opposite(order, books.get(v, VenueBook())))
    ]
    if not quoted:
        return venues[0]
    quoted.sort(key=lambda item: (item[0] if order.side is Side.BUY else -item[0], item[1]))
    return quoted[0][2]


def _slices(order: Order, venues: Sequence[str], books: Mapping[str, VenueBook]) -> Plan:
    """`slices` children of equal size (whole lots; the odd lots go to the first ones), dealt
    round the connected venues starting with the one showing the best price."""
    wanted = order.slices if order.slices is not None else len(venues)  # 0 is refused, not the default
    if not 1 <= wanted <= MAX_SLICES:
        raise RoutingRefused("invalid_slices", f"slices must be 1 to {MAX_SLICES}, got {wanted}")
    lots = int(order.quantity / order.lot_size)
    count = min(wanted, lots)
    base, extra = divmod(lots, count)
    first = _best_quoted(order, venues, books)
    order_of_venues = [first, *(v for v in venues if v != first)]
    placements = tuple(
        Placement(order_of_venues[i % len(order_of_venues)], (base + (1 if i < extra else 0)) * order.lot_size)
        for i in range(count)
    )
    text = f"{count} equal slices of {_q(base * order.lot_size)}" + (f" (+1 lot on {extra})" if extra else "")
    text += " over " + ", ".join(order_of_venues[: min(count, len(order_of_venues))])
    if count < wanted:
        text += f"; {wanted} asked, but the order has only {lots} lots"
    return Plan(placements, text)


def _lots_down(size: Decimal, lot: Decimal) -> Decimal:
    return (size // lot) * lot


def _q(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    return text
