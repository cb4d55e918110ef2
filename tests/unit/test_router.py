"""The smart order router (`orders.domain.router.plan`): examples a trader can check by hand,
then properties over random books (Hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from orders.domain.router import MAX_SLICES, Level, Order, Placement, Plan, RoutingRefused, VenueBook, plan
from orders.domain.values import Side, Strategy

D = Decimal
VENUES = ["SIMA", "SIMB", "SIMC"]


def asks(*levels: tuple[str, int]) -> VenueBook:
    return VenueBook(asks=tuple(Level(D(price), D(size)) for price, size in levels))


def bids(*levels: tuple[str, int]) -> VenueBook:
    return VenueBook(bids=tuple(Level(D(price), D(size)) for price, size in levels))


def order(
    strategy: Strategy,
    quantity: int = 100,
    limit_price: str | None = "10.05",
    *,
    side: Side = Side.BUY,
    lot_size: int = 1,
    venue: str | None = None,
    slices: int | None = None,
) -> Order:
    limit = D(limit_price) if limit_price is not None else None
    return Order(side, D(quantity), limit, D(lot_size), strategy, venue, slices)


def placed(result: Plan) -> list[tuple[str, int]]:
    return [(p.venue, int(p.quantity)) for p in result.placements]


def per_venue(result: Plan) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for p in result.placements:
        totals[p.venue] = totals.get(p.venue, D(0)) + p.quantity
    return totals


# -- DIRECT ------------------------------------------------------------------------------


def test_direct_sends_everything_to_the_named_venue():
    result = plan(order(Strategy.DIRECT, 300, venue="SIMB"), ["SIMA", "SIMB"], {})

    assert result.placements == (Placement("SIMB", D(300)),)
    assert result.text == "all 300 direct to SIMB"


def test_direct_to_a_venue_that_is_not_connected_is_refused_venue_unavailable():
    with pytest.raises(RoutingRefused) as refused:
        plan(order(Strategy.DIRECT, venue="SIMC"), ["SIMA", "SIMB"], {"SIMC": asks(("10.00", 500))})

    assert refused.value.reason == "venue_unavailable"
    assert "SIMC" in refused.value.text


def test_direct_without_a_venue_is_refused_venue_required():
    with pytest.raises(RoutingRefused) as refused:
        plan(order(Strategy.DIRECT), ["SIMA"], {})

    assert refused.value.reason == "venue_required"


@pytest.mark.parametrize("strategy", list(Strategy))
def test_nothing_is_routed_when_no_venue_is_connected(strategy):
    with pytest.raises(RoutingRefused) as refused:
        plan(order(strategy, venue="SIMA", slices=2), [], {"SIMA": asks(("10.00", 500))})

    assert refused.value.reason == "venue_unavailable"


# -- SPLIT -------------------------------------------------------------------------------


def test_split_takes_the_best_prices_first_and_rests_the_remainder_at_the_best_venue():
    # Buy 100 limit 10.05. SIMA shows 30 at 10.03 (and 100 at 10.06, over the limit); SIMB 50 at
    # 10.04. Take 30 at SIMA, 50 at SIMB; the other 20 rest at SIMA, which shows the best ask.
    books = {"SIMA": asks(("10.03", 30), ("10.06", 100)), "SIMB": asks(("10.04", 50))}

    result = plan(order(Strategy.SPLIT, 100, "10.05"), ["SIMA", "SIMB"], books)

    assert placed(result) == [("SIMA", 50), ("SIMB", 50)]
    assert result.text == (
        "split by displayed liquidity at or better than 10.05: 50 to SIMA, 50 to SIMB"
        " (80 displayed; the other 20 rests at SIMA)"
    )


def test_split_stops_taking_once_the_order_is_covered():
    books = {"SIMA": asks(("10.03", 30), ("10.04", 500)), "SIMB": asks(("10.02", 60))}

    result = plan(order(Strategy.SPLIT, 100, "10.05"), ["SIMA", "SIMB"], books)

    # 60 at SIMB's 10.02, 30 at SIMA's 10.03, the last 10 from SIMA's 10.04: nothing rests.
    assert per_venue(result) == {"SIMB": D(60), "SIMA": D(40)}
    assert result.text == "split by displayed liquidity at or better than 10.05: 60 to SIMB, 40 to SIMA"


def test_split_ties_on_price_go_to_the_venue_listed_first():
    books = {"SIMA": asks(("10.03", 80)), "SIMB": asks(("10.03", 80))}

    first_a = plan(order(Strategy.SPLIT, 100), ["SIMA", "SIMB"], books)
    first_b = plan(order(Strategy.SPLIT, 100), ["SIMB", "SIMA"], books)

    assert placed(first_a) == [("SIMA", 80), ("SIMB", 20)]
    assert placed(first_b) == [("SIMB", 80), ("SIMA", 20)]


def test_split_takes_whole_lots_only():
    books = {"SIMA": asks(("10.01", 250)), "SIMB": asks(("10.02", 199))}

    result = plan(order(Strategy.SPLIT, 500, lot_size=100), ["SIMA", "SIMB"], books)

    # 200 of SIMA's 250 and 100 of SIMB's 199; the 200 left rest at SIMA (best ask).
    assert per_venue(result) == {"SIMA": D(400), "SIMB": D(100)}
    assert "(300 displayed; the other 200 rests at SIMA)" in result.text


def test_split_of_a_market_order_takes_any_price():
    books = {"SIMA": asks(("50.00", 40)), "SIMB": asks(("99.00", 100))}

    result = plan(order(Strategy.SPLIT, 100, None), ["SIMA", "SIMB"], books)

    assert placed(result) == [("SIMA", 40), ("SIMB", 60)]
    assert result.text.startswith("split by displayed liquidity at any price: ")


def test_split_sell_takes_bids_highest_first():
    books = {"SIMA": bids(("10.01", 50), ("9.99", 100)), "SIMB": bids(("10.02", 30))}

    result = plan(order(Strategy.SPLIT, 100, "10.00", side=Side.SELL), ["SIMA", "SIMB"], books)

    # 30 at SIMB's 10.02, 50 at SIMA's 10.01; 9.99 is under the limit: the last 20 rest at SIMB.
    assert placed(result) == [("SIMB", 50), ("SIMA", 50)]
    assert "the other 20 rests at SIMB" in result.text


def test_split_with_nothing_acceptable_rests_at_the_venue_with_the_best_price():
    books = {"SIMA": asks(("10.09", 500)), "SIMB": asks(("10.07", 500))}

    result = plan(order(Strategy.SPLIT, 100, "10.05"), ["SIMA", "SIMB"], books)

    assert placed(result) == [("SIMB", 100)]
    assert "(0 displayed; the other 100 rests at SIMB)" in result.text


def test_split_with_no_quotes_anywhere_rests_at_the_first_venue():
    result = plan(order(Strategy.SPLIT, 100), ["SIMB", "SIMA"], {})

    assert placed(result) == [("SIMB", 100)]


def test_split_ignores_the_book_of_a_venue_that_is_not_connected():
    books = {"SIMA": asks(("10.04", 10)), "SIMC": asks(("10.00", 1000))}

    result = plan(order(Strategy.SPLIT, 100), ["SIMA", "SIMB"], books)

    assert placed(result) == [("SIMA", 100)]


# -- SLICES ------------------------------------------------------------------------------


def test_slices_are_equal_lots_with_the_odd_lots_first_dealt_from_the_best_venue():
    # 700 in lots of 100 over 3 slices: 300, 200, 200. SIMB shows the best ask, so it starts.
    books = {"SIMA": asks(("10.04", 100)), "SIMB": asks(("10.02", 100))}

    result = plan(order(Strategy.SLICES, 700, lot_size=100, slices=3), ["SIMA", "SIMB"], books)

    assert placed(result) == [("SIMB", 300), ("SIMA", 200), ("SIMB", 200)]
    assert result.text == "3 equal slices of 200 (+1 lot on 1) over SIMB, SIMA"


def test_slices_are_capped_by_the_number_of_lots():
    result = plan(order(Strategy.SLICES, 300, lot_size=100, slices=5), ["SIMA", "SIMB"], {})

    assert placed(result) == [("SIMA", 100), ("SIMB", 100), ("SIMA", 100)]
    assert result.text.endswith("; 5 asked, but the order has only 3 lots")


def test_slices_default_to_one_per_connected_venue():
    result = plan(order(Strategy.SLICES, 90, lot_size=10), ["SIMA", "SIMB", "SIMC"], {})

    assert placed(result) == [("SIMA", 30), ("SIMB", 30), ("SIMC", 30)]


@pytest.mark.parametrize("slices", [0, -1, MAX_SLICES + 1])
def test_slices_outside_one_to_max_are_refused(slices):
    with pytest.raises(RoutingRefused) as refused:
        plan(order(Strategy.SLICES, 1000, slices=slices), ["SIMA", "SIMB"], {})

    assert refused.value.reason == "invalid_slices"


def test_slices_at_the_bounds_are_accepted():
    assert len(plan(order(Strategy.SLICES, 1000, slices=1), ["SIMA"], {}).placements) == 1
    assert len(plan(order(Strategy.SLICES, 1000, slices=MAX_SLICES), ["SIMA"], {}).placements) == MAX_SLICES


# -- properties ----------------------------------------------------------------------------

prices = st.integers(990, 1010).map(lambda cents: D(cents).scaleb(-2))  # a narrow band, so prices tie
sizes = st.integers(1, 400).map(D)
lots = st.sampled_from([D(1), D(10), D(100)])
level_lists = st.lists(st.tuples(prices, sizes), max_size=4)


def side_of_book(levels: list[tuple[Decimal, Decimal]], side: Side) -> tuple[Level, ...]:
    """Best first: asks low to high (opposite of a buy), bids high to low."""
    ordered = sorted(levels, reverse=side is not Side.BUY)
    return tuple(Level(price, size) for price, size in ordered)


ANY_STRATEGY = st.sampled_from(Strategy)
EITHER_SIDE = st.sampled_from([Side.BUY, Side.SELL])
ANY_LIMIT = st.none() | prices


@st.composite
def scenarios(draw, strategies=ANY_STRATEGY, sides=EITHER_SIDE, limits=ANY_LIMIT):
    """An order, the connected venues (a shuffled non-empty subset) and books for every venue,
    connected or not."""
    side = draw(sides)
    lot = draw(lots)
    quantity = draw(st.integers(1, 30)) * lot
    limit = draw(limits)
    strategy = draw(strategies)
    connected = draw(st.permutations(VENUES).flatmap(lambda v: st.integers(1, 3).map(lambda n: list(v[:n]))))
    venue = draw(st.sampled_from(connected)) if strategy is Strategy.DIRECT else None
    slices = draw(st.none() | st.integers(1, MAX_SLICES)) if strategy is Strategy.SLICES else None
    books = {}
    for name in VENUES:
        opposite = side_of_book(draw(level_lists), side)
        books[name] = VenueBook(asks=opposite) if side is Side.BUY else VenueBook(bids=opposite)
    return Order(side, quantity, limit, lot, strategy, venue, slices), connected, books


def opposite_levels(o: Order, book: VenueBook) -> tuple[Level, ...]:
    return book.asks if o.side is Side.BUY else book.bids


def acceptable(o: Order, level: Level) -> bool:
    if o.limit_price is None:
        return True
    return level.price <= o.limit_price if o.side is Side.BUY else level.price >= o.limit_price


def acceptable_lots(o: Order, book: VenueBook) -> Decimal:
    """What may be taken at one venue: every acceptable level, rounded down to whole lots."""
    return sum(
        ((level.size // o.lot_size) * o.lot_size for level in opposite_levels(o, book) if acceptable(o, level)),
        D(0),
    )


def better(o: Order, a: Decimal, b: Decimal) -> bool:
    return a < b if o.side is Side.BUY else a > b


def best_venue(o: Order, connected: list[str], books: dict[str, VenueBook]) -> str:
    """The connected venue with the best opposite price (first listed on a tie; first if none)."""
    best: tuple[Decimal, str] | None = None
    for name in connected:
        levels = opposite_levels(o, books[name])
        if levels and (best is None or better(o, levels[0].price, best[0])):
            best = (levels[0].price, name)
    return best[1] if best else connected[0]


@PROPERTY_SETTINGS
@given(scenarios())
def test_placements_cover_the_order_in_whole_lots_at_connected_venues_only(scenario):
    o, connected, books = scenario

    result = plan(o, connected, books)

    assert sum((p.quantity for p in result.placements), D(0)) == o.quantity
    for p in result.placements:
        assert p.quantity > 0
        assert p.quantity % o.lot_size == 0
        assert p.venue in connected


@PROPERTY_SETTINGS
@given(scenarios(st.just(Strategy.SPLIT)))
def test_split_takes_no_more_than_a_venue_shows_and_rests_the_rest_at_the_best_venue(scenario):
    o, connected, books = scenario

    result = plan(o, connected, books)

    # Everything acceptable is taken up to the order's size; only the remainder rests.
    displayed = sum((acceptable_lots(o, books[v]) for v in connected), D(0))
    rest = o.quantity - min(o.quantity, displayed)
    rest_at = best_venue(o, connected, books)
    totals = per_venue(result)
    assert len(totals) == len(result.placements), "one placement per venue"
    for venue, quantity in totals.items():
        taken = quantity - (rest if venue == rest_at else 0)
        assert 0 <= taken <= acceptable_lots(o, books[venue]), (venue, quantity, rest)
    if rest:
        assert totals.get(rest_at, D(0)) >= rest
        assert result.text.endswith(f"the other {format(rest.normalize(), 'f')} rests at {rest_at})")
    else:
        assert "rests at" not in result.text


@PROPERTY_SETTINGS
@given(scenarios(st.just(Strategy.SPLIT), limits=prices), st.integers(1, 5_000).map(D))
def test_split_never_takes_a_level_worse_than_the_limit(scenario, extra):
    # However much more is shown beyond the limit, the plan is the same.
    o, connected, books = scenario
    assume(any(acceptable(o, level) for v in connected for level in opposite_levels(o, books[v])))

    def deeper(book: VenueBook) -> VenueBook:
        levels = tuple(
            level if acceptable(o, level) else Level(level.price, level.size + extra)
            for level in opposite_levels(o, book)
        )
        return VenueBook(asks=levels) if o.side is Side.BUY else VenueBook(bids=levels)

    assert (
        plan(o, connected, {v: deeper(b) for v, b in books.items()}).placements == plan(o, connected, books).placements
    )


MIRROR = D("30.00")  # price x on the ask side of a buy is MIRROR - x on the bid side of a sell


@PROPERTY_SETTINGS
@given(scenarios(st.sampled_from([Strategy.SPLIT, Strategy.SLICES]), sides=st.just(Side.BUY)))
def test_sells_mirror_buys(scenario):
    o, connected, books = scenario

    def mirrored(book: VenueBook) -> VenueBook:
        return VenueBook(bids=tuple(Level(MIRROR - level.price, level.size) for level in book.asks))

    sell = replace(o, side=Side.SELL, limit_price=None if o.limit_price is None else MIRROR - o.limit_price)
    sell_books = {v: mirrored(b) for v, b in books.items()}

    assert plan(sell, connected, sell_books).placements == plan(o, connected, books).placements


@PROPERTY_SETTINGS
@given(scenarios(st.just(Strategy.SLICES)))
def test_slices_are_near_equal_and_dealt_round_robin_from_the_best_venue(scenario):
    o, connected, books = scenario

    result = plan(o, connected, books)

    lots_in_order = int(o.quantity / o.lot_size)
    wanted = o.slices if o.slices is not None else len(connected)
    assert len(result.placements) == min(wanted, lots_in_order)
    quantities = [p.quantity for p in result.placements]
    assert quantities == sorted(quantities, reverse=True), "the odd lots go to the first slices"
    assert max(quantities) - min(quantities) <= o.lot_size
    first = best_venue(o, connected, books)
    dealing = [first, *(v for v in connected if v != first)]
    assert [p.venue for p in result.placements] == [dealing[i % len(dealing)] for i in range(len(quantities))]


@PROPERTY_SETTINGS
@given(scenarios(st.just(Strategy.DIRECT)))
def test_direct_places_the_whole_order_at_its_venue(scenario):
    o, connected, books = scenario

    assert plan(o, connected, books).placements == (Placement(o.venue, o.quantity),)
