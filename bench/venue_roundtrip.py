"""Round trip: a REST order submission to its venue acknowledgement committed in the log.

    REST view -> bus -> engine commit -> log tailer -> connector -> FIX -> simulated venue
      -> FIX ExecutionReport -> connector -> bus -> engine commit (acknowledged)

beside, in the same run, a bare quickfix NewOrderSingle -> ExecutionReport echo between two
processes and one psycopg INSERT+COMMIT. The target: the round trip within 3 x (echo + commit).

    make bench            (or: python bench/venue_roundtrip.py [--orders N] [--quick])
"""

from __future__ import annotations

import argparse
import queue
import time
import uuid
from decimal import Decimal

import quickfix as fix
from common import (
    VAR,
    EngineProcess,
    Venues,
    free_port,
    parse_args,
    prepare_database,
    raw_connection,
    resting_price,
    row,
    run_name,
    spawn,
    stop,
    summary_ms,
    wait_port,
)
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from orders.models import Account, Order
from venues.fix.config import SessionSpec, session_settings, settings_text

VENUE = run_name("BENCH")
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


def oms_round_trips(n: int) -> tuple[list[float], list[float]]:
    """(round trips, of which the REST answer: the order committed as pending_new). The bench's own
    account has no limits, and the prices step by a tick: the orders pass the checks by running
    every one of them, not by a duplicate-order or position limit stopping them."""
    trader = get_user_model().objects.get(username="trader")
    Account.objects.get_or_create(code=ACCOUNT, defaults={"name": "venue round trip bench"})[0].users.add(trader)
    client = APIClient()
    client.force_authenticate(trader)
    price = resting_price()
    latencies, answered = [], []
    for i in range(n):
        body = {"account": ACCOUNT, "cl_ord_id": f"RT-{uuid.uuid4().hex[:12]}", "symbol": "AAPL", "side": "buy",
                "quantity": "100", "order_type": "limit", "limit_price": str(price - Decimal(i % 100) / 100),
                "venue": VENUE}  # fmt: skip
        started = time.perf_counter()
        response = client.post("/api/v1/orders/", body, format="json")
        answered.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content
        order_id = response.json()["id"]
        while not Order.objects.filter(id=order_id, acknowledged=True).exists():
            # A rejected order is never acknowledged: fail rather than wait for ever.
            rejected = Order.objects.filter(id=order_id, status="rejected").values_list("text", flat=True).first()
            assert rejected is None, f"order rejected: {rejected}"
            time.sleep(0.0002)
        latencies.append(time.perf_counter() - started)
    return latencies, answered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--warm-up", type=int, default=50, help="orders first, not measured")
    args = parse_args(parser, orders=50, warm_up=10)
    prepare_database()
    print("Venue round trip: REST submission -> committed venue acknowledgement, over real FIX on loopback")
    echo = bare_echo(args.orders)
    commit = commit_latencies(args.orders)
    row(f"baseline: bare quickfix D -> 8 echo, 2 processes, {args.orders}", summary_ms(echo))
    row("baseline: psycopg INSERT+COMMIT", summary_ms(commit))
    # With its market makers: the reference price the pre-trade checks need comes from its book.
    with Venues({VENUE: ()}, log="bench") as venues, EngineProcess():
        venues.connect()
        oms_round_trips(args.warm_up)
        oms, answered = oms_round_trips(args.orders)
    row(f"OMS: REST -> venue ack committed, {args.orders} sequential", summary_ms(oms))
    row("  of which the REST answer (pending_new committed)", summary_ms(answered))
    p50 = sorted(oms)[len(oms) // 2]
    budget = 3 * (sorted(echo)[len(echo) // 2] + sorted(commit)[len(commit) // 2])
    row("target: p50 within 3 x (echo + commit) p50", f"{p50 * 1000:.2f} ms vs {budget * 1000:.2f} ms: "
        f"{'met' if p50 <= budget else 'NOT met'} ({p50 / budget * 3:.1f}x echo+commit)")  # fmt: skip


if __name__ == "__main__":
    main()
