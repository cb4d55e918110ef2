"""The client FIX gateway: NewOrderSingle -> first ExecutionReport, and orders/s with 1 and 10 sessions.

    client (quickfix) -> front door -> the session's acceptor -> inbound -> bus -> engine commit
      -> the session's log tailer (outbound) -> 35=8 PendingNew -> front door -> client

The first report is the PendingNew the outbound tailer sends once the engine's OrderAccepted is
committed, so the latency includes the commit; the New (150=0) follows when the venue's
acknowledgement is committed. Orders go to a simulated venue through the connector (the honest
path: without it the engine rejects them `venue_unavailable`, which would also be a report).

Beside it, in the same run: a bare quickfix D -> 8 echo between two processes and one psycopg
INSERT+COMMIT (venue_roundtrip.py's). Goals: the p50 within 3 x (echo + commit); at least 2,000
orders/s with 10 sessions sending at once.

The latency is measured one order at a time down three routes in turn, so that all three see the
same engine, database and machine moments: a session through the front door; a session connected
straight to its own acceptor's loopback port (the front door's cost is the difference); and the
engine alone, a SubmitOrder put on the bus until the engine's answer (the gateway's own part is
the difference). Each order waits for its New before the next goes.

The machine is shared (two cores for the clients, the gateway, the engine, the connector, the
venue, PostgreSQL and Valkey); the bench prints how busy it was and how much of that was this
stack, and the CPU each part spent per order in the 10-session burst.

    make bench            (or: python bench/fix_gateway.py [--orders N] [--burst N] [--quick])
"""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import quickfix as fix
from common import (
    VAR,
    CpuMeter,
    EngineProcess,
    Venues,
    free_port,
    median,
    parse_args,
    prepare_database,
    report_machine,
    resting_price,
    row,
    run_name,
    spawn,
    stop,
    summary_ms,
    wait_port,
)
from django.conf import settings
from venue_roundtrip import bare_echo, commit_latencies

from gateway.models import ClientSession
from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, TimeInForce
from orders.models import Account, Order
from venues.fix.config import SessionSpec, session_settings, settings_text
from venues.fix.messages import new_message

VENUE = run_name("BENCHGW")
ACCOUNT = "BENCH-GW"  # no limits: the orders pass the checks by running every one of them
SESSIONS = [f"BENCH{i:02d}" for i in range(1, 11)]  # through the front door
DIRECT = "BENCHDIRECT"  # straight to its acceptor's port
GATEWAY_STATE = VAR / "gateway"
ACCEPT_PORT = re.compile(r"^SocketAcceptPort=(\d+)$", re.M)


class Clients(fix.Application):
    """The bench's client sessions: when each order's first report and its New (150=0) came back."""

    def __init__(self) -> None:
        super().__init__()
        self.session_ids: dict[str, fix.SessionID] = {}
        self.logged_on: set[str] = set()
        self.first: dict[str, float] = {}
        self.new: dict[str, float] = {}
        self.rejected: dict[str, str] = {}
        self.changed = threading.Condition()

    def onCreate(self, session_id):
        self.session_ids[session_id.getSenderCompID().getValue()] = session_id

    def onLogon(self, session_id):
        with self.changed:
            self.logged_on.add(session_id.getSenderCompID().getValue())
            self.changed.notify_all()

    def onLogout(self, session_id):
        self.logged_on.discard(session_id.getSenderCompID().getValue())

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        pass

    def toApp(self, message, session_id):
        pass

    def fromApp(self, message, session_id):
        at = time.perf_counter()
        if message.getHeader().getField(35) != "8":
            return
        cl_ord_id, exec_type = message.getField(11), message.getField(150)
        with self.changed:
            self.first.setdefault(cl_ord_id, at)
            if exec_type == "0":
                self.new[cl_ord_id] = at
            elif exec_type == "8":
                self.rejected[cl_ord_id] = message.getField(58) if message.isSetField(58) else "?"
            self.changed.notify_all()

    def wait(self, seen: dict[str, float], cl_ord_ids: list[str], timeout: float = 120) -> None:
        """Until every one of `cl_ord_ids` is in `seen` (first, or new: a rejected order never is)."""
        waiting = 0  # cl_ord_ids[:waiting] are in: each report costs a look, not a pass over them all

        def arrived() -> bool:
            nonlocal waiting
            while waiting < len(cl_ord_ids) and (cl_ord_ids[waiting] in seen or cl_ord_ids[waiting] in self.rejected):
                waiting += 1
            return waiting == len(cl_ord_ids)

        with self.changed:
            done = self.changed.wait_for(arrived, timeout)
        assert done, f"{len(cl_ord_ids) - waiting} reports not in"


