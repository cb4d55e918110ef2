import random
from decimal import Decimal

from venues.simulator.book import Side, TimeInForce
from venues.simulator.liquidity import MarketMaker
from venues.simulator.venue import ExecReport, InstrumentSpec, Venue

D = Decimal
SPEC = InstrumentSpec("AAPL", D("0.01"), D(1))


def make(seed: int = 1) -> tuple[Venue, MarketMaker]:
    venue = Venue("XSIM", [SPEC])
    return venue, MarketMaker(SPEC, D("190.00"), rng=random.Random(seed))


def test_the_maker_quotes_both_sides_around_the_reference_on_the_tick():
    venue, maker = make()
    maker.step(venue)
    book = venue.books["AAPL"]
    bid, ask = book.best_bid(), book.best_ask()
    assert bid < maker.reference < ask
    assert len(book.depth(Side.BUY)) == 3 and len(book.depth(Side.SELL)) == 3
    assert all(price % SPEC.tick_size == 0 for price, _ in book.depth(Side.BUY) + book.depth(Side.SELL))


def test_each_step_replaces_the_quotes_instead_of_piling_them_up():
    venue, maker = make()
    for _ in range(20):
        maker.step(venue)
    assert sum(1 for _ in venue.books["AAPL"].resting()) == 6


def test_a_marketable_order_fills_against_the_maker():
    venue, maker = make()
    maker.step(venue)
    reports = venue.new_order("oms", "c1", "AAPL", Side.BUY, D(5), None, TimeInForce.IOC)
    fills = [r for r in reports if isinstance(r, ExecReport) and r.owner == "oms" and r.exec_type.value == "trade"]
    assert sum(f.last_qty for f in fills) == 5


def test_the_same_seed_replays_the_same_market():
    a_venue, a = make(seed=7)
    b_venue, b = make(seed=7)
    for _ in range(50):
        a.step(a_venue)
        b.step(b_venue)
    assert a.reference == b.reference
