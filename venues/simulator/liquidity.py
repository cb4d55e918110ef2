"""Built-in liquidity: a market maker per instrument quoting around a moving reference price,
and a noise trader per instrument that now and then takes what the maker shows.

Each step the reference takes a small random walk (seeded, so a venue replays the same
market), the maker pulls its quotes and posts `levels` bids and asks, `spread_ticks` apart at
the top and one tick further per level, between `size_lots` and twice that many lots each
(drawn from the same seeded generator). Marketable orders therefore fill, passive ones rest,
and resting ones fill over time as the reference wanders through them. The noise trader's
small market orders print trades on the tape (market data's last trade) and, like the
reference, reach resting client orders at the top of the book.
Two venues differ by seed (prices and sizes), spread and depth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from venues.simulator.book import Side, TimeInForce
from venues.simulator.venue import InstrumentSpec, Report, Venue


@dataclass
class MarketMaker:
    spec: InstrumentSpec
    reference: Decimal
    owner: str = "mm"
    spread_ticks: int = 2
    levels: int = 3
    size_lots: int = 5
    volatility_ticks: int = 2  # the random walk's step, at most, in ticks
    rng: random.Random = field(default_factory=random.Random)
    _quotes: list[str] = field(default_factory=list)
    _sequence: int = 0

    def step(self, venue: Venue) -> list[Report]:
        """Move the reference, pull the old quotes, post new ones; the reports it caused."""
        tick = self.spec.tick_size
        spread = max(2, self.spread_ticks)  # at least a tick each side: the maker never crosses itself
        self.reference = max(tick, self.reference + tick * self.rng.randint(-self.volatility_ticks,
                                                                            self.volatility_ticks))  # fmt: skip
        self.reference = (self.reference / tick).to_integral_value(ROUND_HALF_EVEN) * tick
        reports: list[Report] = []
        for cl_ord_id in self._quotes:
            self._sequence += 1
            reports += venue.cancel(self.owner, f"{cl_ord_id}-x", cl_ord_id)
        self._quotes.clear()
        for level in range(self.levels):
            offset = tick * ((spread + 1) // 2 + level)
            for side, price in ((Side.BUY, self.reference - offset), (Side.SELL, self.reference + offset)):
                size = self.spec.lot_size * self.rng.randint(self.size_lots, 2 * self.size_lots)
                if price <= 0:
                    continue
                self._sequence += 1
                cl_ord_id = f"{self.owner}-{self.spec.symbol}-{self._sequence}"
                reports += venue.new_order(self.owner, cl_ord_id, self.spec.symbol, side, size, price, TimeInForce.DAY)
                self._quotes.append(cl_ord_id)
        return reports


@dataclass
class NoiseTrader:
    """Each step, with `probability`, sends a market IOC order of `size_lots` lots on a random side."""

    spec: InstrumentSpec
    owner: str = "noise"
    probability: float = 0.2
    size_lots: int = 1
    rng: random.Random = field(default_factory=random.Random)
    _sequence: int = 0

    def step(self, venue: Venue) -> list[Report]:
        if self.rng.random() >= self.probability:
            return []
        side = self.rng.choice((Side.BUY, Side.SELL))
        self._sequence += 1
        cl_ord_id = f"{self.owner}-{self.spec.symbol}-{self._sequence}"
        quantity = self.spec.lot_size * self.size_lots
        return venue.new_order(self.owner, cl_ord_id, self.spec.symbol, side, quantity, None, TimeInForce.IOC)


# Where the demo market opens: the simulated venues start their makers here.
OPENING_PRICES = {
    "AAPL": Decimal("190.00"),
    "MSFT": Decimal("410.00"),
    "AMZN": Decimal("180.00"),
    "NVDA": Decimal("120.00"),
    "TSLA": Decimal("250.00"),
    "SPY": Decimal("560.00"),
    "VOD.L": Decimal("72.00"),
}