class Orders:
    """Resting buys, each different (a tick or a lot apart), so the duplicate-order check runs and passes."""

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.count = 0
        self._lock = threading.Lock()

    def next(self) -> fix.Message:
        """The next order as a NewOrderSingle (35=D)."""
        cl_ord_id, quantity, price = self._next()
        message = new_message("D")
        fields = ((11, cl_ord_id), (1, ACCOUNT), (55, "AAPL"), (54, "1"), (38, str(quantity)), (40, "2"),
                  (44, str(price)), (59, "0"), (100, VENUE))  # fmt: skip
        for tag, value in fields:
            message.setField(tag, value)
        message.setField(fix.TransactTime())
        return message

    def command(self) -> cmd.SubmitOrder:
        """The next order as the engine's command, as the gateway would make it."""
        cl_ord_id, quantity, price = self._next()
        now = time.time_ns()
        return cmd.SubmitOrder(bus.new_command_id(), now, "bench", ACCOUNT, cl_ord_id, "AAPL", Side.BUY,
                               Decimal(quantity), OrderType.LIMIT, TimeInForce.DAY, price,
                               expires_at_ns=now + 5_000_000_000, venue=VENUE)  # fmt: skip

    def _next(self) -> tuple[str, int, Decimal]:
        with self._lock:
            k = self.count = self.count + 1
        return f"GW-{uuid.uuid4().hex[:12]}", 100 + k // 100, self.price - Decimal(k % 100) / 100


def create_sessions() -> None:
    account, _ = Account.objects.get_or_create(code=ACCOUNT, defaults={"name": "FIX gateway bench"})
    for comp_id in [*SESSIONS, DIRECT]:
        session, _ = ClientSession.objects.update_or_create(comp_id=comp_id, defaults={
            "active": True, "default_account": account, "allowed_addresses": "", "cancel_on_disconnect": False,
            "max_messages_per_second": 1_000_000, "description": "bench/fix_gateway.py"})  # fmt: skip
        session.accounts.set([account])
        (GATEWAY_STATE / "sessions" / f"{comp_id}.cfg").unlink(missing_ok=True)


def acceptor_port(comp_id: str, timeout: float = 60) -> int:
    """The loopback port of a session's own acceptor, from the settings the gateway wrote for it."""
    path = GATEWAY_STATE / "sessions" / f"{comp_id}.cfg"
    deadline = time.monotonic() + timeout
    while not path.exists() or not (match := ACCEPT_PORT.search(path.read_text())):
        assert time.monotonic() < deadline, f"the gateway started no acceptor for {comp_id}"
        time.sleep(0.1)
    port = int(match.group(1))
    wait_port(port)
    return port


def start_clients(front_port: int, direct_port: int) -> tuple[Clients, fix.ThreadedSocketInitiator]:
    # 141=Y at each logon: the bench's client keeps no store, the gateway keeps its day's numbers.
    specs = [SessionSpec(comp_id, settings.OMS_FIX_COMPID, reset_on_logon=True) for comp_id in SESSIONS]
    specs.append(SessionSpec(DIRECT, settings.OMS_FIX_COMPID, port=direct_port, reset_on_logon=True))
    text = settings_text(acceptor=False, port=front_port, sessions=specs, state_dir=VAR / "gateway-client",
                         heartbeat_seconds=30)  # fmt: skip
    clients = Clients()
    initiator = fix.ThreadedSocketInitiator(clients, fix.MemoryStoreFactory(),
                                            session_settings(text, VAR / "gateway-client" / "client.cfg"),
                                            fix.ScreenLogFactory(False, False, False))  # fmt: skip
    initiator.start()
    with clients.changed:
        logged_on = clients.changed.wait_for(lambda: len(clients.logged_on) == len(specs), 60)
    assert logged_on, "the clients did not log on"
    return clients, initiator


# One order down a route, waited for to the end: (to its first answer, to its New).
Route = Callable[[], tuple[float, float]]


