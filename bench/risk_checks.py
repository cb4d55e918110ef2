"""Pre-trade risk: every check on one order (run_checks), beside same-run baselines.

Pure Python, no services. The figure that matters is run_checks per order; the baselines say
how fast this machine runs Python right now (one Decimal multiply, one RiskContext build),
so a slow or busy machine reads as such rather than as slow checks.

    python bench/risk_checks.py
"""

from __future__ import annotations

import sys
import timeit
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orders.domain.values import OrderType, Side
from risk.domain import (
    AccountUsage,
    Exposure,
    InstrumentRisk,
    Limits,
    RestingOrder,
    RiskContext,
    RiskTicket,
    reference_of,
    run_checks,
)

D = Decimal
LIMITS = Limits(D(10_000), D(1_000_000), D(50_000), D(10_000_000), D(5_000_000), D(100))
INSTRUMENT = InstrumentRisk("AAPL", D(10), D(5), margin_rate=D("0.25"), market_collar_pct=D(2))
REFERENCE = reference_of([(D("190.00"), D("190.50"), 1_000), (D("190.10"), D("190.60"), 2_000)], (D("190.2"), 1_500))
EXPOSURE = Exposure(D(100), D(19_000), D(200), D(0), D(38_000), D(0))
USAGE = AccountUsage(D(100_000), D(25_000))


def context(resting: tuple[RestingOrder, ...]) -> RiskContext:
    return RiskContext(LIMITS, INSTRUMENT, REFERENCE, 2_000_000_000, EXPOSURE, USAGE, D("0.25"), 3, 1, resting, None)


def per_call_us(function, number: int = 100_000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    limit = RiskTicket("ACC", "bob", "AAPL", Side.BUY, D(100), OrderType.LIMIT, D("190.25"), "SIMA",
                       added_notional=D("19025.00"))  # fmt: skip
    market = RiskTicket("ACC", "bob", "AAPL", Side.BUY, D(100), OrderType.MARKET, None, "SIMA")
    five_resting = context(tuple(RestingOrder(i, Side.SELL, "SIMA", D("191"), False) for i in range(5)))
    none_resting = context(())
    for ticket, ctx in ((limit, five_resting), (limit, none_resting), (market, none_resting)):
        assert run_checks(ticket, ctx) is None  # every check runs to the end
    a, b = D("190.25"), D("0.25")
    print(f"baseline  one Decimal multiply          {per_call_us(lambda: a * b):6.2f} us")
    print(f"baseline  RiskContext build             {per_call_us(lambda: context(())):6.2f} us")
    print(f"run_checks limit order, 5 own resting   {per_call_us(lambda: run_checks(limit, five_resting)):6.2f} us")
    print(f"run_checks limit order, none resting    {per_call_us(lambda: run_checks(limit, none_resting)):6.2f} us")
    print(f"run_checks market order, none resting   {per_call_us(lambda: run_checks(market, none_resting)):6.2f} us")


if __name__ == "__main__":
    main()
