"""The venue side of the OMS, as `make run` starts it, for the tests: simulated exchanges
(`run_venue`) and the venue connector (`run_venues`) as processes, over real FIX on loopback,
against the test database and bus, with a counterparty FIX client on each exchange."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from conftest import BASE_DIR, engine_database_url
from fixclient import FixClient

from orders import references, venue_feed
from orders.models import Order

LOG_DIR = BASE_DIR / "var" / "test"
COUNTERPARTY = "CPTY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(name: str, *args: str) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
    log = open(LOG_DIR / f"{name}.log", "a")
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, stdout=log, stderr=log)


def _wait_listening(port: int, process: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert process.poll() is None, f"{what} exited; see {LOG_DIR}"
            assert time.monotonic() < deadline, f"{what} did not listen on {port}"
            time.sleep(0.1)


class Simulator:
    """One simulated exchange, restartable on the same port. It keeps its day across restarts
    (venues/simulator/persistence.py) but not across test runs: its first start is --fresh."""

    def __init__(self, name: str, *extra: str) -> None:
        self.name = name
        self.port = free_port()
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.started = False

    def start(self, *, fresh: bool = False) -> None:
        """Start it; `fresh`: as a venue that lost its day (empty books), as its first start is."""
        once = ("--fresh",) if fresh or not self.started else ()
        self.process = _spawn(
            f"sim-{self.name}", "run_venue", "--name", self.name, "--port", str(self.port),
            "--clients", f"OMS,{COUNTERPARTY}", *self.extra, *once,
        )  # fmt: skip
        self.started = True
        _wait_listening(self.port, self.process, f"run_venue {self.name}")

    def kill(self) -> None:
        """kill -9: nothing is finished, nothing is said."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None


class Connector:
    def __init__(self, venues: list[str], resync_seconds: float = 3) -> None:
        self.venues = venues
        self.resync_seconds = resync_seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = [a for v in self.venues for a in ("--venue", v)]
        self.process = _spawn("connector", "run_venues", *args, "--resync-seconds", str(self.resync_seconds))

    def kill(self) -> None:
        """kill -9: nothing is finished, nothing is said."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def wait_logged_on(self, *names: str, timeout: float = 30) -> None:
        names = names or tuple(self.venues)
        deadline = time.monotonic() + timeout
        while True:
            states = venue_feed.read(list(names))
            if all(s["state"] == venue_feed.LOGGED_ON for s in states.values()):
                return
            assert self.process is not None and self.process.poll() is None, f"run_venues exited; see {LOG_DIR}"
            assert time.monotonic() < deadline, f"not logged on: {states}"
            time.sleep(0.1)


def committed(sql: str, *params) -> None:
    """Run SQL on a connection of its own and commit it: a test's own writes are in a
    transaction the other processes never see."""
    import psycopg

    with psycopg.connect(engine_database_url(), autocommit=True) as conn:
        conn.execute(sql, params)


def manage(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A management command against the test database and bus, as an operator runs it."""
    env = {**os.environ, "DATABASE_URL": engine_database_url(), **(env or {})}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def inject(venue: str, session: str = "OMS", **knobs) -> None:
    """Switch a simulated venue's faults for one FIX session (venues/simulator/faults.py), and
    wait until the venue has them in force. No knobs: no faults."""
    import json
    import uuid

    from orders import bus

    key = bus.key(f"venue:{venue}:faults:{session}")
    fault_id = uuid.uuid4().hex[:8] if knobs else ""
    client = bus.client()
    if knobs:
        client.set(key, json.dumps({"id": fault_id, **knobs}))
    else:
        client.delete(key)
    deadline = time.monotonic() + 10
    while client.get(f"{key}:loaded") != fault_id:
        assert time.monotonic() < deadline, f"venue {venue} did not take up faults {knobs}"
        time.sleep(0.05)


def counterparty(simulator: Simulator, state_dir: Path) -> FixClient:
    client = FixClient(COUNTERPARTY, simulator.name, simulator.port, state_dir)
    client.start()
    return client


def wait_order(order_id: int, predicate, timeout: float = 20) -> Order:
    """The order's projection once `predicate(order)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        order = Order.objects.get(id=order_id)
        if predicate(order):
            return order
        assert time.monotonic() < deadline, (
            f"order {order_id} is {order.status} cum {order.cum_qty} pending {order.pending_kind or '-'}"
        )
        time.sleep(0.05)


def status_is(*statuses: str):
    return lambda order: order.status in statuses


def cum_is(quantity: str):
    return lambda order: order.cum_qty == Decimal(quantity)


def reference_prices(symbols: list[str], timeout: float = 20) -> dict[str, Decimal]:
    """The engine's reference price of each symbol, once the venues' market data has given it one."""
    deadline = time.monotonic() + timeout
    while True:
        published = references.read()
        found = {s: published[s]["reference"] for s in symbols if published.get(s, {}).get("reference")}
        if len(found) == len(symbols):
            return {s: Decimal(p) for s, p in found.items()}
        assert time.monotonic() < deadline, f"no reference price for {set(symbols) - set(found)}"
        time.sleep(0.2)
