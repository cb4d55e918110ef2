"""Round trip: a REST order submission to its venue acknowledgement committed in the log.

    REST view -> bus -> engine commit -> log tailer -> connector -> FIX -> simulated venue
      -> FIX ExecutionReport -> connector -> bus -> engine commit (acknowledged)

beside, in the same run, a bare quickfix NewOrderSingle -> ExecutionReport echo between two
processes and one psycopg INSERT+COMMIT. The target: the round trip within 3 x (echo + commit).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import quickfix as fix
from common import BASE_DIR, EngineProcess, prepare_database, row, summary_ms
from django.contrib.auth import get_user_model
from order_path import connect
from rest_framework.test import APIClient

from orders import references, venue_feed
from orders.models import Account, Order
from venues.fix.config import SessionSpec, session_settings, settings_text
from venues.models import Venue

# A venue of its own each run: the orders a run leaves resting would otherwise be resynced by the
# next run's connector (the simulator has forgotten them) while it measures.
VENUE = f"BENCH{int(time.time()) % 100_000}"
VAR = BASE_DIR / "var" / "bench"
ACCOUNT = "BENCH-RT"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(*args: str, log: str) -> subprocess.Popen:
    out = open(BASE_DIR / "var" / log, "a")
    return subprocess.Popen([sys.executable, *args], cwd=BASE_DIR, stdout=out, stderr=out,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


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
    echo = spawn(str(BASE_DIR / "bench" / "fix_echo.py"), str(port), str(VAR / "echo"), log="bench-echo.log")
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
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=30)


def commit_latencies(n: int) -> list[float]:
    latencies = []
    with connect() as conn:
        # A logged table, as the event log is: a temporary one skips the WAL flush a commit waits for.
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id bigint, payload jsonb)")
        conn.commit()
        for i in range(n):
            started = time.perf_counter()
            conn.execute("INSERT INTO bench_commit VALUES (%s, %s)", [i, '{"a": 1}'])
            conn.commit()
            latencies.append(time.perf_counter() - started)
    return latencies


def resting_price() -> Decimal:
    """5% under the engine's reference for AAPL (inside the price band): an order that rests."""
    deadline = time.monotonic() + 60
    while not (reference := _fresh(references.read().get("AAPL", {}))):
        assert time.monotonic() < deadline, "no reference price for AAPL from the venue's market data"
        time.sleep(0.1)
    return (Decimal(reference) * Decimal("0.95")).quantize(Decimal("0.01"))


def _fresh(quote: dict) -> str | None:
    return quote.get("reference") if quote.get("age_s") is not None and quote["age_s"] < 5 else None


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
    args = parser.parse_args()
    prepare_database()
    port = free_port()
    Venue.objects.update_or_create(name=VENUE, defaults={"port": port, "target_comp_id": VENUE, "active": True})
    print("Venue round trip: REST submission -> committed venue acknowledgement, over real FIX on loopback")
    echo = bare_echo(args.orders)
    commit = commit_latencies(args.orders)
    row(f"baseline: bare quickfix D -> 8 echo, 2 processes, {args.orders}", summary_ms(echo))
    row("baseline: psycopg INSERT+COMMIT", summary_ms(commit))
    # With its market makers: the reference price the pre-trade checks need comes from its book.
    venue = spawn("manage.py", "run_venue", "--name", VENUE, "--port", str(port), log="bench-venue.log")
    connector = None
    try:
        wait_port(port)
        with EngineProcess():
            connector = spawn("manage.py", "run_venues", "--venue", VENUE, log="bench-connector.log")
            deadline = time.monotonic() + 60
            while venue_feed.read([VENUE])[VENUE]["state"] != venue_feed.LOGGED_ON:
                assert time.monotonic() < deadline, "the connector did not log on"
                time.sleep(0.1)
            oms_round_trips(50)  # warm up
            oms, answered = oms_round_trips(args.orders)
        row(f"OMS: REST -> venue ack committed, {args.orders} sequential", summary_ms(oms))
        row("  of which the REST answer (pending_new committed)", summary_ms(answered))
        p50 = sorted(oms)[len(oms) // 2]
        budget = 3 * (sorted(echo)[len(echo) // 2] + sorted(commit)[len(commit) // 2])
        row("target: p50 within 3 x (echo + commit) p50", f"{p50 * 1000:.2f} ms vs {budget * 1000:.2f} ms: "
            f"{'met' if p50 <= budget else 'NOT met'} ({p50 / budget * 3:.1f}x echo+commit)")  # fmt: skip
    finally:
        for process in (connector, venue):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        Venue.objects.filter(name__startswith="BENCH").update(active=False)


if __name__ == "__main__":
    main()
