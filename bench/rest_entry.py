"""REST at the edge: order entry, a page of orders and a bare Django endpoint, on the web server
as `make run` starts it, measured side by side in one run.

    POST /api/v1/orders/           32 concurrent clients: orders/s, p50/p99 (goal >= 1,000/s, p99 < 100 ms)
    GET  /api/v1/orders/?limit=50  32 concurrent clients: requests/s (goal >= 1,500/s)
    GET  /api/v1/ping/             the baseline: a bare Django JSON view, no login, no database, served
                                   the same way (both goals: at least half of its rate)

The web runs as the Procfile's `web:` line runs it (oms_project.respawn around oms_project.web:
uvicorn with OMS_WEB_WORKERS processes, one per core by default), beside the engine, a simulated
venue and its connector (common.Venues), so every order is routable and passes the pre-trade
checks by running them: each is an IOC buy a few ticks under the reference, from the bench's own
account (BENCH-REST, no limits) by its own user with a token, no two alike (quantity and price step,
so the duplicate order check passes); the venue expires each at once, so nothing stays live.

The client is aiohttp in this process, 32 keep-alive connections; it shares the two cores with the
server, so the CPU each part used is printed (the client's own too) with how busy the machine was.

    make bench            (or: python bench/rest_entry.py [--seconds N] [--quick])
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

import aiohttp
import psutil
from common import (
    CpuMeter,
    EngineProcess,
    Venues,
    free_port,
    parse_args,
    percentile,
    prepare_database,
    report_machine,
    resting_price,
    row,
    run_name,
    spawn,
    stop,
)
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from orders.domain.values import LIVE_STATUSES
from orders.models import Account, Order

VENUE = run_name("BENCHREST")
ACCOUNT = "BENCH-REST"  # no limits
USER = "bench-rest"
SYMBOL = "AAPL"
CLIENTS = 32
LIVE = sorted(s.value for s in LIVE_STATUSES)


class WebServer:
    """The Procfile's web process on a port of its own, until it answers."""

    LOG = "bench-web.log"

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> WebServer:
        self.process = spawn("-m", "oms_project.respawn", "web", "--", sys.executable, "-m", "oms_project.web",
                             "--port", str(self.port), log=self.LOG)  # fmt: skip
        deadline = time.monotonic() + 120
        while not self._answers():
            assert self.process.poll() is None, f"the web exited; see {self.LOG}"
            assert time.monotonic() < deadline, f"the web did not answer; see {self.LOG}"
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.base}/api/v1/ping/", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def workers(self) -> dict[str, int]:
        """The supervisor's and its workers' pids, for CpuMeter."""
        assert self.process is not None
        found = {}
        for child in psutil.Process(self.process.pid).children(recursive=True):
            command = " ".join(child.cmdline())
            if "spawn_main" in command:
                found[f"web worker {len(found) + 1}"] = child.pid
            elif "oms_project.web" in command:
                found["web supervisor"] = child.pid
        return found

    def __exit__(self, *exc: object) -> None:
        stop(self.process)


