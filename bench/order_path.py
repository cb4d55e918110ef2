"""Order path: SubmitOrder commands through the bus until committed and answered.

Prints orders/s and latency at 1 and 32 concurrent senders, and the rate at which the engine
drains a queued backlog, beside two baselines measured on the same database in the same run: raw
psycopg single-row INSERT+COMMIT (what one client gets per durable commit) and executemany in one
transaction (rows per second when the commit is shared). synchronous_commit stays on throughout.

Every order is routable and passes the pre-trade checks by running each of them, as a client's
order would:
- a simulated venue (`run_venue`, with its market makers) and the connector run for the whole
  bench (common.Venues): without them the engine rejects every order `venue_unavailable` (no
  session) or `no_reference` (no book to check its price against);
- the orders are the bench's own account's, BENCH-OP, which has no limits: the demo desk DESK-EQ's
  (order size, position, messages a second) would refuse a run's worth;
- each is an IOC buy 5% (and up to 99 ticks more) under the engine's fresh reference: inside the
  price band, never filled; the venue expires it at once, so the bench leaves nothing live, for
  the connector's resync or the next bench;
- no two are alike: quantity and price step through the run (a tick apart, a lot more every 100
  orders), so the duplicate order check (OMS_RISK_DUPLICATE_MAX identical orders a second, 5 by
  default) runs on each and passes. The engine keeps its default rather than a raised
  OMS_RISK_DUPLICATE_MAX, as tests/integration's engine has, because the figure is meant to be the
  engine as it runs for a desk.

So the venue leg (the connector's FIX send, the venue's expiry, the report back and the engine's
second command for each order) runs beside the measurement on the same two cores, as it would in
production; the bench prints the CPU each part used per order and how busy the machine was. The
connector's periodic resync runs once an hour, not every 30 s: each pass asks the venue about every
order that ended in the period before, which here would be up to 20,000 status requests landing
at a random moment of a measurement.

    make bench            (or: python bench/order_path.py [--orders N] [--quick])
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from decimal import Decimal

import redis.asyncio as aioredis
from common import (
    CpuMeter,
    EngineProcess,
    Venues,
    parse_args,
    prepare_database,
    raw_connection,
    report_cpu,
    resting_price,
    row,
    run_name,
    summary_ms,
)
from django.conf import settings

from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import LIVE_STATUSES, OrderType, Side, TimeInForce
from orders.models import Account, Order

VENUE = run_name("BENCHOP")
ACCOUNT = "BENCH-OP"  # no limits
SYMBOL = "AAPL"
LIVE = sorted(s.value for s in LIVE_STATUSES)


def baseline_single_row_commits(n: int) -> float:
    with raw_connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, payload jsonb, at bigint)")
        conn.commit()
        started = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bench_rows (payload, at) VALUES (%s, %s)", [json.dumps({"i": i}), i])
            conn.commit()
        return n / (time.perf_counter() - started)


def baseline_executemany(n: int) -> float:
    with raw_connection() as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench_rows (payload, at) VALUES (%s, %s)", [(json.dumps({"i": i}), i) for i in range(n)]
            )
        conn.commit()
        return n / (time.perf_counter() - started)


class Orders:
    """The run's orders: IOC buys from `price` down, no two alike in quantity and price."""

    def __init__(self) -> None:
        self.tag = bus.new_command_id()[:8]
        self.count = 0
        self.price = Decimal(0)  # set from the reference before each phase

    def next(self) -> cmd.SubmitOrder:
        k = self.count = self.count + 1
        return cmd.SubmitOrder(
            command_id=bus.new_command_id(),
            received_at_ns=time.time_ns(),
            actor="bench",
            account=ACCOUNT,
            cl_ord_id=f"OP-{self.tag}-{k}",
            symbol=SYMBOL,
            side=Side.BUY,
            quantity=Decimal(1 + k // 100),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.IOC,
            limit_price=self.price - Decimal(k % 100) / 100,
            venue=VENUE,
        )


async def drive(orders: Orders, senders: int, total: int) -> tuple[float, list[float]]:
    stream = bus.commands_stream()
    per_sender = total // senders
    latencies: list[float] = []
    clients = [aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True) for _ in range(senders)]

    async def sender(client: aioredis.Redis) -> None:
        for _ in range(per_sender):
            command = orders.next()
            reply_to = bus.key(f"reply:{command.command_id}")
            started = time.perf_counter()
            pipe = client.pipeline(transaction=False)  # as orders.bus.send: one round trip
            pipe.xadd(stream, {"c": bus.encode(command, reply_to)})
            pipe.blpop([reply_to], timeout=30)
            _, answer = await pipe.execute()
            latencies.append(time.perf_counter() - started)
            assert answer is not None and json.loads(answer[1])["outcome"] == "accepted", answer

    started = time.perf_counter()
    await asyncio.gather(*(sender(c) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return per_sender * senders / elapsed, latencies


def drain_backlog(orders: Orders, total: int, venues: Venues) -> tuple[float, tuple[float, float, dict[str, float]]]:
    """Queue `total` commands while the engine is down, start it, and time until the last is
    answered: the engine's rate when batches are as large as OMS_ENGINE_BATCH_MAX allows.
    (orders/s, CpuMeter.stop() over the drain)."""
    client = bus.client()
    pipe = client.pipeline(transaction=False)
    for i in range(total):
        command = orders.next()
        reply_to = bus.key(f"reply:{command.command_id}") if i == total - 1 else None
        pipe.xadd(bus.commands_stream(), {"c": bus.encode(command, reply_to)})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    last_reply = reply_to
    assert last_reply is not None
    with EngineProcess() as engine:
        assert engine.process is not None
        meter = CpuMeter({"engine": engine.process.pid, **venues.pids()})
        meter.start()
        started = time.perf_counter()
        answer = client.blpop([last_reply], timeout=600)
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
        assert answer is not None and json.loads(answer[1])["outcome"] == "accepted", answer
        wait_venue_leg()
    return total / elapsed, cpu


def wait_venue_leg(timeout: float = 600) -> None:
    """Until the venue has ended every order of the bench's account and the engine has booked it:
    the venue leg trails the measurement, and a stopped engine would leave its reports waiting."""
    deadline = time.monotonic() + timeout
    while Order.objects.filter(account_id=ACCOUNT, status__in=LIVE).exists():
        assert time.monotonic() < deadline, "orders still live at the venue"
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000,
                        help="orders at 32 senders, and in the backlog (1 sender gets a tenth)")  # fmt: skip
    parser.add_argument("--warm-up", type=int, default=2000, help="orders from 8 senders first, not measured")
    parser.add_argument("--commits", type=int, default=2000, help="single-row commits, for the first baseline")
    parser.add_argument("--rows", type=int, default=50_000, help="rows inserted, for the executemany baseline")
    args = parse_args(parser, orders=2000, warm_up=200, commits=500, rows=10_000)
    prepare_database()
    Account.objects.update_or_create(code=ACCOUNT, defaults={"name": "order path bench", "active": True})
    print("Order path: SubmitOrder -> bus -> engine -> committed events + projections -> answer")
    single = baseline_single_row_commits(args.commits)
    many = baseline_executemany(args.rows)
    row("baseline: psycopg INSERT+COMMIT, one row each", f"{single:,.0f} rows/s")
    row("baseline: psycopg executemany, one transaction", f"{many:,.0f} rows/s")
    orders = Orders()
    with Venues({VENUE: ()}, log="bench-order-path", connector_args=("--resync-seconds", "3600")) as venues:
        venues.connect()
        with EngineProcess() as engine:
            assert engine.process is not None
            orders.price = resting_price(SYMBOL)
            asyncio.run(drive(orders, 8, args.warm_up))
            for senders, total in ((1, max(args.orders // 10, 100)), (32, args.orders)):
                meter = CpuMeter({"senders (this bench)": os.getpid(), "engine": engine.process.pid, **venues.pids()})
                meter.start()
                rate, latencies = asyncio.run(drive(orders, senders, total))
                cpu = meter.stop()
                row(f"engine, {senders:>2} concurrent sender(s), {total:,} orders", f"{rate:,.0f} orders/s")
                row("", summary_ms(latencies))
                row("", f"{rate / single:.1f}x single-row commits, {rate / many:.2f}x executemany rows")
                report_cpu(total, cpu)
            wait_venue_leg()
            orders.price = resting_price(SYMBOL)  # while the engine still publishes the reference
        drained, cpu = drain_backlog(orders, args.orders, venues)
        row(f"engine draining a queued backlog of {args.orders:,}", f"{drained:,.0f} orders/s")
        row("", f"{drained / single:.1f}x single-row commits, {drained / many:.2f}x executemany rows")
        report_cpu(args.orders, cpu)
    ended = Counter(Order.objects.filter(account_id=ACCOUNT, cl_ord_id__startswith=f"OP-{orders.tag}-")
                    .values_list("status", flat=True))  # fmt: skip
    row("the venue leg: how the run's orders ended", ", ".join(f"{n:,} {status}" for status, n in ended.items()))
    assert sum(ended.values()) == orders.count, f"{orders.count - sum(ended.values())} orders not in the database"


if __name__ == "__main__":
    main()
