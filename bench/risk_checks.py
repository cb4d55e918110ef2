"""Pre-trade risk: the whole gate on one order as the engine calls it, beside a bare inline
function doing the same arithmetic, in the same run; and every check alone (run_checks).

No services: the engine's state, reference data and venue inputs are built in memory, as the
engine holds them. The goal (issue 7): the gate within 2x the bare function, and under 5 us.

    make bench            (or: python bench/risk_checks.py [--calls N] [--quick])
"""

from __future__ import annotations

import argparse
import sys
import timeit
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import parse_args  # Django set up: the engine's modules read settings

from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, TimeInForce
from orders.engine.decisions import Inputs
from orders.engine.market import MarketInputs
from orders.engine.reference import ReferenceData
from orders.engine.state import EngineState
from risk import gate
from risk.domain import (
    AccountLimits,
    AccountUsage,
    Exposure,
    InstrumentRisk,
    InstrumentRules,
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


def per_call_us(function, number: int) -> float:
    """The best of five timings of `number` calls."""
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def engine_inputs(now_ns: int) -> tuple[EngineState, Inputs]:
    """An engine's state and inputs as they are mid-session: limits, two venues' books, some usage."""
    reference = ReferenceData(
        instruments={"AAPL": InstrumentRules("AAPL", D("0.01"), D(1))},
        instrument_risk={"AAPL": INSTRUMENT},
        limits={"ACC": AccountLimits("ACC", LIMITS)},
        active_accounts={"ACC"}, accounts={"ACC"}, venues={"SIMA", "SIMB"}, all_venues={"SIMA", "SIMB"},
        default_venue="SIMA",
    )  # fmt: skip
    market = MarketInputs()
    for venue, bid, ask in (("SIMA", "190.00", "190.50"), ("SIMB", "190.10", "190.60")):
        market.apply("session", {"venue": venue, "state": "logged_on", "detail": "", "at_ns": now_ns})
        market.apply("book", {"venue": venue, "symbol": "AAPL", "bids": [[bid, "500"]], "asks": [[ask, "500"]],
                              "last": "190.20", "at_ns": now_ns})  # fmt: skip
    return EngineState(), Inputs(reference, market, now_ns, "UTC")


def bare_inline(quantity, price, ref, band, position, pending, limits, gross, credit, margin, messages) -> bool:
    """The same arithmetic as the gate, written inline: what the checks cost at the very least."""
    notional = quantity * price
    return (
        abs(price - ref) <= ref * band
        and quantity <= limits.max_order_qty
        and notional <= limits.max_order_notional
        and position + pending + quantity <= limits.max_position_qty
        and gross + notional <= limits.max_gross_notional
        and credit + notional * margin <= limits.credit_limit
        and messages + 1 <= limits.max_messages_per_second
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000, help="calls per timing (the best of five)")
    calls = parse_args(parser, calls=10_000).calls
    now_ns = 2_000_000_000
    state, inputs = engine_inputs(now_ns)
    submit = cmd.SubmitOrder("c-1", now_ns, "user:bob", "ACC", "C-1", "AAPL", Side.BUY, D(100), OrderType.LIMIT,
                             TimeInForce.DAY, D("190.25"))  # fmt: skip
    assert gate.check_submit(state, inputs, submit, "SIMA")[0] is None
    price, ref, band = D("190.25"), D("190.30"), INSTRUMENT.price_band_fraction
    args = (D(100), price, ref, band, D(100), D(200), LIMITS, D(100_000), D(25_000), D("0.25"), 3)
    assert bare_inline(*args)
    bare = per_call_us(lambda: bare_inline(*args), calls)
    full = per_call_us(lambda: gate.check_submit(state, inputs, submit, "SIMA"), max(calls // 2, 1))
    print(f"baseline  bare inline arithmetic        {bare:6.2f} us")
    print(f"gate      check_submit, limit order     {full:6.2f} us  ({full / bare:.1f}x the bare function; "
          f"goal within 2x and under 5 us)")  # fmt: skip
    limit = RiskTicket("ACC", "bob", "AAPL", Side.BUY, D(100), OrderType.LIMIT, D("190.25"), "SIMA",
                       added_notional=D("19025.00"))  # fmt: skip
    market = RiskTicket("ACC", "bob", "AAPL", Side.BUY, D(100), OrderType.MARKET, None, "SIMA")
    five_resting = context(tuple(RestingOrder(i, Side.SELL, "SIMA", D("191"), False) for i in range(5)))
    none_resting = context(())
    for ticket, ctx in ((limit, five_resting), (limit, none_resting), (market, none_resting)):
        assert run_checks(ticket, ctx) is None  # every check runs to the end
    a, b = D("190.25"), D("0.25")
    for label, function in (
        ("baseline  one Decimal multiply", lambda: a * b),
        ("baseline  RiskContext build", lambda: context(())),
        ("run_checks limit order, 5 own resting", lambda: run_checks(limit, five_resting)),
        ("run_checks limit order, none resting", lambda: run_checks(limit, none_resting)),
        ("run_checks market order, none resting", lambda: run_checks(market, none_resting)),
    ):
        print(f"{label:<40}{per_call_us(function, calls):6.2f} us")


if __name__ == "__main__":
    main()
