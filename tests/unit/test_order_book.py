"""The simulated venue's order book: price-time priority, TIF semantics, replace priority rules.

Besides examples, Hypothesis drives the book and a deliberately naive reference matcher
(sort everything, every time) with the same random orders, and demands the same trades."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.simulator.book import BookOrder, OrderBook, Side, TimeInForce

D = Decimal


def order(order_id, side, qty, price, tif=TimeInForce.DAY, owner="s") -> BookOrder:
    return BookOrder(order_id, owner, f"c-{order_id}", Side(side), D(qty), None if price is None else D(price), tif)


def test_a_limit_order_rests_when_nothing_crosses():
    book = OrderBook("AAPL")
    outcome = book.submit(order("b1", "buy", 100, "10.00"))
    assert outcome.rested and not outcome.trades
    assert book.best_bid() == D("10.00") and book.best_ask() is None


def test_an_aggressor_takes_the_best_price_first_then_the_oldest():
    book = OrderBook("AAPL")
    book.submit(order("s1", "sell", 100, "10.02"))
    book.submit(order("s2", "sell", 100, "10.01"))
    book.submit(order("s3", "sell", 100, "10.01"))
    outcome = book.submit(order("b1", "buy", 250, "10.02"))
    assert [(t.resting.order_id, t.quantity, t.price) for t in outcome.trades] == [
        ("s2", D(100), D("10.01")),
        ("s3", D(100), D("10.01")),
        ("s1", D(50), D("10.02")),
    ]
    assert outcome.order.leaves_qty == 0 and not outcome.rested
    assert book.get("s1").leaves_qty == 50


def test_trades_happen_at_the_resting_price():
    book = OrderBook("AAPL")
    book.submit(order("b1", "buy", 10, "10.05"))
    outcome = book.submit(order("s1", "sell", 10, "9.90"))
    assert outcome.trades[0].price == D("10.05")


def test_ioc_remainder_expires_and_does_not_rest():
    book = OrderBook("AAPL")
    book.submit(order("s1", "sell", 30, "10.00"))
    outcome = book.submit(order("b1", "buy", 100, "10.00", TimeInForce.IOC))
    assert outcome.order.cum_qty == 30 and outcome.expired and not outcome.rested
    assert book.best_bid() is None


def test_fok_that_cannot_fill_completely_expires_untouched():
    book = OrderBook("AAPL")
    book.submit(order("s1", "sell", 30, "10.00"))
    outcome = book.submit(order("b1", "buy", 100, "10.00", TimeInForce.FOK))
    assert outcome.expired and not outcome.trades
    assert book.get("s1").leaves_qty == 30


def test_fok_that_can_fill_fills_across_levels():
    book = OrderBook("AAPL")
    book.submit(order("s1", "sell", 60, "10.00"))
    book.submit(order("s2", "sell", 60, "10.01"))
    outcome = book.submit(order("b1", "buy", 100, "10.01", TimeInForce.FOK))
    assert outcome.order.cum_qty == 100 and not outcome.expired


def test_market_order_sweeps_and_expires_what_is_left():
    book = OrderBook("AAPL")
    book.submit(order("s1", "sell", 10, "10.00"))
    book.submit(order("s2", "sell", 10, "11.00"))
    outcome = book.submit(order("m1", "buy", 50, None))
    assert outcome.order.cum_qty == 20 and outcome.expired
    assert outcome.order.avg_px == D("10.5")


def test_cancel_takes_the_order_off_and_a_second_cancel_finds_nothing():
    book = OrderBook("AAPL")
    book.submit(order("b1", "buy", 100, "10.00"))
    assert book.cancel("b1").open is False
    assert book.cancel("b1") is None
    assert book.best_bid() is None


def test_shrinking_keeps_time_priority_but_a_new_price_loses_it():
    book = OrderBook("AAPL")
    book.submit(order("b1", "buy", 100, "10.00"))
    book.submit(order("b2", "buy", 100, "10.00"))
    book.replace("b1", D(50), D("10.00"))  # smaller: still first
    first = book.submit(order("s1", "sell", 10, "10.00"))
    assert first.trades[0].resting.order_id == "b1"
    book.replace("b1", D(50), D("10.01"))  # repriced up: best price, new time
    book.replace("b1", D(50), D("10.00"))  # back: now behind b2
    second = book.submit(order("s2", "sell", 10, "10.00"))
    assert second.trades[0].resting.order_id == "b2"


def test_replace_that_crosses_trades_at_once():
    book = OrderBook("AAPL")
    book.submit(order("s1", "sell", 100, "10.05"))
    book.submit(order("b1", "buy", 100, "10.00"))
    outcome = book.replace("b1", D(100), D("10.05"))
    assert outcome.trades and outcome.order.cum_qty == 100 and book.best_ask() is None


def test_replace_to_the_filled_quantity_closes_the_order():
    book = OrderBook("AAPL")
    book.submit(order("b1", "buy", 100, "10.00"))
    book.submit(order("s1", "sell", 40, "10.00"))
    outcome = book.replace("b1", D(40), D("10.00"))
    assert outcome is not None and not outcome.order.open and book.get("b1") is None


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_available_counts_only_acceptable_prices(side):
    book = OrderBook("AAPL")
    contra = "sell" if side == "buy" else "buy"
    book.submit(order("a", contra, 10, "10.00"))
    book.submit(order("b", contra, 20, "10.10" if contra == "sell" else "9.90"))
    assert book.available(Side(contra), D("10.00")) == 10
    assert book.available(Side(contra), None) == 30


# -- differential test against a naive reference ---------------------------------------------


class NaiveBook:
    """Everything in one list, re-sorted for each match: obviously right, hopelessly slow."""

    def __init__(self) -> None:
        self.resting: list[dict] = []
        self.seq = 0

    def submit(self, oid, side, qty, price, tif):
        self.seq += 1
        me = {"id": oid, "side": side, "left": qty, "price": price, "seq": self.seq}
        contra = [o for o in self.resting if o["side"] != side]

        def acceptable(o):
            return price is None or (o["price"] <= price if side == "buy" else o["price"] >= price)

        if tif == "fok" and sum(o["left"] for o in contra if acceptable(o)) < qty:
            return []
        trades = []
        while me["left"] > 0:
            candidates = [o for o in self.resting if o["side"] != side and acceptable(o)]
            if not candidates:
                break
            best = min(candidates, key=lambda o: (o["price"] if side == "buy" else -o["price"], o["seq"]))
            q = min(me["left"], best["left"])
            trades.append((best["id"], q, best["price"]))
            me["left"] -= q
            best["left"] -= q
            if best["left"] == 0:
                self.resting.remove(best)
        if me["left"] > 0 and price is not None and tif in ("day", "gtc"):
            self.resting.append(me)
        return trades

    def cancel(self, oid):
        self.resting = [o for o in self.resting if o["id"] != oid]


prices = st.integers(min_value=95, max_value=105).map(lambda p: D(p) / 10)
actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("submit"),
            st.sampled_from(["buy", "sell"]),
            st.integers(min_value=1, max_value=50).map(D),
            st.one_of(st.none(), prices),
            st.sampled_from(["day", "gtc", "ioc", "fok"]),
        ),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=60)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(actions)
def test_the_book_trades_exactly_as_the_naive_reference(script):
    book, naive = OrderBook("X"), NaiveBook()
    for index, action in enumerate(script):
        if action[0] == "cancel":
            target = f"o{action[1]}"
            book.cancel(target)
            naive.cancel(target)
            continue
        _, side, qty, price, tif = action
        oid = f"o{index}"
        outcome = book.submit(BookOrder(oid, "s", oid, Side(side), qty, price, TimeInForce(tif)))
        got = [(t.resting.order_id, t.quantity, t.price) for t in outcome.trades]
        assert got == naive.submit(oid, side, qty, price, tif)
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, "the book is never left crossed"
        for resting in book.resting():
            assert resting.open and 0 < resting.leaves_qty <= resting.quantity
            assert resting.cum_qty + resting.leaves_qty == resting.quantity
