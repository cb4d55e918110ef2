"""Kill switch drill: the firm switch engaged on 1,000 live orders resting at two venues, timed until
every one is canceled by its venue's own report (OrderCanceled from `venue:<name>`, committed).

    engage -> engine commit (1,000 cancel requests) -> log tailer -> connector
      -> one OrderMassCancelRequest (35=q) per venue -> 1,000 Canceled reports -> bus -> engine commits

Beside it, in the same run on the same stack, the baseline: the same number of resting orders
canceled one by one, every CancelOrder put on the bus at once (one OrderCancelRequest, 35=F, each).
Starts what it needs as `make run` does: the engine, two simulated venues (with market makers: the
engine's reference prices come from their books) and the connector. The goal: every one of 1,000
canceled within 2 s of the engage.

    make bench            (or: python bench/kill_switch_drill.py [--orders N] [--quick])
"""

from __future__ import annotations

import argparse
import time

from common import EngineProcess, Venues, parse_args, prepare_database, row, run_name

from oms_project.drill import Drill, percentile
from orders import bus, references
from orders.domain import commands as cmd
from orders.domain.values import LIVE_STATUSES
from orders.models import Order

VENUES = {run_name("KSA"): ("--seed", "1", "--spread-ticks", "2", "--levels", "5", "--size-lots", "40"),
          run_name("KSB"): ("--seed", "2", "--spread-ticks", "4", "--levels", "3", "--size-lots", "20")}  # fmt: skip
SYMBOLS = ["AAPL", "MSFT", "AMZN", "NVDA", "TSLA"]
ACTOR = "user:risk"


def wait_references(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        published = references.read()
        fresh = [s for s in SYMBOLS if (q := published.get(s) or {}).get("reference") and (q["age_s"] or 99) < 5]
        if len(fresh) == len(SYMBOLS):  # an earlier run's references linger: wait for this run's venues
            return
        assert time.monotonic() < deadline, "no reference prices from the venues' books"
        time.sleep(0.2)


def sweep_leftovers() -> int:
    """Earlier benches leave orders live at venues no longer running (venue_roundtrip.py's, say). A
    firm switch asks each of them to cancel once; engaging and releasing now does that here, so
    the measured engage asks for the drill's orders only, as in a firm that runs just the drill.
    Returns how many it asked."""
    if not Order.objects.filter(status__in=LIVE_STATUSES).exists():
        return 0
    why = "bench: sweep what earlier benches left live"
    answer = bus.send(cmd.EngageKillSwitch(bus.new_command_id(), time.time_ns(), ACTOR, "firm", None, why), 120)
    bus.send(cmd.ReleaseKillSwitch(bus.new_command_id(), time.time_ns(), ACTOR, "firm", None, why), 120)
    return int(answer["text"].split("; ")[1].split()[0])


def one_by_one(drill: Drill) -> tuple[float, list[float], float]:
    """(last cancel, per order, the last CancelOrder answered), seconds after the first was sent."""
    orders = list(Order.objects.filter(id__in=drill.order_ids))
    started = time.time_ns()
    bus.send_many([drill.cancel_command(o) for o in orders], timeout=120)
    answered = (time.time_ns() - started) / 1e9
    canceled = drill.wait_canceled()
    assert {actor for _, actor in canceled.values()} <= {f"venue:{v}" for v in VENUES}
    per_order = [(at_ns - started) / 1e9 for at_ns, _ in canceled.values()]
    return max(per_order), per_order, answered


def spread(seconds: list[float]) -> str:
    return f"p50 {percentile(seconds, 0.5) * 1000:.0f} ms  p99 {percentile(seconds, 0.99) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    args = parse_args(parser, orders=100)
    prepare_database()
    with Venues(VENUES, log="bench-drill") as venues, EngineProcess():
        venues.connect()
        wait_references()
        quiet = lambda line: None  # noqa: E731
        drill = Drill(orders=args.orders, actor=ACTOR, venues=list(VENUES), symbols=SYMBOLS, out=quiet)
        drill.prepare()
        swept = sweep_leftovers()
        print(f"Kill switch drill: {args.orders:,} resting orders over {' and '.join(VENUES)}, firm switch engaged")
        if swept:
            print(f"  (a first engage and release swept {swept:,} orders earlier benches left live)")
        drill.place()
        drill.wait_acknowledged()
        try:
            result = drill.engage_and_measure(reason="bench drill")
        finally:
            drill.release()
        baseline = Drill(orders=args.orders, actor=ACTOR, venues=list(VENUES), symbols=SYMBOLS, out=quiet)
        baseline.place()
        baseline.wait_acknowledged()
        last, per_order, answered = one_by_one(baseline)
    per = result.per_order_s
    row(f"baseline: {args.orders:,} CancelOrder on the bus at once (35=F each)",
        f"last canceled at the venue {last:.3f} s after the first was sent")  # fmt: skip
    row("", f"per order {spread(per_order)}  (the engine answered all {args.orders:,} in {answered * 1000:.0f} ms)")
    row("firm kill switch: engage answered by the engine", f"{result.engage_answer_s * 1000:.0f} ms")
    row("", f"per order {spread(per)}")
    mass, single = result.sent if result.sent else (None, None)
    row("", f"via mass cancel: {result.orders - (single or 0):,} ({mass} x 35=q); one by one: {single}")
    every = "every one" if result.by_venues == result.orders else f"only {result.by_venues:,}"
    met = result.by_venues == result.orders and result.last_cancel_s <= 2
    print(f"  {every} of {result.orders:,} live orders canceled at the venues within {result.last_cancel_s:.3f} s "
          f"of the engage (goal 2 s: {'met' if met else 'NOT met'}; {last / result.last_cancel_s:.1f}x faster "
          "than one by one)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