class Orders:
    """The run's order bodies: IOC buys from `price` down, no two alike in quantity and price."""

    def __init__(self, price: Decimal) -> None:
        self.tag = os.urandom(4).hex()
        self.count = 0
        self.price = price

    def next(self) -> dict:
        k = self.count = self.count + 1
        return {"account": ACCOUNT, "cl_ord_id": f"RE-{self.tag}-{k}", "symbol": SYMBOL, "side": "buy",
                "quantity": str(1 + k // 100), "order_type": "limit", "time_in_force": "ioc",
                "limit_price": str(self.price - Decimal(k % 100) / 100), "venue": VENUE}  # fmt: skip


class Load:
    """`CLIENTS` clients, each sending one request after another for `seconds`."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Token {token}"}

    async def run(self, seconds: float, request) -> tuple[float, list[float], Counter]:
        """(requests/s, latencies, outcomes) of `request(session)`, which returns an outcome to count."""
        latencies: list[float] = []
        outcomes: Counter = Counter()
        connector = aiohttp.TCPConnector(limit=CLIENTS, force_close=False)
        async with aiohttp.ClientSession(self.base, connector=connector, headers=self.headers) as session:
            deadline = time.perf_counter() + seconds

            async def client() -> None:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    outcome = await request(session)
                    latencies.append(time.perf_counter() - started)
                    outcomes[outcome] += 1

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(CLIENTS)))
            elapsed = time.perf_counter() - started
        return len(latencies) / elapsed, latencies, outcomes


def prepare_user() -> str:
    user, _ = get_user_model().objects.get_or_create(username=USER)
    account, _ = Account.objects.update_or_create(code=ACCOUNT, defaults={"name": "REST bench", "active": True})
    account.users.add(user)
    return Token.objects.get_or_create(user=user)[0].key


def wait_venue_leg(timeout: float = 600) -> None:
    """Until the venue has ended every order of the bench's account (each is IOC)."""
    deadline = time.monotonic() + timeout
    while Order.objects.filter(account_id=ACCOUNT, status__in=LIVE).exists():
        assert time.monotonic() < deadline, "orders still live at the venue"
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15, help="each measurement's length")
    parser.add_argument("--warm-up", type=float, default=3, help="seconds of each load first, not measured")
    args = parse_args(parser, seconds=3, warm_up=1)
    prepare_database()
    token = prepare_user()
    print(f"REST edge: {CLIENTS} concurrent keep-alive clients (aiohttp) against the web as `make run` serves it")
    with Venues({VENUE: ()}, log="bench-rest", connector_args=("--resync-seconds", "3600")) as venues:
        venues.connect()
        with EngineProcess() as engine, WebServer() as web:
            assert engine.process is not None
            orders = Orders(resting_price(SYMBOL))
            load = Load(web.base, token)

            async def ping(session: aiohttp.ClientSession) -> int:
                async with session.get("/api/v1/ping/") as response:
                    await response.read()
                    return response.status

            async def page(session: aiohttp.ClientSession) -> int | str:
                async with session.get(f"/api/v1/orders/?account={ACCOUNT}&limit=50") as response:
                    body = await response.json()
                    return response.status if len(body["results"]) == 50 else f"{len(body['results'])} rows"

            async def submit(session: aiohttp.ClientSession) -> str:
                async with session.post("/api/v1/orders/", json=orders.next()) as response:
                    body = await response.json()
                    if response.status != 201:
                        return f"{response.status} {body}"
                    return body["reject_reason"] or "accepted"

            def measure(name: str, request) -> tuple[float, list[float], Counter, tuple]:
                asyncio.run(load.run(args.warm_up, request))
                meter = CpuMeter({"client (this bench)": os.getpid(), **web.workers(), "engine": engine.process.pid,
                                  **venues.pids()})  # fmt: skip
                meter.start()
                rate, latencies, outcomes = asyncio.run(load.run(args.seconds, request))
                cpu = meter.stop()
                return rate, latencies, outcomes, cpu

            results = {
                "entry": measure("entry", submit),  # first: the page reads the orders it enters
                "page": measure("page", page),
                "bare": measure("bare", ping),
            }
            wait_venue_leg()
    report(results, args.seconds)


def report(results: dict, seconds: float) -> None:
    bare = results["bare"][0]
    labels = {
        "bare": ("GET /api/v1/ping/ (bare Django JSON, no DB)", "requests/s", None),
        "page": ("GET /api/v1/orders/?limit=50 (50-row page)", "requests/s", 1500),
        "entry": ("POST /api/v1/orders/ (order entry)", "orders/s", 1000),
    }
    print(f"\n  {'':<46} {'rate':>12} {'p50':>9} {'p99':>9}  {'of bare':>7}  goal")
    failures = []
    for key in ("bare", "page", "entry"):
        rate, latencies, outcomes, _ = results[key]
        label, unit, goal = labels[key]
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        share = rate / bare
        verdict = ""
        if goal is not None:
            met = rate >= goal and share >= 0.5 and (key != "entry" or p99 < 100)
            verdict = (
                f"{'met' if met else 'NOT met'} (>= {goal:,}/s{', p99 < 100 ms' if key == 'entry' else ''}, >= 50%)"
            )
        print(f"  {label:<46} {rate:>8,.0f} {unit[:-2]:<3} {p50:>6.1f} ms {p99:>6.1f} ms  {share:>6.0%}  {verdict}")
        bad = {k: n for k, n in outcomes.items() if k not in (200, "accepted")}
        if bad:
            failures.append(f"{label}: {dict(list(bad.items())[:5])}")
    print()
    for key in ("bare", "page", "entry"):
        rate, latencies, outcomes, cpu = results[key]
        requests = len(latencies)
        used = cpu[2]
        parts = ", ".join(f"{name} {spent / requests * 1000:.2f}" for name, spent in used.items() if spent)
        name = labels[key][0].split(" (")[0]
        row(f"CPU per request, {name}", f"{sum(used.values()) / requests * 1000:.2f} ms: {parts}")
        report_machine(cpu)
    load = os.getloadavg()
    row(
        "load average (1, 5, 15 min) at the end", f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores"
    )
    if failures:
        sys.exit("requests that did not succeed: " + "; ".join(failures))


if __name__ == "__main__":
    main()