def through_gateway(clients: Clients, orders: Orders, comp_id: str) -> Route:
    """A NewOrderSingle on a client session, until its first report and its New (150=0)."""

    def one() -> tuple[float, float]:
        message = orders.next()
        cl_ord_id = message.getField(11)
        started = time.perf_counter()
        fix.Session.sendToTarget(message, clients.session_ids[comp_id])
        clients.wait(clients.new, [cl_ord_id], timeout=30)
        assert cl_ord_id not in clients.rejected, f"order rejected: {clients.rejected[cl_ord_id]}"
        return clients.first[cl_ord_id] - started, clients.new[cl_ord_id] - started

    return one


def engine_alone(orders: Orders) -> Route:
    """The engine's part, without the gateway: a SubmitOrder on the bus until the engine's answer
    (sent after its commit), then until the venue's acknowledgement is committed."""

    def one() -> tuple[float, float]:
        started = time.perf_counter()
        answer = bus.send(orders.command(), timeout=10)
        answered = time.perf_counter() - started
        assert answer["outcome"] == "accepted", answer
        while not Order.objects.filter(id=answer["order_id"], acknowledged=True).exists():
            time.sleep(0.001)
        return answered, time.perf_counter() - started

    return one


def one_at_a_time(routes: dict[str, Route], n: int) -> dict[str, tuple[list[float], list[float]]]:
    """n orders down each route, one order at a time and the routes in turn, so that they share
    the machine's quiet and busy moments alike. route -> (to the first answer, to the New)."""
    result: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in routes}
    for _ in range(n):
        for name, route in routes.items():
            first, new = route()
            result[name][0].append(first)
            result[name][1].append(new)
    return result


@dataclass
class Burst:
    orders: int
    first_rate: float  # orders/s until the last order's first report
    new_rate: float  # orders/s until the last order's New (150=0)
    latencies: list[float]  # each order's D -> first report
    rejected: dict[str, str]  # ClOrdID -> why
    cpu: tuple[float, float, dict[str, float]] | None  # CpuMeter.stop(), until the last New


def all_at_once(clients: Clients, orders: Orders, comp_ids: list[str], per_session: int,
                meter: CpuMeter | None = None) -> Burst:  # fmt: skip
    """Each session sends `per_session` orders as fast as it can, all sessions at once."""
    sent: dict[str, float] = {}
    batches = {comp_id: [orders.next() for _ in range(per_session)] for comp_id in comp_ids}
    cl_ord_ids = [m.getField(11) for batch in batches.values() for m in batch]
    go = threading.Barrier(len(comp_ids) + 1)

    def send(comp_id: str) -> None:
        session_id = clients.session_ids[comp_id]
        go.wait()
        for message in batches[comp_id]:
            sent[message.getField(11)] = time.perf_counter()
            fix.Session.sendToTarget(message, session_id)

    threads = [threading.Thread(target=send, args=(c,)) for c in comp_ids]
    for thread in threads:
        thread.start()
    go.wait()
    started = time.perf_counter()
    if meter is not None:
        meter.start()
    clients.wait(clients.first, cl_ord_ids)
    first_done = max(clients.first[c] for c in cl_ord_ids) - started
    clients.wait(clients.new, cl_ord_ids)
    new_done = max(clients.new.get(c, 0.0) for c in cl_ord_ids) - started
    cpu = meter.stop() if meter is not None else None
    for thread in threads:
        thread.join()
    rejected = {c: clients.rejected[c] for c in cl_ord_ids if c in clients.rejected}
    latencies = [clients.first[c] - sent[c] for c in cl_ord_ids]
    return Burst(len(cl_ord_ids), len(cl_ord_ids) / first_done, len(cl_ord_ids) / new_done, latencies, rejected, cpu)


