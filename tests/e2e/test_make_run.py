"""The system as `make run` starts it (the launcher: embedded services, migrate, demo data,
honcho with web and engine), driven over real HTTP; then Ctrl-C, and a second start that
resumes with the data of the first."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import psutil
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PROFILE = "e2e"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class System:
    def __init__(self, profile: str = PROFILE) -> None:
        self.profile = profile
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "OMS_SERVICES_PROFILE": profile,
            "OMS_WEB_PORT": str(self.port),
            "OMS_SIMA_PORT": str(free_port()),
            "OMS_SIMB_PORT": str(free_port()),
            "OMS_FIX_PORT": str(free_port()),
            "OMS_BUS_PREFIX": f"oms-{profile}",
            "OMS_ENV": "development",
        }
        self.log = BASE_DIR / "var" / f"{profile}-launcher.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oms_project.launcher"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make run exited early; see {self.log}"
            try:
                status, _ = self.request("GET", "/api/v1/health/")
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.ctrl_c()  # never leave a launcher behind: it would hold the ports and the bus
        raise TimeoutError(f"not healthy in time; see {self.log}")

    def engine_process(self) -> psutil.Process | None:
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                command = " ".join(child.cmdline())
            except psutil.NoSuchProcess:
                continue
            if "run_engine" in command and "respawn" not in command and child.is_running():
                return child
        return None

    def wait_health(self, predicate, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate(*self.request("GET", "/api/v1/health/")):
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        return False

    def ctrl_c(self) -> int:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def request(self, method: str, path: str, body: object = None, token: str | None = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, raw.decode(errors="replace")

    def wait_order(self, order_id: int, token: str, predicate, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status, order = self.request("GET", f"/api/v1/orders/{order_id}/", token=token)
            assert status == 200, order
            if predicate(order):
                return order
            assert time.monotonic() < deadline, f"order {order_id} stuck: {order}"
            time.sleep(0.2)

    def reference(self, symbol: str, token: str, timeout: float = 30) -> Decimal:
        """The engine's reference price of `symbol`, once the venues' market data has given it one."""
        deadline = time.monotonic() + timeout
        while True:
            status, instrument = self.request("GET", f"/api/v1/instruments/{symbol}/", token=token)
            assert status == 200, instrument
            if instrument["reference_price"] is not None:
                return Decimal(instrument["reference_price"])
            assert time.monotonic() < deadline, f"no reference price for {symbol}: {instrument}"
            time.sleep(0.2)

    def token(self, username: str, password: str) -> str:
        status, body = self.request("POST", "/api/v1/auth/token/", {"username": username, "password": password})
        assert status == 200, body
        return body["token"]

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout


def embedded_status() -> str:
    return subprocess.run(
        [sys.executable, "-m", "oms_project.embedded", "status", "--profile", PROFILE],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def check_risk_and_the_kill_switch(system: System, trader: str, order: dict, reference: Decimal) -> None:
    """The issue's "done means": a fat finger refused with its reference, a position limit named with
    its usage, and the risk user's firm kill switch canceling every live order at both venues."""
    base = order["cl_ord_id"]
    fat = {
        **order,
        "cl_ord_id": f"{base}-FAT",
        "limit_price": str((reference * Decimal("1.5")).quantize(Decimal("0.01"))),
    }
    status, refused = system.request("POST", "/api/v1/orders/", fat, trader)
    assert status == 201 and (refused["status"], refused["reject_reason"]) == ("rejected", "price_band"), refused
    assert "reference" in refused["reject_text"], refused

    # Two orders that fit the position limit (20,000 AAPL for DESK-EQ, pending counted), then one past it.
    # The usage the engine checks against is on the API: an earlier run's orders may still count.
    status, usage = system.request("GET", "/api/v1/risk/usage/?account=DESK-EQ", token=trader)
    assert status == 200, usage
    aapl = next((s for s in usage[0]["symbols"] if s["symbol"] == "AAPL"), None)
    headroom = Decimal(aapl["position_headroom_buy"]) if aapl else Decimal(20000)
    size = str(min(Decimal(9000), headroom // 2))
    live = []
    for n, venue in enumerate(("SIMA", "SIMB")):
        body = {**order, "cl_ord_id": f"{base}-L{n}", "quantity": size, "venue": venue}
        status, placed = system.request("POST", "/api/v1/orders/", body, trader)
        assert status == 201 and placed["status"] == "pending_new", placed
        live.append(system.wait_order(placed["id"], trader, lambda o: o["status"] == "new"))
    status, past = system.request("POST", "/api/v1/orders/", {**order, "cl_ord_id": f"{base}-PL", "quantity": size},
                                  trader)  # fmt: skip
    assert status == 201 and past["reject_reason"] == "position_limit", past
    assert "20000" in past["reject_text"] and "pending" in past["reject_text"], past

    risk = system.token("risk", "risk")
    status, _ = system.request("POST", "/api/v1/kill-switch/engage/", {"scope": "firm", "reason": "e2e"}, trader)
    assert status == 403  # a trader engages only for an account of theirs
    status, engaged = system.request("POST", "/api/v1/kill-switch/engage/", {"scope": "firm", "reason": "e2e"}, risk)
    assert status == 201, engaged
    try:
        for placed in live:
            system.wait_order(placed["id"], trader, lambda o: o["status"] == "canceled", timeout=10)
        status, halted = system.request("POST", "/api/v1/orders/", {**order, "cl_ord_id": f"{base}-KS"}, trader)
        assert status == 201 and halted["reject_reason"] == "kill_switch", halted
        status, health = system.request("GET", "/api/v1/health/")
        assert any("kill switch" in w for w in health["warnings"]), health
    finally:
        status, released = system.request("POST", "/api/v1/kill-switch/release/", {"scope": "firm", "reason": "e2e"},
                                          risk)  # fmt: skip
        assert status == 200, released
    status, again = system.request("POST", "/api/v1/orders/", {**order, "cl_ord_id": f"{base}-AGAIN"}, trader)
    assert status == 201 and again["status"] == "pending_new", again
    system.request("POST", f"/api/v1/orders/{again['id']}/cancel/", {}, trader)


def check_a_client_trades_over_fix(system: System, state_dir: Path) -> None:
    """The demo client session CLIENT1 logs on to the gateway and a market order of its fills at
    the simulated venues, reported PendingNew first and Filled last."""
    sys.path.insert(0, str(BASE_DIR / "tests" / "integration"))
    from fixclient import FixClient

    client = FixClient("CLIENT1", "OMS", int(system.env["OMS_FIX_PORT"]), state_dir)
    client.start(timeout=60)
    try:
        cl_ord_id = f"E2E-FIX-{uuid.uuid4().hex[:8]}"
        client.send("D", {11: cl_ord_id, 55: "MSFT", 54: "1", 38: "10", 40: "1", 59: "0"})  # no 1: the default
        seen = client.receive_until(
            lambda m: m.get(35) == "8" and m.get(11) == cl_ord_id and m.get(39) in ("2", "4", "8", "C"), timeout=30
        )
        reports = [m for m in seen if m.get(11) == cl_ord_id]
        assert reports[0][150] == "A" and reports[-1][39] == "2" and reports[-1][1] == "CLIENT-1", reports
    finally:
        client.stop()


def test_make_run_serves_the_rest_flow_and_resumes_after_ctrl_c(tmp_path):
    system = System()
    system.start()
    try:
        trader = system.token("trader", "trader")
        cl_ord_id = f"E2E-{uuid.uuid4().hex[:10]}"
        reference = system.reference("AAPL", trader)
        resting = str((reference * Decimal("0.95")).quantize(Decimal("0.01")))  # in the band, under the market
        order = {
            "account": "DESK-EQ",
            "cl_ord_id": cl_ord_id,
            "symbol": "AAPL",
            "side": "buy",
            "quantity": "100",
            "order_type": "limit",
            "limit_price": resting,  # under the market: it rests at the venue
            "time_in_force": "day",
        }
        status, created = system.request("POST", "/api/v1/orders/", order, trader)
        assert status == 201 and created["status"] == "pending_new"
        status, again = system.request("POST", "/api/v1/orders/", order, trader)
        assert status == 200 and again["id"] == created["id"]
        status, listed = system.request("GET", f"/api/v1/orders/?cl_ord_id={cl_ord_id}", token=trader)
        assert status == 200 and [o["id"] for o in listed["results"]] == [created["id"]]

        status, bad = system.request("POST", "/api/v1/orders/", {**order, "quantity": "-1"}, trader)
        assert status == 400 and "quantity" in bad
        status, bad = system.request("POST", "/api/v1/orders/", {**order, "symbol": "ZZZZ"}, trader)
        assert status == 400 and "symbol" in bad

        assert system.wait_order(created["id"], trader, lambda o: o["status"] == "new")["venue"] == "SIMA"
        other = {**order, "cl_ord_id": f"{cl_ord_id}-R"}
        status, second = system.request("POST", "/api/v1/orders/", other, trader)
        system.wait_order(second["id"], trader, lambda o: o["status"] == "new")
        status, replaced = system.request(
            "POST", f"/api/v1/orders/{second['id']}/replace/", {"quantity": "150"}, trader
        )
        assert status == 202 and replaced["status"] == "pending_replace"
        system.wait_order(second["id"], trader, lambda o: o["status"] == "new" and o["quantity"] == "150")
        status, canceled = system.request("POST", f"/api/v1/orders/{created['id']}/cancel/", {}, trader)
        assert status == 202 and canceled["status"] == "pending_cancel"
        system.wait_order(created["id"], trader, lambda o: o["status"] == "canceled")
        status, events = system.request("GET", f"/api/v1/orders/{created['id']}/events/", token=trader)
        assert [e["event_type"] for e in events] == [
            "OrderAccepted", "OrderAcknowledged", "OrderCancelRequested", "OrderCanceled",
        ]  # fmt: skip

        # a market order fills against the simulated market makers, and the position shows it
        status, before = system.request("GET", "/api/v1/positions/?account=DESK-ARB&symbol=MSFT", token=trader)
        held = Decimal(before["results"][0]["quantity"]) if before["results"] else Decimal(0)
        market = {**order, "account": "DESK-ARB", "symbol": "MSFT", "cl_ord_id": f"{cl_ord_id}-M",
                  "order_type": "market", "limit_price": None, "quantity": "10", "venue": "SIMB"}  # fmt: skip
        status, bought = system.request("POST", "/api/v1/orders/", market, trader)
        assert status == 201, bought
        filled = system.wait_order(bought["id"], trader, lambda o: o["status"] in ("filled", "expired"))
        assert filled["status"] == "filled" and Decimal(filled["avg_px"]) > 0
        status, after = system.request("GET", "/api/v1/positions/?account=DESK-ARB&symbol=MSFT", token=trader)
        assert Decimal(after["results"][0]["quantity"]) == held + 10

        check_a_client_trades_over_fix(system, tmp_path)

        # a parent bigger than either venue shows is split across both, and rolls up their fills
        big = {**market, "cl_ord_id": f"{cl_ord_id}-P", "quantity": "5000", "routing": {"strategy": "split"}}
        del big["venue"]
        status, parent = system.request("POST", "/api/v1/orders/", big, trader)
        assert status == 201 and parent["strategy"] == "split", parent
        status, children = system.request("GET", f"/api/v1/orders/?parent={parent['id']}", token=trader)
        assert {c["venue"] for c in children["results"]} == {"SIMA", "SIMB"}, children
        done = system.wait_order(parent["id"], trader, lambda o: o["leaves_qty"] == "0")
        status, children = system.request("GET", f"/api/v1/orders/?parent={parent['id']}", token=trader)
        assert Decimal(done["cum_qty"]) == sum(Decimal(c["cum_qty"]) for c in children["results"]) > 0

        check_risk_and_the_kill_switch(system, trader, order, reference)

        system.manage(
            "shell",
            "-c",
            (
                "from django.contrib.auth.models import User; from orders.models import Account;"
                "u, _ = User.objects.get_or_create(username='e2e-outsider'); u.set_password('e2e-outsider'); u.save();"
                "a, _ = Account.objects.get_or_create(code='E2E-OUT', defaults={'name': 'elsewhere'}); a.users.add(u)"
            ),
        )
        outsider = system.token("e2e-outsider", "e2e-outsider")
        status, _ = system.request("GET", f"/api/v1/orders/{created['id']}/", token=outsider)
        assert status == 404
        status, schema = system.request("GET", "/api/v1/schema/?format=json")
        assert status == 200 and "/api/v1/orders/" in schema["paths"]
        assert "projections match the log" in system.manage("rebuild_projections", "--verify")

        # kill -9 the engine: the web stays up and says so, and the engine comes back by itself
        engine = system.engine_process()
        engine.kill()
        engine.wait(10)
        deadline = time.monotonic() + 60
        while (revived := system.engine_process()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert revived is not None and revived.pid != engine.pid, "the engine was not restarted"
        assert system.wait_health(lambda status, body: status == 200)
        status, after = system.request("POST", "/api/v1/orders/", {**order, "cl_ord_id": f"{cl_ord_id}-K"}, trader)
        assert status == 201, after

        # a second `make run` on the same data refuses to start and leaves the first alone
        second = subprocess.run([sys.executable, "-m", "oms_project.launcher"], cwd=BASE_DIR,
                                env={**system.env, "OMS_WEB_PORT": str(free_port())}, capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        assert second.returncode != 0 and "already running" in second.stderr
        assert system.request("GET", "/api/v1/health/")[0] == 200
    finally:
        code = system.ctrl_c()
    assert code == 0, f"launcher exit code {code}"
    assert "postgresql: down" in embedded_status() and "valkey:     down" in embedded_status()

    system.start()  # a second `make run` resumes with the data it had
    try:
        trader = system.token("trader", "trader")
        status, shown = system.request("GET", f"/api/v1/orders/{created['id']}/", token=trader)
        assert status == 200 and shown["status"] == "canceled" and shown["cl_ord_id"] == cl_ord_id
    finally:
        system.ctrl_c()
