"""The simulated venue over real FIX 4.4 on loopback: run_venue as a process, quickfix on both ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from conftest import BASE_DIR, engine_database_url
from fixclient import FixClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_venue(tmp_path_factory, name: str, *extra: str):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
    log = open(BASE_DIR / "var" / "test" / "venue.log", "a")
    venue = subprocess.Popen(
        [sys.executable, "manage.py", "run_venue", "--name", name, "--port", str(port), "--clients", "TEST",
         *extra],
        cwd=BASE_DIR, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    client = FixClient("TEST", name, port, tmp_path_factory.mktemp("fix"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert venue.poll() is None, "run_venue exited; see var/test/venue.log"
                assert time.monotonic() < deadline, "run_venue did not listen"
                time.sleep(0.1)
        client.start()
        yield client
    finally:
        client.stop()
        venue.terminate()
        venue.wait(timeout=30)


@pytest.fixture(scope="module")
def venue_client(db_ready, tmp_path_factory):
    """A venue with an empty book: every trade is between this test's own orders."""
    yield from start_venue(tmp_path_factory, "XSIM", "--no-liquidity")


@pytest.fixture(scope="module")
def liquid_venue_client(db_ready, tmp_path_factory):
    yield from start_venue(tmp_path_factory, "XLIQ", "--step-ms", "100", "--seed", "3")


def test_a_marketable_order_fills_against_the_built_in_market_maker(liquid_venue_client):
    time.sleep(0.5)  # let the makers quote
    cl = new_id("MKT")
    liquid_venue_client.send("D", order(cl, "1", "5", None, tif="3"))  # market IOC buy 5
    seen = liquid_venue_client.receive_until(lambda m: m.get(11) == cl and m.get(39) in ("2", "C", "4"))
    fills = [m for m in seen if m.get(11) == cl and m.get(150) == "F"]
    assert sum(int(m[32]) for m in fills) == 5
    assert 150 < float(fills[0][31]) < 250  # around the AAPL opening price


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def order(cl_ord_id: str, side: str, qty: str, price: str | None, tif: str = "0") -> dict[int, str]:
    fields = {11: cl_ord_id, 55: "AAPL", 54: side, 38: qty, 40: "2" if price else "1", 59: tif}
    if price:
        fields[44] = price
    return fields


def test_a_resting_order_is_acknowledged_new(venue_client):
    cl = new_id("A")
    venue_client.send("D", order(cl, "1", "100", "150.00"))
    ack = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (ack[35], ack[150], ack[39], ack[151]) == ("8", "0", "0", "100")


def test_a_cross_fills_both_orders_and_the_rest_cancels(venue_client):
    buy, sell, cancel = new_id("B"), new_id("S"), new_id("C")
    venue_client.send("D", order(buy, "1", "100", "151.00"))
    venue_client.receive_until(lambda m: m.get(11) == buy)
    venue_client.send("D", order(sell, "2", "40", "151.00"))
    seen = venue_client.receive_until(lambda m: m.get(11) == buy and m.get(150) == "F")
    trade = seen[-1]
    assert (trade[32], trade[31], trade[14], trade[151], trade[39]) == ("40", "151", "40", "60", "1")
    venue_client.send("F", {11: cancel, 41: buy, 55: "AAPL", 54: "1", 38: "100"})
    canceled = venue_client.receive_until(lambda m: m.get(11) == cancel)[-1]
    assert (canceled[150], canceled[39], canceled[41]) == ("4", "4", buy)


def test_a_repeated_cl_ord_id_is_rejected_as_duplicate(venue_client):
    cl = new_id("D")
    venue_client.send("D", order(cl, "1", "10", "140.00"))
    venue_client.receive_until(lambda m: m.get(11) == cl)
    venue_client.send("D", order(cl, "1", "10", "140.00"))
    again = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (again[150], again[39], again[103]) == ("8", "8", "6")


def test_cancel_of_an_unknown_order_gets_a_cancel_reject(venue_client):
    cl = new_id("X")
    venue_client.send("F", {11: cl, 41: "never-sent", 55: "AAPL", 54: "1", 38: "1"})
    reject = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (reject[35], reject[102], reject[434]) == ("9", "1", "1")


def test_status_request_answers_order_status(venue_client):
    cl = new_id("H")
    venue_client.send("D", order(cl, "1", "5", "141.00"))
    venue_client.receive_until(lambda m: m.get(11) == cl)
    venue_client.send("H", {11: cl, 55: "AAPL", 54: "1"})
    status = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (status[150], status[39], status[151]) == ("I", "0", "5")


def test_a_malformed_order_gets_a_session_reject_and_the_venue_goes_on(venue_client):
    cl = new_id("M")
    venue_client.send("D", {11: cl, 55: "AAPL", 54: "1", 40: "2", 44: "150.00"})  # no 38 OrderQty
    reject = venue_client.receive_until(lambda m: m.get(35) in ("3", "8") and m.get(11, cl) == cl)[-1]
    assert reject[35] in ("3", "8")
    ok = new_id("OK")
    venue_client.send("D", order(ok, "1", "1", "150.00"))
    assert venue_client.receive_until(lambda m: m.get(11) == ok)[-1][150] == "0"
