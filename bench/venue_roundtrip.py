"""Round trip: a REST order submission to its venue acknowledgement committed in the log.

    REST view -> bus -> engine commit -> log tailer -> connector -> FIX -> simulated venue
      -> FIX ExecutionReport -> connector -> bus -> engine commit (acknowledged)

beside, in the same run, a bare quickfix NewOrderSingle -> ExecutionReport echo between two
processes and one psycopg INSERT+COMMIT. The target: the round trip within 3 x (echo + commit).

    make bench            (or: python bench/venue_roundtrip.py [--orders N] [--quick])
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import time
import uuid
import warnings
from decimal import Decimal

import orjson
import psycopg
import quickfix as fix
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from common import (
    VAR,
    CpuMeter,
    EngineProcess,
    Venues,
    free_port,
    parse_args,
    prepare_database,
    raw_connection,
    report_cpu,
    resting_price,
    row,
    run_name,
    spawn,
    stop,
    summary_ms,
    wait_port,
)
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from orders import bus
from orders.models import Account, Order
from venues.fix.config import SessionSpec, session_settings, settings_text

VENUE = run_name("BENCH")
ROUNDS = 5  # turns of the commit baseline and the OMS
ACCOUNT = "BENCH-RT"


class EchoClient(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: queue.Queue[str] = queue.Queue()
        self.session_id = None
        self.logged_on = False

    def onCreate(self, session_id):
        self.session_id = session_id

    def onLogon(self, session_id):
        self.logged_on = True

    def onLogout(self, session_id):
        self.logged_on = False

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        pass

    def toApp(self, message, session_id):
        pass

    def fromApp(self, message, session_id):
        self.inbox.put(message.getField(11))


def bare_echo(n: int) -> list[float]:
    port = free_port()
    echo = spawn("bench/fix_echo.py", str(port), str(VAR / "echo"), log="bench-echo.log")
    try:
        wait_port(port)
        text = settings_text(acceptor=False, port=port, sessions=[SessionSpec("BENCH", "ECHO")],
                             state_dir=VAR / "echo-client")  # fmt: skip
        settings = session_settings(text, VAR / "echo-client" / "client.cfg")
        app = EchoClient()
        quiet_log = fix.ScreenLogFactory(False, False, False)
        initiator = fix.SocketInitiator(app, fix.MemoryStoreFactory(), settings, quiet_log)
        initiator.start()
        while not app.logged_on:
            time.sleep(0.01)
        latencies = []
        for i in range(n):
            message = fix.Message()
            message.getHeader().setField(fix.BeginString("FIX.4.4"))
            message.getHeader().setField(fix.MsgType("D"))
            for tag, value in ((11, f"B{i}"), (55, "AAPL"), (54, "1"), (38, "100"), (40, "2"), (44, "100"), (59, "0")):
                message.setField(tag, value)
            message.setField(fix.TransactTime())
            started = time.perf_counter()
            fix.Session.sendToTarget(message, app.session_id)
            assert app.inbox.get(timeout=10) == f"B{i}"
            latencies.append(time.perf_counter() - started)
        initiator.stop()
        return latencies
    finally:
        stop(echo)


def commit_latencies(n: int) -> list[float]:
    latencies = []
    with raw_connection() as conn:
        # A logged table, as the event log is: a temporary one skips the WAL flush a commit waits for.
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id bigint, payload jsonb)")
        conn.commit()
        for i in range(n):
            started = time.perf_counter()
            conn.execute("INSERT INTO bench_commit VALUES (%s, %s)", [i, '{"a": 1}'])
            conn.commit()
            latencies.append(time.perf_counter() - started)
    return latencies


async def post_order(app, token: str, body: dict) -> tuple[int, dict]:
    """POST /api/v1/orders/ through the web's ASGI application, in this process: the async
    OrderEntryView (orders/views.py) with token authentication, as `make run` serves it but for
    the HTTP parsing and the socket."""
    payload = orjson.dumps(body)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/orders/", "raw_path": b"/api/v1/orders/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()), (b"authorization", f"Token {token}".encode())],
        "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
    }  # fmt: skip
    received = False
    status, chunks = 0, []

    async def receive() -> dict:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # no disconnect while the view works
        received = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, orjson.loads(b"".join(chunks))


async def oms_round_trips(n: int) -> tuple[list[float], list[float]]:
    """(round trips, of which the REST answer: the order committed as pending_new). The bench's own
    account has no limits, and the prices step by a tick: the orders pass the checks by running
    every one of them, not by a duplicate-order or position limit stopping them.

    The venue's acknowledgement is known committed by reading the order's row after each commit
    the engine announces (its PUBLISH of the log position), not by polling the database: a poll
    loop would take a core from the stack it measures on a 2-core machine."""
    with warnings.catch_warnings():  # whitenoise: no collected static files, which no order needs
        warnings.filterwarnings("ignore", message="No directory at")
        from oms_project.asgi import application

    trader = await sync_to_async(get_user_model().objects.get)(username="trader")
    await sync_to_async(_grant)(trader)
    token = (await sync_to_async(Token.objects.get_or_create)(user=trader))[0].key
    price = await sync_to_async(resting_price)()
    redis = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(bus.key("events"))
    db = connection.settings_dict
    reader = await psycopg.AsyncConnection.connect(host=db["HOST"], port=db["PORT"], user=db["USER"],
                                                   dbname=db["NAME"], autocommit=True)  # fmt: skip

    async def acknowledged(order_id: int) -> bool:  # on the loop: no thread hop in what is measured
        cursor = await reader.execute(f"SELECT acknowledged FROM {Order._meta.db_table} WHERE id = %s", [order_id])
        found = await cursor.fetchone()
        return bool(found and found[0])

    latencies, answered = [], []
    try:
        for i in range(n):
            body = {"account": ACCOUNT, "cl_ord_id": f"RT-{uuid.uuid4().hex[:12]}", "symbol": "AAPL",
                    "side": "buy", "quantity": "100", "order_type": "limit",
                    "limit_price": str(price - Decimal(i % 100) / 100), "venue": VENUE}  # fmt: skip
            started = time.perf_counter()
            status, order = await post_order(application, token, body)
            answered.append(time.perf_counter() - started)
            assert status == 201, order
            while not await acknowledged(order["id"]):
                # A rejected order is never acknowledged: fail rather than wait for ever.
                assert order.get("status") != "rejected", f"order rejected: {order.get('text')}"
                await pubsub.get_message(timeout=0.05)  # the next commit (or 50 ms: a lost PUBLISH)
            latencies.append(time.perf_counter() - started)
    finally:
        await pubsub.aclose()
        await redis.aclose()
        await reader.close()
    return latencies, answered


def _grant(trader) -> None:
    Account.objects.get_or_create(code=ACCOUNT, defaults={"name": "venue round trip bench"})[0].users.add(trader)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--warm-up", type=int, default=50, help="orders first, not measured")
    args = parse_args(parser, orders=50, warm_up=10)
    prepare_database()
    print("Venue round trip: REST submission -> committed venue acknowledgement, over real FIX on loopback")
    echo = bare_echo(args.orders)
    commit: list[float] = []
    # With its market makers: the reference price the pre-trade checks need comes from its book.
    with Venues({VENUE: ()}, log="bench") as venues, EngineProcess() as engine:
        venues.connect()
        asyncio.run(oms_round_trips(args.warm_up))
        assert engine.process is not None
        meter = CpuMeter({"bench (web)": os.getpid(), "engine": engine.process.pid, **venues.pids()})
        oms, answered = [], []
        seconds, busy, used = 0.0, 0.0, dict.fromkeys(meter.processes, 0.0)
        # In turns with the commit baseline: on a shared machine the disk's flush time moves by
        # several times within a minute, and the two must see the same moments.
        for turn in range(ROUNDS):
            share = args.orders // ROUNDS + (turn < args.orders % ROUNDS)
            commit += commit_latencies(share)
            meter.start()
            trips, answers = asyncio.run(oms_round_trips(share))
            elapsed, cores, parts = meter.stop()
            seconds, busy = seconds + elapsed, busy + cores * elapsed
            used = {name: used.get(name, 0.0) + cpu for name, cpu in parts.items()}
            oms += trips
            answered += answers
        cpu = (seconds, busy / seconds, used)
    row(f"baseline: bare quickfix D -> 8 echo, 2 processes, {args.orders}", summary_ms(echo))
    row("baseline: psycopg INSERT+COMMIT, in turns with the OMS", summary_ms(commit))
    row(f"OMS: REST -> venue ack committed, {args.orders} sequential", summary_ms(oms))
    row("  of which the REST answer (pending_new committed)", summary_ms(answered))
    report_cpu(args.orders, cpu)
    row("  load average (1, 5, 15 min) at the end", ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    p50 = sorted(oms)[len(oms) // 2]
    budget = 3 * (sorted(echo)[len(echo) // 2] + sorted(commit)[len(commit) // 2])
    row("target: p50 within 3 x (echo + commit) p50", f"{p50 * 1000:.2f} ms vs {budget * 1000:.2f} ms: "
        f"{'met' if p50 <= budget else 'NOT met'} ({p50 / budget * 3:.1f}x echo+commit)")  # fmt: skip


if __name__ == "__main__":
    main()
