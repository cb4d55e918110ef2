"""Order path: SubmitOrder commands through the bus until committed and answered.

Prints orders/s and latency at 1 and 32 concurrent senders, beside two baselines measured on
the same database in the same run: raw psycopg single-row INSERT+COMMIT (what one client
gets per durable commit) and executemany in one transaction (rows per second when the
commit is shared). synchronous_commit stays on throughout.

    make bench            (or: python bench/order_path.py [--orders N])
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import common  # noqa: F401  (Django set-up)
import psycopg
import redis.asyncio as aioredis
from common import EngineProcess, prepare_database, row, summary_ms
from django.conf import settings
from django.db import connection

from orders import bus
from orders.domain import commands as cmd
from orders.domain.serialization import to_dict
from orders.domain.values import OrderType, Side, TimeInForce


def connect() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])


def baseline_single_row_commits(n: int) -> float:
    with connect() as conn:
        conn.execute("SHOW synchronous_commit").fetchone()
        conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, payload jsonb, at bigint)")
        conn.commit()
        started = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bench_rows (payload, at) VALUES (%s, %s)", [json.dumps({"i": i}), i])
            conn.commit()
        return n / (time.perf_counter() - started)


def baseline_executemany(n: int) -> float:
    with connect() as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench_rows (payload, at) VALUES (%s, %s)", [(json.dumps({"i": i}), i) for i in range(n)]
            )
        conn.commit()
        return n / (time.perf_counter() - started)


def command_json(cl_ord_id: str, reply_to: str | None) -> str:
    command = cmd.SubmitOrder(
        command_id=uuid.uuid4().hex,
        received_at_ns=time.time_ns(),
        actor="bench",
        account="DESK-EQ",
        cl_ord_id=cl_ord_id,
        symbol="AAPL",
        side=Side.BUY,
        quantity=__import__("decimal").Decimal(100),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=__import__("decimal").Decimal("190.50"),
    )
    return json.dumps({"type": "SubmitOrder", "reply_to": reply_to, "command": to_dict(command)})


async def drive(senders: int, total: int) -> tuple[float, list[float]]:
    stream = bus.commands_stream()
    tag = uuid.uuid4().hex[:8]
    per_sender = total // senders
    latencies: list[float] = []
    clients = [aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True) for _ in range(senders)]

    async def sender(index: int, client: aioredis.Redis) -> None:
        for i in range(per_sender):
            reply_to = bus.key(f"reply:{tag}-{index}-{i}")
            payload = command_json(f"B-{tag}-{index}-{i}", reply_to)
            started = time.perf_counter()
            pipe = client.pipeline(transaction=False)  # as orders.bus.send: one round trip
            pipe.xadd(stream, {"c": payload})
            pipe.blpop([reply_to], timeout=30)
            _, answer = await pipe.execute()
            latencies.append(time.perf_counter() - started)
            assert answer is not None and json.loads(answer[1])["outcome"] == "accepted", answer

    started = time.perf_counter()
    await asyncio.gather(*(sender(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return per_sender * senders / elapsed, latencies


def drain_backlog(total: int) -> float:
    """Queue `total` commands while the engine is down, start it, and time until the last is
    answered: the engine's rate when batches are as large as OMS_ENGINE_BATCH_MAX allows."""
    client = bus.client()
    tag = uuid.uuid4().hex[:8]
    last_reply = bus.key(f"reply:{tag}-last")
    pipe = client.pipeline(transaction=False)
    for i in range(total):
        reply_to = last_reply if i == total - 1 else None
        pipe.xadd(bus.commands_stream(), {"c": command_json(f"D-{tag}-{i}", reply_to)})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    with EngineProcess():
        started = time.perf_counter()
        answer = client.blpop([last_reply], timeout=600)
        elapsed = time.perf_counter() - started
    assert answer is not None
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000, help="orders at 32 senders (1 sender gets a tenth)")
    args = parser.parse_args()
    prepare_database()
    print("Order path: SubmitOrder -> bus -> engine -> committed events + projections -> answer")
    single = baseline_single_row_commits(2000)
    many = baseline_executemany(50_000)
    row("baseline: psycopg INSERT+COMMIT, one row each", f"{single:,.0f} rows/s")
    row("baseline: psycopg executemany, one transaction", f"{many:,.0f} rows/s")
    with EngineProcess():
        asyncio.run(drive(8, 2000))  # warm up
        for senders, total in ((1, max(args.orders // 10, 100)), (32, args.orders)):
            rate, latencies = asyncio.run(drive(senders, total))
            row(f"engine, {senders:>2} concurrent sender(s), {total:,} orders", f"{rate:,.0f} orders/s")
            row("", summary_ms(latencies))
            row("", f"{rate / single:.1f}x single-row commits, {rate / many:.2f}x executemany rows")
    drained = drain_backlog(args.orders)
    row(f"engine draining a queued backlog of {args.orders:,}", f"{drained:,.0f} orders/s")
    row("", f"{drained / single:.1f}x single-row commits, {drained / many:.2f}x executemany rows")


if __name__ == "__main__":
    main()
