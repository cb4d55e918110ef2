"""Risk gate: the engine's drain rate with the full pre-trade gate, beside the same engine with the
gate off (bench/engine_gate_off.py: sanity checks only), in the same run on the same database.

A backlog of SubmitOrder commands is queued while the engine is down, the engine started, and the
time until the last is answered measured (order_path.py's drain). Every order passes every check
(an account with limits set high enough, a fresh reference, no duplicate, no own order to trade
against), so the full gate runs to its end on each. The orders rest at a venue whose session reads
as logged on and where nothing answers; after each run that venue rejects them (as a venue would),
so both runs start with the same live orders. The goal: the gate on at least 0.9x the gate off.

    make bench            (or: python bench/risk_gate.py [--orders N] [--quick])
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from decimal import Decimal

from common import EngineProcess, parse_args, prepare_database, row

from orders import bus, venue_feed
from orders.domain import commands as cmd
from orders.domain.values import ExecType, OrderType, Side, TimeInForce
from orders.models import Account, Order
from risk.models import AccountLimits
from venues.models import Venue

ACCOUNT = "BENCH-RISK"
VENUE = "BENCH-HELD"
SYMBOL = "AAPL"
BID, ASK = Decimal("99.90"), Decimal("100.10")  # the reference: their mid, 100.00
HIGH = Decimal("1e15")  # every limit set (each check computes), none reached
ACTOR = "user:trader"


def hold_venue(stop: threading.Event) -> None:
    """VENUE logged on, AAPL quoted: what a connector would say, every half second."""
    while not stop.is_set():
        venue_feed.publish(VENUE, venue_feed.LOGGED_ON)
        venue_feed.publish_book(VENUE, SYMBOL, [(BID, Decimal(1000))], [(ASK, Decimal(1000))])
        stop.wait(0.5)


def submit(tag: str, i: int) -> cmd.SubmitOrder:
    """Buys from 95.00 to 99.99: within the 10% band, below the ask (no own sell to cross). No two
    alike in price and quantity, so the duplicate order check passes every one."""
    return cmd.SubmitOrder(
        bus.new_command_id(), time.time_ns(), ACTOR, ACCOUNT, f"G-{tag}-{i}", SYMBOL, Side.BUY,
        Decimal(1 + i // 500), OrderType.LIMIT, TimeInForce.DAY, Decimal("95.00") + Decimal(i % 500) / 100,
        venue=VENUE,
    )  # fmt: skip


def drain(engine: EngineProcess, total: int) -> tuple[float, dict[str, int]]:
    """(orders/s, outcomes) for a backlog of `total` queued before `engine` starts."""
    tag = uuid.uuid4().hex[:8]
    commands = [submit(tag, i) for i in range(total)]
    replies = [bus.key(f"reply:{c.command_id}") for c in commands]
    client = bus.client()
    pipe = client.pipeline(transaction=False)
    for i, (command, reply_to) in enumerate(zip(commands, replies, strict=True)):
        pipe.xadd(bus.commands_stream(), {"c": bus.encode(command, reply_to)})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    with engine:
        started = time.perf_counter()
        last = client.blpop([replies[-1]], timeout=600)
        elapsed = time.perf_counter() - started
        assert last is not None, "the engine did not answer the backlog"
        outcomes: dict[str, int] = {}
        answers = []
        for reply_to in replies[:-1]:
            answer = client.blpop([reply_to], timeout=60)
            assert answer is not None
            answers.append(json.loads(answer[1]))
        answers.append(json.loads(last[1]))
        for answer in answers:
            key = answer["outcome"] if answer["outcome"] == "accepted" else f"{answer['outcome']} {answer['reason']}"
            outcomes[key] = outcomes.get(key, 0) + 1
        # Every live order of the account, not only this run's: an aborted run's too.
        reject_at_venue(
            list(Order.objects.filter(account_id=ACCOUNT, status="pending_new").values_list("id", flat=True))
        )
    return total / elapsed, outcomes


def reject_at_venue(order_ids: list[int]) -> None:
    """The held venue rejects what it was given, so no run leaves live orders to the next."""
    at = time.time_ns()
    for first in range(0, len(order_ids), 2000):
        reports = [
            cmd.ApplyExecutionReport(
                bus.new_command_id(),
                at,
                f"venue:{VENUE}",
                order_id,
                f"{VENUE}:R{order_id}",
                ExecType.REJECTED,
                text="bench over",
            )
            for order_id in order_ids[first : first + 2000]
        ]
        bus.send_many(reports, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    args = parse_args(parser, orders=1000)
    prepare_database()
    Account.objects.update_or_create(code=ACCOUNT, defaults={"name": "risk gate bench", "active": True})
    AccountLimits.objects.update_or_create(
        account_id=ACCOUNT,
        defaults={"max_order_qty": HIGH, "max_order_notional": HIGH, "max_position_qty": HIGH,
                  "max_gross_notional": HIGH, "credit_limit": HIGH, "max_messages_per_second": HIGH},
    )  # fmt: skip
    Venue.objects.update_or_create(name=VENUE, defaults={"port": 1, "target_comp_id": VENUE, "active": True})
    stop = threading.Event()
    threading.Thread(target=hold_venue, args=(stop,), daemon=True).start()
    time.sleep(1)
    try:
        print(f"Risk gate: the engine draining a queued backlog of {args.orders:,} orders, every check passing")
        off, off_outcomes = drain(EngineProcess("bench/engine_gate_off.py"), args.orders)
        on, on_outcomes = drain(EngineProcess(), args.orders)
    finally:
        stop.set()
        Venue.objects.filter(name=VENUE).update(active=False)
    for outcomes in (off_outcomes, on_outcomes):
        assert outcomes == {"accepted": args.orders}, outcomes
    row("baseline: gate off (sanity checks only)", f"{off:,.0f} orders/s")
    row("full pre-trade gate (every check, all passing)", f"{on:,.0f} orders/s")
    ratio = on / off
    row("goal: gate on >= 0.9x gate off", f"{ratio:.2f}x: {'met' if ratio >= 0.9 else 'NOT met'}")
    left = Order.objects.filter(account_id=ACCOUNT, status="pending_new").count()
    assert left == 0, f"{left} bench orders left live"


if __name__ == "__main__":
    main()