def report_latency(sequential: dict[str, tuple[list[float], list[float]]], echo: list[float], commit: list[float],
                   cpu: tuple[float, float, dict[str, float]]) -> None:  # fmt: skip
    front, direct, engine = sequential["front"], sequential["direct"], sequential["engine"]
    row(f"gateway: D -> first 8 (PendingNew), {len(front[0])} one at a time", summary_ms(front[0]))
    row("  D -> New (150=0: the venue's ack committed)", summary_ms(front[1]))
    row("  D -> first 8, connected straight to its acceptor", summary_ms(direct[0]))
    p50 = median(front[0])
    row("  the front door's cost (p50 through it - straight)", f"{(p50 - median(direct[0])) * 1000:.2f} ms")
    row("engine alone: SubmitOrder on the bus -> answer", summary_ms(engine[0]))
    row("  the gateway's part (p50 D -> first 8 - engine)", f"{(p50 - median(engine[0])) * 1000:.2f} ms")
    report_machine(cpu)
    budget = 3 * (median(echo) + median(commit))
    row("goal: p50 within 3 x (echo + commit) p50", f"{p50 * 1000:.2f} ms vs {budget * 1000:.2f} ms: "
        f"{'met' if p50 <= budget else 'NOT met'} ({p50 / budget * 3:.1f}x echo+commit)")  # fmt: skip


def report_rate(label: str, burst: Burst) -> None:
    row(f"gateway: {label}, {burst.orders} orders sent at once", f"{burst.first_rate:,.0f} orders/s to the first 8, "
        f"{burst.new_rate:,.0f} orders/s to the New")  # fmt: skip
    row("  each order, D -> first 8", summary_ms(burst.latencies))
    if burst.rejected:
        row("  of which rejected", f"{len(burst.rejected)}, e.g. {next(iter(burst.rejected.values()))}")
    if burst.cpu is not None:
        used = burst.cpu[2]
        row("  CPU per order, until the last New", f"{sum(used.values()) / burst.orders * 1000:.2f} ms: " + ", ".join(
            f"{name} {seconds / burst.orders * 1000:.2f}" for name, seconds in used.items()))  # fmt: skip
        report_machine(burst.cpu)


def measure(args: argparse.Namespace, echo: list[float], commit: list[float], gateway_port: int,
            pids: dict[str, int]) -> None:  # fmt: skip
    """The gateway's figures, with its clients logged on for them."""
    clients, initiator = start_clients(gateway_port, acceptor_port(DIRECT))
    try:
        orders = Orders(resting_price())
        meter = CpuMeter(pids)
        routes = {
            "front": through_gateway(clients, orders, SESSIONS[0]),
            "direct": through_gateway(clients, orders, DIRECT),
            "engine": engine_alone(orders),
        }
        one_at_a_time(routes, args.warm_up)
        meter.start()
        sequential = one_at_a_time(routes, args.orders)
        report_latency(sequential, echo, commit, meter.stop())
        all_at_once(clients, orders, SESSIONS, args.warm_up)
        report_rate("1 session", all_at_once(clients, orders, SESSIONS[:1], args.burst))
        ten = all_at_once(clients, orders, SESSIONS, args.burst, meter)
        report_rate("10 sessions", ten)
        row("goal: at least 2,000 orders/s with 10 sessions",
            f"{ten.first_rate:,.0f} orders/s: {'met' if ten.first_rate >= 2000 else 'NOT met'}")  # fmt: skip
    finally:
        initiator.stop(True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500, help="one at a time down each route, for the latency")
    parser.add_argument("--burst", type=int, default=300, help="orders each session sends at once, for orders/s")
    parser.add_argument("--warm-up", type=int, default=30, help="orders down each route, and a burst of each session")
    args = parse_args(parser, orders=30, burst=50, warm_up=10)
    prepare_database()
    create_sessions()
    gateway_port = free_port()
    print("Client FIX gateway: NewOrderSingle -> ExecutionReport, over real FIX on loopback, to a simulated venue")
    echo = bare_echo(args.orders)
    commit = commit_latencies(args.orders)
    row(f"baseline: bare quickfix D -> 8 echo, 2 processes, {args.orders}", summary_ms(echo))
    row("baseline: psycopg INSERT+COMMIT", summary_ms(commit))
    with Venues({VENUE: ()}, log="bench") as venues, EngineProcess() as engine:
        assert engine.process is not None
        gateway = spawn("manage.py", "run_fix_gateway", "--port", str(gateway_port), log="bench-gateway.log")
        try:
            venues.connect()
            wait_port(gateway_port)
            pids = {"client (this bench)": os.getpid(), "gateway": gateway.pid, "engine": engine.process.pid,
                    **venues.pids()}  # fmt: skip
            measure(args, echo, commit, gateway_port, pids)
        finally:
            stop(gateway)  # it logs its sessions out one by one


if __name__ == "__main__":
    main()
